// `_search` in the Elasticsearch TEST DOUBLE: query + knn, retrievers (standard, knn, rrf), sort and search_after,
// points in time and slices, totals, `_source` filtering and terms aggregations, over one or several indexes.
import {
  allShardsFailed,
  badRequest,
  EsHttpError,
  isObject,
  parsingError,
  validationError,
} from './errors.js';
import type { Json, JsonObject } from './errors.js';
import { valuesAt } from './documents.js';
import type { StoredDoc } from './documents.js';
import { collapseHits, hitFields, hitHighlight, hitSource, queryTerms, sourceRequest } from './fetch.js';
import { runKnn, runQuery } from './query.js';
import { byScore, gather, keyOf, runRetriever } from './retrievers.js';
import type { SearchScope } from './retrievers.js';
import { applySearchAfter, parseSort, sortHits, withPitTiebreaker } from './sort.js';
import type { RankedHit } from './sort.js';

export type { SearchScope } from './retrievers.js';

/** Body keys the double understands. */
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
  'track_scores',
  'timeout',
  'min_score',
  'sort',
  'search_after',
  'pit',
  'slice',
  'post_filter',
  'collapse',
  'highlight',
  'fields',
  'version',
]);

/** Keys Elasticsearch knows that the double does not implement: refused as the double's limit, not as bad input. */
const UNIMPLEMENTED_KEYS = new Set([
  'explain',
  'stored_fields',
  'docvalue_fields',
  'script_fields',
  'rescore',
  'suggest',
  'indices_boost',
  'profile',
  'terminate_after',
  'stats',
  'runtime_mappings',
  'seq_no_primary_term',
  'rank',
  'sub_searches',
  'ext',
]);

/** Elasticsearch's name for the JSON token a value starts with, as its parse errors print it. */
function tokenName(value: Json): string {
  if (Array.isArray(value)) return 'START_ARRAY';
  if (isObject(value)) return 'START_OBJECT';
  if (typeof value === 'string') return 'VALUE_STRING';
  if (typeof value === 'number') return 'VALUE_NUMBER';
  if (typeof value === 'boolean') return 'VALUE_BOOLEAN';
  return 'VALUE_NULL';
}

/** Top-level `knn` (k nearest over all shards, as the coordinating node merges them) summed with `query`. */
function runQueryAndKnn(scope: SearchScope, body: JsonObject, size: number): RankedHit[] {
  const combined = new Map<string, RankedHit>();
  const add = (hits: RankedHit[]): void => {
    for (const hit of hits) {
      const entry = combined.get(keyOf(hit));
      if (entry) entry.score += hit.score;
      else combined.set(keyOf(hit), hit);
    }
  };
  const knns = body.knn === undefined ? [] : Array.isArray(body.knn) ? body.knn : [body.knn];
  for (const knn of knns) {
    const k = isObject(knn) && typeof knn.k === 'number' ? knn.k : size;
    add(byScore(gather(scope, (ctx, docs) => runKnn(ctx, docs, knn, size))).slice(0, k));
  }
  if (body.query !== undefined || knns.length === 0) {
    add(gather(scope, (ctx, docs) => runQuery(ctx, docs, body.query ?? { match_all: {} })));
  }
  return [...combined.values()];
}

/** `slice: {id, max}` under a point in time: slice `id` holds a contiguous range of each shard's doc ids. */
function applySlice(hits: RankedHit[], slice: Json, scope: SearchScope): RankedHit[] {
  if (!isObject(slice)) throw parsingError('[slice] malformed, expected an object');
  // NOTE: ObjectParser's declareInt takes numbers and numeric strings alike (the client types send `id` as one).
  const asInt = (value: Json | undefined): Json | undefined =>
    typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  const id = asInt(slice.id);
  const max = asInt(slice.max);
  const fieldError = (field: string, reason: string): EsHttpError =>
    new EsHttpError(400, 'x_content_parse_exception', `[1:1] [slice] failed to parse field [${field}]`, {
      caused_by: { type: 'illegal_argument_exception', reason },
    });
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
    throw fieldError('id', 'id must be greater than or equal to 0');
  if (typeof max !== 'number' || !Number.isInteger(max) || max <= 1)
    throw fieldError('max', 'max must be greater than 1');
  if (id >= max) throw badRequest('max must be greater than id');
  if (slice.field !== undefined) throw badRequest('the test double slices on doc ids only; remove [field]');
  const maxDocByShard = scope.indexes.map((index) => {
    let maxDoc = 0;
    for (const doc of index.docs.values()) maxDoc = Math.max(maxDoc, doc.seq + 1);
    return maxDoc;
  });
  return hits.filter((hit) => {
    const maxDoc = maxDocByShard[hit.shard]!;
    const from = Math.floor((id * maxDoc) / max);
    const to = Math.floor(((id + 1) * maxDoc) / max);
    return hit.doc.seq >= from && hit.doc.seq < to;
  });
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

function integerParam(body: JsonObject, params: URLSearchParams, key: string, fallback: number): number {
  const fromParam = params.get(key);
  const value = fromParam !== null ? Number(fromParam) : body[key] === undefined ? fallback : body[key];
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw badRequest(`[${key}] must be an integer, found [${String(value)}]`);
  if (value < 0) throw badRequest(`[${key}] parameter cannot be negative, found [${value}]`);
  return value;
}

/** The request checks of SearchRequest.validate(), answered together as one validation error. */
function validateRequest(body: JsonObject, scope: SearchScope, from: number): void {
  const problems: string[] = [];
  if (body.retriever !== undefined) {
    const specified = ['query', 'knn', 'search_after', 'sort'].filter((key) => body[key] !== undefined);
    if (specified.length > 0) problems.push(`cannot specify [retriever] and [${specified.join(', ')}]`);
  }
  if (body.slice !== undefined && scope.pitId === undefined) {
    problems.push('[slice] can only be used with [scroll] or [point-in-time] requests');
  }
  if (from > 0 && Array.isArray(body.search_after) && body.search_after.length > 0) {
    problems.push('[from] parameter must be set to 0 when [search_after] is used');
  }
  const sorts = parseSort(body.sort) ?? [];
  if (scope.pitId === undefined && sorts.some((s) => s.field === '_shard_doc')) {
    problems.push('[_shard_doc] sort field cannot be used without [point in time]');
  }
  if (problems.length > 0) throw validationError(problems);
}

/** `track_total_hits` as Elasticsearch applies it: exact up to a bound (10,000 by default), or none. */
function totalHits(body: JsonObject, params: URLSearchParams, total: number): JsonObject | undefined {
  const raw = params.get('track_total_hits') ?? body.track_total_hits;
  const track = raw === 'true' ? true : raw === 'false' ? false : typeof raw === 'string' ? Number(raw) : raw;
  if (track === false) return undefined;
  const bound = track === true ? Number.POSITIVE_INFINITY : typeof track === 'number' ? track : 10_000;
  return total > bound ? { value: bound, relation: 'gte' } : { value: total, relation: 'eq' };
}

function checkKeys(body: JsonObject): void {
  for (const [key, value] of Object.entries(body)) {
    if (SEARCH_KEYS.has(key)) continue;
    if (UNIMPLEMENTED_KEYS.has(key))
      throw badRequest(`[${key}] is not supported by the Elasticsearch test double`);
    throw parsingError(`Unknown key for a ${tokenName(value)} in [${key}].`);
  }
}

/** `post_filter`: drops hits after aggregations were computed, as Elasticsearch applies it. */
function applyPostFilter(scope: SearchScope, hits: RankedHit[], filter: Json): RankedHit[] {
  return hits.filter((hit) =>
    runQuery({ index: hit.index, models: scope.models }, [hit.doc], filter).has(hit.doc.id),
  );
}

/** Shapes one hit of the answer: `_index`, `_id`, `_score`, `_source`, `sort`, `fields`, `highlight`. */
function renderHit(
  hit: RankedHit,
  body: JsonObject,
  options: {
    scoresTracked: boolean;
    source: ReturnType<typeof sourceRequest>;
    terms: Map<string, Set<string>>;
  },
  collapseKey?: Json,
): JsonObject {
  const out: JsonObject = { _index: hit.index.name, _id: hit.doc.id };
  if (body.version === true) out._version = hit.doc.version;
  out._score = options.scoresTracked ? hit.score : null;
  const source = hitSource(hit.index, hit.doc, options.source);
  if (source !== undefined) out._source = source;
  const fields = body.fields === undefined ? undefined : hitFields(hit.index, hit.doc, body.fields);
  if (fields !== undefined || collapseKey !== undefined) {
    out.fields = { ...(fields ?? {}) };
    if (collapseKey !== undefined && isObject(body.collapse))
      (out.fields as JsonObject)[String(body.collapse.field)] = [collapseKey];
  }
  if (body.highlight !== undefined) {
    const highlight = hitHighlight(hit.doc, body.highlight, options.terms);
    if (highlight !== undefined) out.highlight = highlight;
  }
  if (hit.sortValues !== undefined) out.sort = hit.sortValues;
  return out;
}

/** Runs a search body over the scope's indexes and returns Elasticsearch's answer. */
export function runSearch(scope: SearchScope, body: JsonObject): JsonObject {
  checkKeys(body);
  const size = integerParam(body, scope.params, 'size', 10);
  const from = integerParam(body, scope.params, 'from', 0);
  validateRequest(body, scope, from);
  const firstIndex = scope.indexes[0]?.name ?? '_all';
  const maxWindow = Math.min(
    ...scope.indexes.map((index) => Number(index.settings.max_result_window ?? 10_000)),
  );
  if (from + size > maxWindow) {
    throw allShardsFailed(
      badRequest(
        `Result window is too large, from + size must be less than or equal to: [${maxWindow}] but was [${from + size}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.`,
      ),
      firstIndex,
    );
  }
  const source = sourceRequest(body._source, scope.params, scope.behaviour);
  let hits =
    body.retriever !== undefined
      ? runRetriever(scope, body.retriever, Math.max(size + from, 10))
      : runQueryAndKnn(scope, body, size);
  if (typeof body.min_score === 'number')
    hits = hits.filter((hit) => hit.score >= (body.min_score as number));
  if (body.slice !== undefined) hits = applySlice(hits, body.slice, scope);
  const searchAfter = body.search_after;
  if (searchAfter !== undefined && !Array.isArray(searchAfter))
    throw parsingError('[search_after] must be an array of sort values');
  let specs = parseSort(body.sort);
  if (specs !== undefined && scope.pitId !== undefined) specs = withPitTiebreaker(specs, searchAfter);
  hits = sortHits(hits, specs);
  const aggregationDocs = hits.map((hit) => hit.doc);
  if (body.post_filter !== undefined) hits = applyPostFilter(scope, hits, body.post_filter);
  const total = hits.length;
  if (searchAfter !== undefined && searchAfter.length > 0)
    hits = applySearchAfter(hits, specs, searchAfter, firstIndex);
  const collapsed =
    body.collapse === undefined
      ? hits.map((hit) => ({ hit, key: undefined as Json | undefined }))
      : collapseHits(hits, body.collapse);
  const scoresTracked =
    specs === undefined || specs.some((s) => s.field === '_score') || body.track_scores === true;
  const page = collapsed.slice(from, from + size);
  const options = { scoresTracked, source, terms: queryTerms(body.query) };
  const response: JsonObject = {
    took: 1,
    timed_out: false,
    _shards: { total: scope.indexes.length, successful: scope.indexes.length, skipped: 0, failed: 0 },
    hits: {
      max_score: scoresTracked && page.length > 0 ? Math.max(...page.map((p) => p.hit.score)) : null,
      hits: page.map(({ hit, key }) => renderHit(hit, body, options, key)),
    },
  };
  const tracked = totalHits(body, scope.params, total);
  if (tracked) (response.hits as JsonObject).total = tracked;
  if (scope.pitId !== undefined) response.pit_id = scope.pitId;
  const aggs = body.aggs ?? body.aggregations;
  if (aggs !== undefined) response.aggregations = runAggregations(aggregationDocs, aggs);
  return response;
}

/** Reads a search body's `pit` clause: its id and optional keep-alive. */
export function pitClause(body: JsonObject): { id: string; keepAlive?: string } | undefined {
  if (body.pit === undefined) return undefined;
  if (!isObject(body.pit) || typeof body.pit.id !== 'string' || body.pit.id === '') {
    throw parsingError('[pit] requires [id]');
  }
  for (const key of Object.keys(body.pit)) {
    if (key !== 'id' && key !== 'keep_alive') throw parsingError(`[pit] unknown field [${key}]`);
  }
  if (body.pit.keep_alive !== undefined && typeof body.pit.keep_alive !== 'string')
    throw parsingError('[pit] [keep_alive] must be a time value such as "1m"');
  return { id: body.pit.id, keepAlive: body.pit.keep_alive };
}
