// A TEST DOUBLE of Elasticsearch's REST API over node:http: just enough of indexes, mappings, _bulk, _doc and
// _search (exact kNN, filters, sparse_vector, rrf) for the backend and bridge integration tests. Not a search engine.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A dense vector similarity as Elasticsearch's `dense_vector` mapping names it. */
type Similarity = 'cosine' | 'dot_product' | 'l2_norm';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface StoredDoc {
  id: string;
  version: number;
  source: JsonObject;
}

interface DoubleIndex {
  name: string;
  mappings: JsonObject & { properties: JsonObject };
  settings: JsonObject;
  docs: Map<string, StoredDoc>;
}

/** One request as the double saw it (for assertions on what a client or the bridge sent). */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface EsDoubleOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /**
   * Deployed "models" for `query_vector_builder.text_embedding`: model id -> text embedder.
   * The double runs them in-process in place of Elasticsearch's ML nodes.
   */
  models?: Record<string, (text: string) => number[]>;
  /** When set, every request needs this `authorization` header value, else 401 as Elasticsearch answers it. */
  requireAuthorization?: string;
  /** Milliseconds to wait before answering each request (a slow cluster). */
  latencyMs?: number;
  /** Keep the last N requests in `requests` (default 50). */
  recordLast?: number;
}

/** A running test double. */
export interface EsDouble {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  server: Server;
  /** The most recent requests, oldest first. */
  requests: RecordedRequest[];
  /** Source of a stored document, for assertions; undefined when absent. */
  getSource(index: string, id: string): JsonObject | undefined;
  close(): Promise<void>;
}

/** An error answered in Elasticsearch's JSON error shape. */
class EsHttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    reason: string,
    readonly extra: JsonObject = {},
  ) {
    super(reason);
  }
}

const CLUSTER_INFO = {
  name: 'es-test-double',
  cluster_name: 'steer-es-test-double',
  cluster_uuid: 'es-test-double',
  version: {
    number: '8.19.1',
    build_flavor: 'default',
    lucene_version: '9.12.0',
    minimum_wire_compatibility_version: '7.17.0',
    minimum_index_compatibility_version: '7.0.0',
  },
  tagline: 'You Know, for Search (test double)',
};

const SEARCH_KEYS = new Set([
  'query',
  'knn',
  'retriever',
  'size',
  'from',
  '_source',
  'aggs',
  'aggregations',
  'track_total_hits',
  'timeout',
  'min_score',
]);

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parsingError(reason: string): EsHttpError {
  return new EsHttpError(400, 'parsing_exception', reason);
}

function badRequest(reason: string): EsHttpError {
  return new EsHttpError(400, 'illegal_argument_exception', reason);
}

function indexNotFound(index: string): EsHttpError {
  return new EsHttpError(404, 'index_not_found_exception', `no such index [${index}]`, {
    'resource.type': 'index_or_alias',
    'resource.id': index,
    index,
  });
}

/** Values at a dotted path in a source document (objects and dotted keys both), flattened over arrays. */
function valuesAt(source: Json, path: string): Json[] {
  if (isObject(source) && path in source) {
    const direct = source[path]!;
    return Array.isArray(direct) ? direct : [direct];
  }
  const dot = path.indexOf('.');
  if (dot < 0 || !isObject(source)) {
    if (Array.isArray(source)) return source.flatMap((item) => valuesAt(item, path));
    return [];
  }
  const parts = path.split('.');
  for (let i = parts.length - 1; i > 0; i--) {
    const head = parts.slice(0, i).join('.');
    if (head in source) {
      const child = source[head]!;
      const rest = parts.slice(i).join('.');
      return Array.isArray(child) ? child.flatMap((item) => valuesAt(item, rest)) : valuesAt(child, rest);
    }
  }
  return [];
}

/** The value at a dotted path without flattening arrays (a dense vector stays one array). */
function valueAt(source: Json, path: string): Json | undefined {
  if (!isObject(source)) return undefined;
  if (path in source) return source[path];
  const parts = path.split('.');
  for (let i = parts.length - 1; i > 0; i--) {
    const head = parts.slice(0, i).join('.');
    if (head in source) return valueAt(source[head]!, parts.slice(i).join('.'));
  }
  return undefined;
}

/** The mapping of a field given its dotted path, or undefined. */
function fieldMapping(index: DoubleIndex, path: string): JsonObject | undefined {
  let properties: JsonObject = index.mappings.properties;
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    const mapping = properties[parts[i]!];
    if (!isObject(mapping)) return undefined;
    if (i === parts.length - 1) return mapping;
    if (!isObject(mapping.properties)) return undefined;
    properties = mapping.properties;
  }
  return undefined;
}

function dynamicMappingFor(index: DoubleIndex, value: Json): JsonObject | undefined {
  if (typeof value === 'string') {
    const templates = Array.isArray(index.mappings.dynamic_templates) ? index.mappings.dynamic_templates : [];
    for (const template of templates) {
      if (!isObject(template)) continue;
      for (const body of Object.values(template)) {
        if (isObject(body) && body.match_mapping_type === 'string' && isObject(body.mapping))
          return { ...body.mapping };
      }
    }
    return { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } };
  }
  if (typeof value === 'number') return { type: Number.isInteger(value) ? 'long' : 'float' };
  if (typeof value === 'boolean') return { type: 'boolean' };
  if (isObject(value)) return { properties: {} };
  return undefined;
}

function norm(vector: number[]): number {
  let sum = 0;
  for (const v of vector) sum += v * v;
  return Math.sqrt(sum);
}

function dot(a: number[], b: number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

function checkVector(
  field: string,
  vector: Json,
  dims: number | undefined,
  similarity: Similarity,
): number[] {
  if (!Array.isArray(vector) || !vector.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new EsHttpError(
      400,
      'document_parsing_exception',
      `[1:1] failed to parse field [${field}] of type [dense_vector]`,
    );
  }
  const numbers = vector as number[];
  if (dims !== undefined && numbers.length !== dims) {
    throw new EsHttpError(
      400,
      'document_parsing_exception',
      `The [dense_vector] field [${field}] in doc has a different number of dimensions [${numbers.length}] than defined in the mapping [${dims}]`,
    );
  }
  const magnitude = norm(numbers);
  if (similarity === 'cosine' && magnitude === 0) {
    throw new EsHttpError(
      400,
      'document_parsing_exception',
      `The [cosine] similarity does not support vectors with zero magnitude.`,
    );
  }
  if (similarity === 'dot_product' && Math.abs(magnitude * magnitude - 1) > 1e-4) {
    throw new EsHttpError(
      400,
      'document_parsing_exception',
      `The [dot_product] similarity can only be used with unit-length vectors.`,
    );
  }
  return numbers;
}

/** Walks a new document: adds dynamic mappings and validates dense_vector and sparse_vector values. */
function mapDocument(index: DoubleIndex, source: JsonObject): void {
  const walk = (properties: JsonObject, object: JsonObject, prefix: string): void => {
    for (const [key, value] of Object.entries(object)) {
      if (value === null) continue;
      const path = prefix + key;
      let mapping = properties[key];
      if (!isObject(mapping)) {
        if (index.mappings.dynamic === 'strict') {
          throw new EsHttpError(
            400,
            'strict_dynamic_mapping_exception',
            `[1:1] mapping set to strict, dynamic introduction of [${key}] within [_doc] is not allowed`,
          );
        }
        const first = Array.isArray(value) ? value[0] : value;
        if (first === undefined || first === null) continue;
        const created = dynamicMappingFor(index, first);
        if (!created) continue;
        properties[key] = created;
        mapping = created;
      }
      if (mapping.type === 'dense_vector') {
        const similarity = (mapping.similarity as Similarity | undefined) ?? 'cosine';
        const vector = checkVector(path, value, mapping.dims as number | undefined, similarity);
        if (mapping.dims === undefined) mapping.dims = vector.length;
      } else if (mapping.type === 'sparse_vector') {
        if (!isObject(value)) {
          throw new EsHttpError(
            400,
            'document_parsing_exception',
            `[1:1] failed to parse field [${path}] of type [sparse_vector]`,
          );
        }
        for (const [feature, weight] of Object.entries(value)) {
          if (typeof weight !== 'number' || !(weight > 0)) {
            throw new EsHttpError(
              400,
              'document_parsing_exception',
              `[1:1] failed to parse field [${path}] of type [sparse_vector]: [sparse_vector] fields do not support negative or zero values; feature [${feature}] has [${String(weight)}]`,
            );
          }
        }
      } else if (isObject(mapping.properties) && isObject(value)) {
        walk(mapping.properties, value, path + '.');
      }
    }
  };
  walk(index.mappings.properties, source, '');
}

// ---- queries ---------------------------------------------------------------------------------------------------

type Scored = Map<string, number>; // doc id -> score

function equalsTerm(stored: Json, wanted: Json): boolean {
  if (typeof stored === 'number' && typeof wanted === 'string') return String(stored) === wanted;
  if (typeof stored === 'boolean' && typeof wanted === 'string') return String(stored) === wanted;
  return stored === wanted;
}

function singleField(clause: Json, queryName: string): [string, Json] {
  if (!isObject(clause))
    throw parsingError(`[${queryName}] query malformed, no start_object after query name`);
  const entries = Object.entries(clause).filter(([k]) => k !== 'boost' && k !== '_name');
  if (entries.length !== 1)
    throw parsingError(
      `[${queryName}] query doesn't support multiple fields, found [${entries.map(([k]) => k).join(', ')}]`,
    );
  return entries[0]!;
}

/** Runs a query DSL clause over `docs`; returns matching ids with scores (1.0 per matching leaf clause). */
function runQuery(index: DoubleIndex, docs: StoredDoc[], query: Json): Scored {
  if (!isObject(query)) throw parsingError('query malformed, must start with start_object');
  const keys = Object.keys(query);
  if (keys.length !== 1)
    throw parsingError(`[query] expects exactly one query clause, found [${keys.join(', ')}]`);
  const kind = keys[0]!;
  const clause = query[kind]!;
  const out: Scored = new Map();
  const matchEach = (predicate: (doc: StoredDoc) => boolean): Scored => {
    for (const doc of docs) if (predicate(doc)) out.set(doc.id, 1);
    return out;
  };
  switch (kind) {
    case 'match_all':
      return matchEach(() => true);
    case 'match_none':
      return out;
    case 'term': {
      const [field, spec] = singleField(clause, 'term');
      const value = isObject(spec) ? spec.value! : spec;
      return matchEach((doc) => valuesAt(doc.source, field).some((v) => equalsTerm(v, value)));
    }
    case 'terms': {
      const [field, values] = singleField(clause, 'terms');
      if (!Array.isArray(values))
        throw parsingError(`[terms] query does not support [${field}] without an array of values`);
      return matchEach((doc) =>
        valuesAt(doc.source, field).some((v) => values.some((w) => equalsTerm(v, w))),
      );
    }
    case 'range': {
      const [field, bounds] = singleField(clause, 'range');
      if (!isObject(bounds)) throw parsingError(`[range] query malformed for field [${field}]`);
      for (const key of Object.keys(bounds)) {
        if (!['gt', 'gte', 'lt', 'lte', 'format', 'boost'].includes(key))
          throw parsingError(`[range] query does not support [${key}]`);
      }
      const { gt, gte, lt, lte } = bounds as Record<string, number | undefined>;
      return matchEach((doc) =>
        valuesAt(doc.source, field).some((raw) => {
          const v = typeof raw === 'string' ? Number(raw) : raw;
          if (typeof v !== 'number' || Number.isNaN(v)) return false;
          return (
            (gt === undefined || v > gt) &&
            (gte === undefined || v >= gte) &&
            (lt === undefined || v < lt) &&
            (lte === undefined || v <= lte)
          );
        }),
      );
    }
    case 'ids': {
      if (!isObject(clause) || !Array.isArray(clause.values))
        throw parsingError('[ids] query malformed, [values] must be an array');
      const wanted = new Set(clause.values.map(String));
      return matchEach((doc) => wanted.has(doc.id));
    }
    case 'exists': {
      if (!isObject(clause) || typeof clause.field !== 'string')
        throw parsingError('[exists] query malformed, [field] is required');
      const field = clause.field;
      return matchEach((doc) =>
        valuesAt(doc.source, field).some((v) => v !== null && !(isObject(v) && Object.keys(v).length === 0)),
      );
    }
    case 'bool': {
      if (!isObject(clause)) throw parsingError('[bool] query malformed');
      const list = (key: string): Json[] => {
        const value = clause[key];
        return value === undefined ? [] : Array.isArray(value) ? value : [value];
      };
      for (const key of Object.keys(clause)) {
        if (
          !['must', 'filter', 'should', 'must_not', 'minimum_should_match', 'boost', '_name'].includes(key)
        ) {
          throw parsingError(`[bool] query does not support [${key}]`);
        }
      }
      const must = list('must').map((q) => runQuery(index, docs, q));
      const filter = list('filter').map((q) => runQuery(index, docs, q));
      const should = list('should').map((q) => runQuery(index, docs, q));
      const mustNot = list('must_not').map((q) => runQuery(index, docs, q));
      const minimumShouldMatch =
        typeof clause.minimum_should_match === 'number'
          ? clause.minimum_should_match
          : must.length + filter.length === 0 && should.length > 0
            ? 1
            : 0;
      for (const doc of docs) {
        if (!must.every((m) => m.has(doc.id)) || !filter.every((m) => m.has(doc.id))) continue;
        if (mustNot.some((m) => m.has(doc.id))) continue;
        const matchedShould = should.filter((m) => m.has(doc.id));
        if (matchedShould.length < minimumShouldMatch) continue;
        let score = 0;
        for (const m of must) score += m.get(doc.id)!;
        for (const m of matchedShould) score += m.get(doc.id)!;
        out.set(doc.id, must.length + should.length === 0 ? 0 : score);
      }
      return out;
    }
    case 'sparse_vector': {
      if (!isObject(clause) || typeof clause.field !== 'string')
        throw parsingError('[sparse_vector] requires [field]');
      if (!isObject(clause.query_vector)) {
        throw badRequest(
          '[sparse_vector] requires one of [query_vector] or [inference_id]; the test double supports [query_vector] only',
        );
      }
      const mapping = fieldMapping(index, clause.field);
      if (!mapping || mapping.type !== 'sparse_vector') {
        throw badRequest(
          `field [${clause.field}] must be type [sparse_vector] but is type [${String(mapping?.type ?? 'unmapped')}]`,
        );
      }
      const queryVector = clause.query_vector;
      for (const doc of docs) {
        const docVector = valueAt(doc.source, clause.field);
        if (!isObject(docVector)) continue;
        let score = 0;
        let matched = false;
        for (const [feature, weight] of Object.entries(queryVector)) {
          const docWeight = docVector[feature];
          if (typeof docWeight === 'number' && typeof weight === 'number') {
            score += weight * docWeight;
            matched = true;
          }
        }
        if (matched) out.set(doc.id, score);
      }
      return out;
    }
    case 'knn': {
      return runKnn(index, docs, clause, Number.MAX_SAFE_INTEGER);
    }
    default:
      throw parsingError(`unknown query [${kind}]`);
  }
}

function queryVectorOf(knn: JsonObject, models: EsDoubleOptions['models']): number[] {
  if (knn.query_vector !== undefined && knn.query_vector_builder !== undefined) {
    throw badRequest('cannot provide both [query_vector] and [query_vector_builder]');
  }
  if (Array.isArray(knn.query_vector)) {
    if (!knn.query_vector.every((v) => typeof v === 'number'))
      throw parsingError('[knn] query_vector must hold numbers');
    return knn.query_vector as number[];
  }
  const builder = knn.query_vector_builder;
  if (isObject(builder) && isObject(builder.text_embedding)) {
    const { model_id: modelId, model_text: modelText } = builder.text_embedding;
    if (typeof modelId !== 'string' || typeof modelText !== 'string') {
      throw parsingError('[text_embedding] requires [model_id] and [model_text]');
    }
    const model = models?.[modelId];
    if (!model) {
      throw new EsHttpError(404, 'resource_not_found_exception', `Could not find trained model [${modelId}]`);
    }
    return model(modelText);
  }
  throw badRequest('either [query_vector] or [query_vector_builder] must be provided');
}

function similarityScore(
  similarity: Similarity,
  query: number[],
  vector: number[],
): { score: number; raw: number } {
  if (similarity === 'cosine') {
    const cos = dot(query, vector) / (norm(query) * norm(vector));
    return { score: (1 + cos) / 2, raw: cos };
  }
  if (similarity === 'dot_product') {
    const d = dot(query, vector);
    return { score: (1 + d) / 2, raw: d };
  }
  let sum = 0;
  for (let i = 0; i < query.length; i++) sum += (query[i]! - vector[i]!) ** 2;
  return { score: 1 / (1 + sum), raw: Math.sqrt(sum) };
}

let currentModels: EsDoubleOptions['models'];

/** Exact kNN as Elasticsearch scores it; `filter` is applied before the top k are chosen. */
function runKnn(index: DoubleIndex, docs: StoredDoc[], knn: Json, defaultK: number): Scored {
  if (!isObject(knn)) throw parsingError('[knn] malformed, expected an object');
  for (const key of Object.keys(knn)) {
    if (
      ![
        'field',
        'query_vector',
        'query_vector_builder',
        'k',
        'num_candidates',
        'filter',
        'similarity',
        'boost',
        '_name',
      ].includes(key)
    ) {
      throw parsingError(`[knn] unknown field [${key}]`);
    }
  }
  if (typeof knn.field !== 'string') throw parsingError('[knn] requires [field]');
  const mapping = fieldMapping(index, knn.field);
  if (!mapping || mapping.type !== 'dense_vector') {
    throw badRequest(
      `[knn] queries are only supported on [dense_vector] fields; field [${knn.field}] is not`,
    );
  }
  const k = knn.k === undefined ? Math.min(defaultK, 10) : knn.k;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw badRequest('[k] must be greater than 0');
  const numCandidates =
    knn.num_candidates === undefined ? Math.min(10000, Math.max((k * 3) / 2, 100)) : knn.num_candidates;
  if (typeof numCandidates !== 'number' || numCandidates < k)
    throw badRequest(`[num_candidates] cannot be less than [k]`);
  if (numCandidates > 10000) throw badRequest('[num_candidates] cannot exceed [10000]');
  const similarity = (mapping.similarity as Similarity | undefined) ?? 'cosine';
  const query = checkVector(
    'query_vector',
    queryVectorOf(knn, currentModels),
    mapping.dims as number | undefined,
    similarity,
  );
  const filters = knn.filter === undefined ? [] : Array.isArray(knn.filter) ? knn.filter : [knn.filter];
  let candidates = docs;
  for (const filter of filters) {
    const allowed = runQuery(index, candidates, filter);
    candidates = candidates.filter((doc) => allowed.has(doc.id));
  }
  const threshold = typeof knn.similarity === 'number' ? knn.similarity : undefined;
  const scored: Array<[string, number]> = [];
  for (const doc of candidates) {
    const value = valueAt(doc.source, knn.field);
    const vector = Array.isArray(value) ? (value as number[]) : undefined;
    if (!vector) continue;
    const { score, raw } = similarityScore(similarity, query, vector);
    if (threshold !== undefined && (similarity === 'l2_norm' ? raw > threshold : raw < threshold)) continue;
    scored.push([doc.id, score]);
  }
  scored.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const boost = typeof knn.boost === 'number' ? knn.boost : 1;
  return new Map(scored.slice(0, k).map(([id, score]) => [id, score * boost]));
}

function ranked(scored: Scored): Array<[string, number]> {
  return [...scored.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

/** Runs a retriever tree (standard, knn, rrf) and returns ranked ids with scores. */
function runRetriever(
  index: DoubleIndex,
  docs: StoredDoc[],
  retriever: Json,
  windowSize: number,
): Array<[string, number]> {
  if (!isObject(retriever)) throw parsingError('[retriever] malformed, expected an object');
  const keys = Object.keys(retriever);
  if (keys.length !== 1)
    throw parsingError(`[retriever] expects exactly one retriever, found [${keys.join(', ')}]`);
  const kind = keys[0]!;
  const body = retriever[kind]!;
  if (!isObject(body)) throw parsingError(`[${kind}] retriever malformed`);
  if (kind === 'standard') {
    let candidates = docs;
    if (body.filter !== undefined) {
      // Elasticsearch takes one query or an array of them here, as in a bool query's filter.
      const filter = Array.isArray(body.filter) ? { bool: { filter: body.filter } } : body.filter;
      const allowed = runQuery(index, docs, filter);
      candidates = docs.filter((d) => allowed.has(d.id));
    }
    return ranked(runQuery(index, candidates, body.query ?? { match_all: {} })).slice(0, windowSize);
  }
  if (kind === 'knn') {
    return ranked(runKnn(index, docs, body, windowSize)).slice(0, windowSize);
  }
  if (kind === 'rrf') {
    if (!Array.isArray(body.retrievers) || body.retrievers.length < 2) {
      throw badRequest('[rrf] requires at least 2 [retrievers]');
    }
    const window = typeof body.rank_window_size === 'number' ? body.rank_window_size : windowSize;
    const rankConstant = typeof body.rank_constant === 'number' ? body.rank_constant : 60;
    if (rankConstant < 1) throw badRequest('[rank_constant] must be greater or equal to [1] for [rrf]');
    const fused: Scored = new Map();
    for (const child of body.retrievers) {
      runRetriever(index, docs, child, window).forEach(([id], rank) => {
        fused.set(id, (fused.get(id) ?? 0) + 1 / (rankConstant + rank + 1));
      });
    }
    return ranked(fused).slice(0, window);
  }
  throw parsingError(`unknown retriever [${kind}]`);
}

function filterSource(source: JsonObject, spec: Json | undefined): JsonObject | undefined {
  if (spec === undefined || spec === true) return source;
  if (spec === false) return undefined;
  let includes: string[] = [];
  let excludes: string[] = [];
  if (typeof spec === 'string') includes = [spec];
  else if (Array.isArray(spec)) includes = spec.map(String);
  else if (isObject(spec)) {
    const inc = spec.includes ?? spec.include;
    const exc = spec.excludes ?? spec.exclude;
    includes = inc === undefined ? [] : Array.isArray(inc) ? inc.map(String) : [String(inc)];
    excludes = exc === undefined ? [] : Array.isArray(exc) ? exc.map(String) : [String(exc)];
  }
  const globMatch = (pattern: string, key: string): boolean =>
    new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(key) ||
    key.startsWith(`${pattern}.`);
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(source)) {
    if (includes.length > 0 && !includes.some((p) => globMatch(p, key) || p.startsWith(`${key}.`))) continue;
    if (excludes.some((p) => globMatch(p, key))) continue;
    out[key] = value;
  }
  return out;
}

function runAggregations(docs: StoredDoc[], aggs: Json): JsonObject {
  if (!isObject(aggs)) throw parsingError('[aggs] malformed');
  const out: JsonObject = {};
  for (const [name, spec] of Object.entries(aggs)) {
    if (!isObject(spec) || !isObject(spec.terms) || typeof spec.terms.field !== 'string') {
      throw parsingError(`aggregation [${name}]: the test double supports [terms] aggregations only`);
    }
    const field = spec.terms.field;
    const size = typeof spec.terms.size === 'number' ? spec.terms.size : 10;
    const counts = new Map<string, { key: Json; count: number }>();
    for (const doc of docs) {
      for (const value of new Set(valuesAt(doc.source, field.replace(/\.keyword$/, '')))) {
        const key = JSON.stringify(value);
        const entry = counts.get(key) ?? { key: value, count: 0 };
        entry.count++;
        counts.set(key, entry);
      }
    }
    const buckets = [...counts.values()].sort((a, b) => b.count - a.count).slice(0, size);
    out[name] = {
      doc_count_error_upper_bound: 0,
      sum_other_doc_count: docs.length - buckets.reduce((s, b) => s + b.count, 0),
      buckets: buckets.map((b) => ({ key: b.key, doc_count: b.count })),
    };
  }
  return out;
}

function runSearch(index: DoubleIndex, body: JsonObject, sizeParam: string | null): JsonObject {
  for (const key of Object.keys(body)) {
    if (!SEARCH_KEYS.has(key)) throw parsingError(`Unknown key for a START_OBJECT in [${key}].`);
  }
  const size = typeof body.size === 'number' ? body.size : sizeParam !== null ? Number(sizeParam) : 10;
  if (!Number.isInteger(size) || size < 0)
    throw badRequest(`[size] parameter cannot be negative, found [${String(body.size)}]`);
  if (body.retriever !== undefined && (body.query !== undefined || body.knn !== undefined)) {
    throw badRequest('cannot specify [retriever] and [query] or [knn] together');
  }
  const docs = [...index.docs.values()];
  let hits: Array<[string, number]>;
  if (body.retriever !== undefined) {
    hits = runRetriever(index, docs, body.retriever, size);
  } else {
    const combined: Scored = new Map();
    const knns = body.knn === undefined ? [] : Array.isArray(body.knn) ? body.knn : [body.knn];
    for (const knn of knns) {
      for (const [id, score] of runKnn(index, docs, knn, size))
        combined.set(id, (combined.get(id) ?? 0) + score);
    }
    if (body.query !== undefined || knns.length === 0) {
      for (const [id, score] of runQuery(index, docs, body.query ?? { match_all: {} })) {
        combined.set(id, (combined.get(id) ?? 0) + score);
      }
    }
    hits = ranked(combined);
  }
  if (typeof body.min_score === 'number')
    hits = hits.filter(([, score]) => score >= (body.min_score as number));
  const total = hits.length;
  const from = typeof body.from === 'number' ? body.from : 0;
  const page = hits.slice(from, from + size);
  const response: JsonObject = {
    took: 1,
    timed_out: false,
    _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
    hits: {
      total: { value: total, relation: 'eq' },
      max_score: page.length > 0 ? page[0]![1] : null,
      hits: page.map(([id, score]) => {
        const doc = index.docs.get(id)!;
        const hit: JsonObject = { _index: index.name, _id: id, _score: score };
        const source = filterSource(doc.source, body._source);
        if (source !== undefined) hit._source = source;
        return hit;
      }),
    },
  };
  const aggs = body.aggs ?? body.aggregations;
  if (aggs !== undefined)
    response.aggregations = runAggregations(
      hits.map(([id]) => index.docs.get(id)!),
      aggs,
    );
  return response;
}

// ---- HTTP ------------------------------------------------------------------------------------------------------

function errorBody(error: EsHttpError): JsonObject {
  const cause: JsonObject = { type: error.type, reason: error.message, ...error.extra };
  return { error: { root_cause: [cause], ...cause }, status: error.status };
}

function parseJsonBody(text: string): JsonObject {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new EsHttpError(
      400,
      'x_content_parse_exception',
      `[1:1] failed to parse request body: ${(error as Error).message}`,
    );
  }
  if (!isObject(parsed)) throw parsingError('request body must be a JSON object');
  return parsed;
}

/** Starts the Elasticsearch TEST DOUBLE on 127.0.0.1 and resolves once it listens. */
export async function startEsDouble(options: EsDoubleOptions = {}): Promise<EsDouble> {
  const indices = new Map<string, DoubleIndex>();
  const requests: RecordedRequest[] = [];
  const recordLast = options.recordLast ?? 50;

  const getIndex = (name: string): DoubleIndex => {
    const index = indices.get(name);
    if (!index) throw indexNotFound(name);
    return index;
  };

  const createIndex = (name: string, body: JsonObject): JsonObject => {
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(name) || name.length > 255) {
      throw new EsHttpError(
        400,
        'invalid_index_name_exception',
        `Invalid index name [${name}], must be lowercase and must not contain [\\, /, *, ?, ", <, >, |, ' ', ',', #]`,
      );
    }
    if (indices.has(name)) {
      throw new EsHttpError(
        400,
        'resource_already_exists_exception',
        `index [${name}/double] already exists`,
        { index: name },
      );
    }
    for (const key of Object.keys(body)) {
      if (!['mappings', 'settings', 'aliases'].includes(key))
        throw parsingError(`unknown key [${key}] for create index`);
    }
    const mappings = isObject(body.mappings) ? (structuredClone(body.mappings) as JsonObject) : {};
    if (!isObject(mappings.properties)) mappings.properties = {};
    indices.set(name, {
      name,
      mappings: mappings as DoubleIndex['mappings'],
      settings: isObject(body.settings) ? body.settings : {},
      docs: new Map(),
    });
    return { acknowledged: true, shards_acknowledged: true, index: name };
  };

  const indexDoc = (
    index: DoubleIndex,
    id: string,
    source: JsonObject,
    opType: 'index' | 'create',
  ): JsonObject => {
    const existing = index.docs.get(id);
    if (existing && opType === 'create') {
      throw new EsHttpError(
        409,
        'version_conflict_engine_exception',
        `[${id}]: version conflict, document already exists (current version [${existing.version}])`,
        { index: index.name },
      );
    }
    mapDocument(index, source);
    const version = (existing?.version ?? 0) + 1;
    index.docs.set(id, { id, version, source });
    return {
      _index: index.name,
      _id: id,
      _version: version,
      result: existing ? 'updated' : 'created',
      status: existing ? 200 : 201,
    };
  };

  const updateDoc = (index: DoubleIndex, id: string, body: JsonObject): JsonObject => {
    const existing = index.docs.get(id);
    if (!isObject(body.doc))
      throw badRequest('[update] the test double supports partial updates with [doc] only');
    if (!existing) {
      if (body.doc_as_upsert === true) return indexDoc(index, id, body.doc, 'index');
      throw new EsHttpError(404, 'document_missing_exception', `[${id}]: document missing`, {
        index: index.name,
        shard: '0',
      });
    }
    const merged = { ...existing.source, ...body.doc };
    mapDocument(index, merged);
    existing.version++;
    existing.source = merged;
    return { _index: index.name, _id: id, _version: existing.version, result: 'updated', status: 200 };
  };

  const bulk = (defaultIndex: string | undefined, text: string): JsonObject => {
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    const items: JsonObject[] = [];
    let errors = false;
    for (let i = 0; i < lines.length; i++) {
      let action: JsonObject;
      try {
        action = parseJsonBody(lines[i]!);
      } catch {
        throw new EsHttpError(
          400,
          'illegal_argument_exception',
          `Malformed action/metadata line [${i + 1}], expected START_OBJECT`,
        );
      }
      const opType = Object.keys(action)[0];
      const meta = opType === undefined ? undefined : action[opType];
      if (!opType || !['index', 'create', 'update', 'delete'].includes(opType) || !isObject(meta)) {
        throw new EsHttpError(
          400,
          'illegal_argument_exception',
          `Malformed action/metadata line [${i + 1}], expected one of [create, delete, index, update] but found [${opType}]`,
        );
      }
      const indexName = typeof meta._index === 'string' ? meta._index : defaultIndex;
      if (!indexName)
        throw new EsHttpError(
          400,
          'action_request_validation_exception',
          'Validation Failed: 1: index is missing;',
        );
      let payload: JsonObject | undefined;
      if (opType !== 'delete') {
        i++;
        if (i >= lines.length)
          throw new EsHttpError(
            400,
            'illegal_argument_exception',
            'The bulk request must be terminated by a newline [\\n]',
          );
        payload = parseJsonBody(lines[i]!);
      }
      const id =
        meta._id === undefined ? `auto-${Math.random().toString(36).slice(2, 12)}` : String(meta._id);
      try {
        let result: JsonObject;
        if (opType === 'delete') {
          const index = getIndex(indexName);
          const found = index.docs.delete(id);
          result = {
            _index: indexName,
            _id: id,
            result: found ? 'deleted' : 'not_found',
            status: found ? 200 : 404,
          };
        } else {
          if (!indices.has(indexName) && opType !== 'update') createIndex(indexName, {});
          const index = getIndex(indexName);
          result =
            opType === 'update'
              ? updateDoc(index, id, payload!)
              : indexDoc(index, id, payload!, opType as 'index' | 'create');
        }
        items.push({ [opType]: result });
      } catch (error) {
        if (!(error instanceof EsHttpError)) throw error;
        errors = true;
        items.push({
          [opType]: {
            _index: indexName,
            _id: id,
            status: error.status,
            error: { type: error.type, reason: error.message, ...error.extra },
          },
        });
      }
    }
    return { took: 1, errors, items };
  };

  const route = (
    method: string,
    path: string,
    query: URLSearchParams,
    text: string,
  ): { status: number; body?: JsonObject } => {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const [first, second, third] = parts;
    if (parts.length === 0) {
      if (method === 'GET' || method === 'HEAD') return { status: 200, body: CLUSTER_INFO };
    } else if (first === '_bulk' && parts.length === 1 && (method === 'POST' || method === 'PUT')) {
      return { status: 200, body: bulk(undefined, text) };
    } else if (first === '_mapping' && parts.length === 1 && method === 'GET') {
      const out: JsonObject = {};
      for (const index of indices.values()) out[index.name] = { mappings: index.mappings };
      return { status: 200, body: out };
    } else if (first === '_refresh' && parts.length === 1) {
      return { status: 200, body: { _shards: { total: 1, successful: 1, failed: 0 } } };
    } else if (first === '_cat' && second === 'indices') {
      const rows = [...indices.values()].map((i) => ({
        health: 'green',
        status: 'open',
        index: i.name,
        'docs.count': String(i.docs.size),
      }));
      return { status: 200, body: rows as unknown as JsonObject };
    } else if (first !== undefined && !first.startsWith('_')) {
      if (parts.length === 1) {
        if (method === 'PUT') return { status: 200, body: createIndex(first, parseJsonBody(text)) };
        if (method === 'HEAD') return { status: indices.has(first) ? 200 : 404 };
        if (method === 'DELETE') {
          if (!indices.delete(first)) throw indexNotFound(first);
          return { status: 200, body: { acknowledged: true } };
        }
        if (method === 'GET') {
          const index = getIndex(first);
          return {
            status: 200,
            body: { [first]: { aliases: {}, mappings: index.mappings, settings: { index: index.settings } } },
          };
        }
      }
      if (second === '_mapping' && parts.length === 2) {
        const index = getIndex(first);
        if (method === 'GET') return { status: 200, body: { [first]: { mappings: index.mappings } } };
        if (method === 'PUT' || method === 'POST') {
          const body = parseJsonBody(text);
          if (isObject(body.properties)) {
            for (const [field, mapping] of Object.entries(body.properties)) {
              const current = index.mappings.properties[field];
              if (isObject(current) && isObject(mapping) && current.type !== mapping.type) {
                throw badRequest(
                  `mapper [${field}] cannot be changed from type [${String(current.type)}] to [${String(mapping.type)}]`,
                );
              }
              index.mappings.properties[field] = mapping;
            }
          }
          if (isObject(body._meta)) index.mappings._meta = body._meta;
          return { status: 200, body: { acknowledged: true } };
        }
      }
      if (second === '_bulk' && parts.length === 2 && (method === 'POST' || method === 'PUT')) {
        return { status: 200, body: bulk(first, text) };
      }
      if (second === '_refresh') {
        getIndex(first);
        return { status: 200, body: { _shards: { total: 1, successful: 1, failed: 0 } } };
      }
      if (second === '_count' && parts.length === 2 && (method === 'GET' || method === 'POST')) {
        const index = getIndex(first);
        const body = parseJsonBody(text);
        const count =
          body.query === undefined
            ? index.docs.size
            : runQuery(index, [...index.docs.values()], body.query).size;
        return { status: 200, body: { count, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 } } };
      }
      if (second === '_search' && parts.length === 2 && (method === 'GET' || method === 'POST')) {
        return { status: 200, body: runSearch(getIndex(first), parseJsonBody(text), query.get('size')) };
      }
      if (second === '_doc' && third !== undefined && parts.length === 3) {
        if (method === 'GET' || method === 'HEAD') {
          const index = getIndex(first);
          const doc = index.docs.get(third);
          if (!doc) return { status: 404, body: { _index: first, _id: third, found: false } };
          return {
            status: 200,
            body: { _index: first, _id: third, _version: doc.version, found: true, _source: doc.source },
          };
        }
        if (method === 'PUT' || method === 'POST') {
          if (!indices.has(first)) createIndex(first, {});
          const result = indexDoc(
            getIndex(first),
            third,
            parseJsonBody(text),
            query.get('op_type') === 'create' ? 'create' : 'index',
          );
          return { status: result.status as number, body: result };
        }
        if (method === 'DELETE') {
          const index = getIndex(first);
          const found = index.docs.delete(third);
          return {
            status: found ? 200 : 404,
            body: { _index: first, _id: third, result: found ? 'deleted' : 'not_found' },
          };
        }
      }
    }
    throw new EsHttpError(
      405,
      'method_not_allowed',
      `Incorrect HTTP method for uri [${path}] and method [${method}] (or not supported by the test double)`,
    );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://double');
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: text,
    });
    if (requests.length > recordLast) requests.shift();
    if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
    let status: number;
    let body: JsonObject | undefined;
    if (
      options.requireAuthorization !== undefined &&
      req.headers.authorization !== options.requireAuthorization
    ) {
      status = 401;
      body = errorBody(
        new EsHttpError(
          401,
          'security_exception',
          `missing authentication credentials for REST request [${url.pathname}]`,
        ),
      );
      res.setHeader('www-authenticate', 'Basic realm="security" charset="UTF-8"');
    } else {
      try {
        currentModels = options.models;
        ({ status, body } = route(req.method ?? 'GET', url.pathname, url.searchParams, text));
      } catch (error) {
        const esError =
          error instanceof EsHttpError
            ? error
            : new EsHttpError(500, 'exception', String((error as Error).stack ?? error));
        status = esError.status;
        body = errorBody(esError);
      }
    }
    res.statusCode = status;
    res.setHeader('x-elastic-product', 'Elasticsearch');
    if (body !== undefined) {
      const payload = Buffer.from(JSON.stringify(body));
      res.setHeader('content-type', 'application/vnd.elasticsearch+json;compatible-with=8');
      res.setHeader('content-length', payload.length);
      res.end(req.method === 'HEAD' ? undefined : payload);
    } else {
      res.setHeader('content-length', 0);
      res.end();
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader('x-elastic-product', 'Elasticsearch');
      }
      res.end(JSON.stringify(errorBody(new EsHttpError(500, 'exception', String(error)))));
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    requests,
    getSource: (index, id) => indices.get(index)?.docs.get(id)?.source,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
