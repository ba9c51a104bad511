// Query DSL of the Elasticsearch TEST DOUBLE: term-level queries, bool, exact kNN and sparse_vector, scored as
// Elasticsearch scores them (constant 1.0 per matching leaf clause where Elasticsearch would use BM25).
import { badRequest, EsHttpError, isObject, parsingError } from './errors.js';
import type { Json, JsonObject } from './errors.js';
import { checkVector, dot, fieldMapping, norm, valueAt, valuesAt } from './documents.js';
import type { DoubleIndex, Similarity, StoredDoc } from './documents.js';

/** doc id -> score, within one index. */
export type Scored = Map<string, number>;

/** What a query runs against: one index (or a point-in-time view of it) and the cluster's deployed models. */
export interface QueryContext {
  index: DoubleIndex;
  /** Deployed "models" for `query_vector_builder.text_embedding`: model id -> text embedder. */
  models?: Record<string, (text: string) => number[]>;
}

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

/** Field values for term-level queries: a multi-field such as `genre.keyword` reads `genre`. */
function termValues(ctx: QueryContext, doc: StoredDoc, field: string): Json[] {
  const parent = field.endsWith('.keyword') ? field.slice(0, -'.keyword'.length) : undefined;
  const direct = valuesAt(doc.source, field);
  if (direct.length > 0 || parent === undefined) return direct;
  return isObject(fieldMapping(ctx.index, parent)?.fields) ? valuesAt(doc.source, parent) : direct;
}

function runBool(ctx: QueryContext, docs: StoredDoc[], clause: Json): Scored {
  if (!isObject(clause)) throw parsingError('[bool] query malformed');
  const list = (key: string): Json[] => {
    const value = clause[key];
    return value === undefined ? [] : Array.isArray(value) ? value : [value];
  };
  for (const key of Object.keys(clause)) {
    if (!['must', 'filter', 'should', 'must_not', 'minimum_should_match', 'boost', '_name'].includes(key)) {
      throw parsingError(`[bool] query does not support [${key}]`);
    }
  }
  const must = list('must').map((q) => runQuery(ctx, docs, q));
  const filter = list('filter').map((q) => runQuery(ctx, docs, q));
  const should = list('should').map((q) => runQuery(ctx, docs, q));
  const mustNot = list('must_not').map((q) => runQuery(ctx, docs, q));
  const minimumShouldMatch =
    typeof clause.minimum_should_match === 'number'
      ? clause.minimum_should_match
      : must.length + filter.length === 0 && should.length > 0
        ? 1
        : 0;
  const out: Scored = new Map();
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

function runSparseVector(ctx: QueryContext, docs: StoredDoc[], clause: Json): Scored {
  if (!isObject(clause) || typeof clause.field !== 'string')
    throw parsingError('[sparse_vector] requires [field]');
  if (!isObject(clause.query_vector)) {
    throw badRequest(
      '[sparse_vector] requires one of [query_vector] or [inference_id]; the test double supports [query_vector] only',
    );
  }
  const mapping = fieldMapping(ctx.index, clause.field);
  if (!mapping || mapping.type !== 'sparse_vector') {
    throw badRequest(
      `field [${clause.field}] must be type [sparse_vector] but is type [${String(mapping?.type ?? 'unmapped')}]`,
    );
  }
  const out: Scored = new Map();
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

/** Runs a query DSL clause over `docs`; returns matching ids with scores (1.0 per matching leaf clause). */
export function runQuery(ctx: QueryContext, docs: StoredDoc[], query: Json): Scored {
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
      return matchEach((doc) => termValues(ctx, doc, field).some((v) => equalsTerm(v, value)));
    }
    case 'terms': {
      const [field, values] = singleField(clause, 'terms');
      if (!Array.isArray(values))
        throw parsingError(`[terms] query does not support [${field}] without an array of values`);
      return matchEach((doc) =>
        termValues(ctx, doc, field).some((v) => values.some((w) => equalsTerm(v, w))),
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
    case 'bool':
      return runBool(ctx, docs, clause);
    case 'sparse_vector':
      return runSparseVector(ctx, docs, clause);
    case 'knn':
      return runKnn(ctx, docs, clause, 10);
    default:
      throw parsingError(`unknown query [${kind}]`);
  }
}

function queryVectorOf(knn: JsonObject, models: QueryContext['models']): number[] {
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

const KNN_KEYS = new Set([
  'field',
  'query_vector',
  'query_vector_builder',
  'k',
  'num_candidates',
  'filter',
  'similarity',
  'boost',
  '_name',
]);

/** Exact kNN as Elasticsearch scores it; `filter` is applied before the top k are chosen. */
export function runKnn(ctx: QueryContext, docs: StoredDoc[], knn: Json, defaultK: number): Scored {
  if (!isObject(knn)) throw parsingError('[knn] malformed, expected an object');
  for (const key of Object.keys(knn)) {
    if (!KNN_KEYS.has(key)) throw parsingError(`[knn] unknown field [${key}]`);
  }
  if (typeof knn.field !== 'string') throw parsingError('[knn] requires [field]');
  const mapping = fieldMapping(ctx.index, knn.field);
  if (!mapping || mapping.type !== 'dense_vector') {
    throw badRequest(
      `[knn] queries are only supported on [dense_vector] fields; field [${knn.field}] is not`,
    );
  }
  const k = knn.k === undefined ? defaultK : knn.k;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw badRequest('[k] must be greater than 0');
  const numCandidates =
    knn.num_candidates === undefined ? Math.min(10000, Math.max((k * 3) / 2, 100)) : knn.num_candidates;
  if (typeof numCandidates !== 'number' || numCandidates < k)
    throw badRequest(`[num_candidates] cannot be less than [k]`);
  if (numCandidates > 10000) throw badRequest('[num_candidates] cannot exceed [10000]');
  const similarity = (mapping.similarity as Similarity | undefined) ?? 'cosine';
  const query = checkVector(
    'query_vector',
    queryVectorOf(knn, ctx.models),
    mapping.dims as number | undefined,
    similarity,
  );
  const filters = knn.filter === undefined ? [] : Array.isArray(knn.filter) ? knn.filter : [knn.filter];
  let candidates = docs;
  for (const filter of filters) {
    const allowed = runQuery(ctx, candidates, filter);
    candidates = candidates.filter((doc) => allowed.has(doc.id));
  }
  const threshold = typeof knn.similarity === 'number' ? knn.similarity : undefined;
  const scored: Array<[StoredDoc, number]> = [];
  for (const doc of candidates) {
    const value = valueAt(doc.source, knn.field);
    const vector = Array.isArray(value) ? (value as number[]) : undefined;
    if (!vector) continue;
    const { score, raw } = similarityScore(similarity, query, vector);
    if (threshold !== undefined && (similarity === 'l2_norm' ? raw > threshold : raw < threshold)) continue;
    scored.push([doc, score]);
  }
  scored.sort((a, b) => b[1] - a[1] || a[0].seq - b[0].seq);
  const boost = typeof knn.boost === 'number' ? knn.boost : 1;
  return new Map(scored.slice(0, k).map(([doc, score]) => [doc.id, score * boost]));
}
