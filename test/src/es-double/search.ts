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
import type { DoubleIndex, StoredDoc } from './documents.js';
import { runKnn, runQuery } from './query.js';
import type { QueryContext } from './query.js';
import { applySearchAfter, indexOrder, parseSort, sortHits, withPitTiebreaker } from './sort.js';
import type { RankedHit } from './sort.js';

/** Body keys the double understands; others are refused as Elasticsearch refuses unknown keys. */
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
]);

/** Where a search runs: its indexes (one shard each, in this order) and the options around it. */
export interface SearchScope {
  indexes: DoubleIndex[];
  models?: QueryContext['models'];
  /** Set when the search runs under a point in time (then `indexes` holds its frozen view). */
  pitId?: string;
  /** URL parameters (`size`, `from`, `_source`, `_source_includes`, `_source_excludes`, `track_total_hits`). */
  params: URLSearchParams;
}

function keyOf(hit: { shard: number; doc: StoredDoc }): string {
  return `${hit.shard}\u0000${hit.doc.id}`;
}

function byScore(hits: RankedHit[]): RankedHit[] {
  return hits.sort((a, b) => b.score - a.score || indexOrder(a, b));
}

/** Runs a per-index scorer over every index of the scope and gathers the hits. */
function gather(
  scope: SearchScope,
  score: (ctx: QueryContext, docs: StoredDoc[]) => Map<string, number>,
): RankedHit[] {
  const out: RankedHit[] = [];
  scope.indexes.forEach((index, shard) => {
    const scored = score({ index, models: scope.models }, [...index.docs.values()]);
    for (const [id, value] of scored) out.push({ index, shard, doc: index.docs.get(id)!, score: value });
  });
  return out;
}

/** Runs a retriever tree (standard, knn, rrf) and returns its top `windowSize` hits, best first. */
function runRetriever(scope: SearchScope, retriever: Json, windowSize: number): RankedHit[] {
  if (!isObject(retriever)) throw parsingError('[retriever] malformed, expected an object');
  const keys = Object.keys(retriever);
  if (keys.length !== 1)
    throw parsingError(`[retriever] expects exactly one retriever, found [${keys.join(', ')}]`);
  const kind = keys[0]!;
  const body = retriever[kind]!;
  if (!isObject(body)) throw parsingError(`[${kind}] retriever malformed`);
  if (kind === 'standard') {
    return byScore(
      gather(scope, (ctx, docs) => {
        let candidates = docs;
        if (body.filter !== undefined) {
          // Elasticsearch takes one query or an array of them here, as in a bool query's filter.
          const filter = Array.isArray(body.filter) ? { bool: { filter: body.filter } } : body.filter;
          const allowed = runQuery(ctx, docs, filter);
          candidates = docs.filter((d) => allowed.has(d.id));
        }
        return runQuery(ctx, candidates, body.query ?? { match_all: {} });
      }),
    ).slice(0, windowSize);
  }
  if (kind === 'knn') {
    return byScore(gather(scope, (ctx, docs) => runKnn(ctx, docs, body, windowSize))).slice(0, windowSize);
  }
  if (kind === 'rrf') {
    if (!Array.isArray(body.retrievers) || body.retrievers.length < 2) {
      throw badRequest('[rrf] requires at least 2 [retrievers]');
    }
    const window = typeof body.rank_window_size === 'number' ? body.rank_window_size : windowSize;
    const rankConstant = typeof body.rank_constant === 'number' ? body.rank_constant : 60;
    if (rankConstant < 1) throw badRequest('[rank_constant] must be greater or equal to [1] for [rrf]');
    const fused = new Map<string, RankedHit>();
    for (const child of body.retrievers) {
      runRetriever(scope, child, window).forEach((hit, rank) => {
        const key = keyOf(hit);
        const entry = fused.get(key) ?? { ...hit, score: 0 };
        entry.score += 1 / (rankConstant + rank + 1);
        fused.set(key, entry);
      });
    }
    return byScore([...fused.values()]).slice(0, window);
  }
  throw parsingError(`unknown retriever [${kind}]`);
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

/** `_source` filtering: includes/excludes with `*` wildcards and dotted paths. */
export function filterSource(source: JsonObject, spec: Json | undefined): JsonObject | undefined {
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

/** The `_source` spec of a request: the body's, else the `_source*` URL parameters. */
function sourceSpec(body: JsonObject, params: URLSearchParams): Json | undefined {
  if (body._source !== undefined) return body._source;
  const list = (name: string): string[] | undefined => params.get(name)?.split(',').filter(Boolean);
  const includes = list('_source_includes');
  const excludes = list('_source_excludes');
  const flag = params.get('_source');
  if (flag === 'false') return false;
  if (flag !== null && flag !== 'true') return flag.split(',');
  if (includes || excludes) return { includes: includes ?? [], excludes: excludes ?? [] };
  return undefined;
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

/** Runs a search body over the scope's indexes and returns Elasticsearch's answer. */
export function runSearch(scope: SearchScope, body: JsonObject): JsonObject {
  for (const key of Object.keys(body)) {
    if (!SEARCH_KEYS.has(key)) throw parsingError(`Unknown key for a START_OBJECT in [${key}].`);
  }
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
  const total = hits.length;
  const aggregationDocs = hits.map((hit) => hit.doc);
  if (searchAfter !== undefined && searchAfter.length > 0)
    hits = applySearchAfter(hits, specs, searchAfter, firstIndex);
  const scoresTracked =
    specs === undefined || specs.some((s) => s.field === '_score') || body.track_scores === true;
  const page = hits.slice(from, from + size);
  const source = sourceSpec(body, scope.params);
  const response: JsonObject = {
    took: 1,
    timed_out: false,
    _shards: { total: scope.indexes.length, successful: scope.indexes.length, skipped: 0, failed: 0 },
    hits: {
      max_score: scoresTracked && page.length > 0 ? Math.max(...page.map((h) => h.score)) : null,
      hits: page.map((hit) => {
        const out: JsonObject = {
          _index: hit.index.name,
          _id: hit.doc.id,
          _score: scoresTracked ? hit.score : null,
        };
        const filtered = filterSource(hit.doc.source, source);
        if (filtered !== undefined) out._source = filtered;
        if (hit.sortValues !== undefined) out.sort = hit.sortValues;
        return out;
      }),
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
