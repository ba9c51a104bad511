// Sorting in the Elasticsearch TEST DOUBLE: `sort` specs, sort values per hit, `search_after`, and the `_doc` /
// `_shard_doc` orders of a point in time, following SearchSourceBuilder, FieldSortBuilder and SearchAfterBuilder.
import { allShardsFailed, badRequest, EsHttpError, isObject, parsingError } from './errors.js';
import type { Json } from './errors.js';
import { resolveField, valuesAt } from './documents.js';
import type { DoubleIndex, StoredDoc } from './documents.js';

/** One hit being ranked: where it comes from and its score. */
export interface RankedHit {
  index: DoubleIndex;
  /** Ordinal of the hit's shard in this search (one shard per index); `_shard_doc` is (shard << 32) + doc. */
  shard: number;
  doc: StoredDoc;
  score: number;
  sortValues?: Json[];
}

export interface SortSpec {
  /** `_score`, `_doc`, `_shard_doc` or a field path. */
  field: string;
  order: 'asc' | 'desc';
  missing: Json;
  unmappedType?: string;
  mode?: 'min' | 'max';
}

/** Field types Elasticsearch sorts numerically (dates as epoch milliseconds, booleans as 0/1). */
const NUMERIC_TYPES = new Set([
  'long',
  'integer',
  'short',
  'byte',
  'double',
  'float',
  'half_float',
  'scaled_float',
  'unsigned_long',
  'date',
  'date_nanos',
  'boolean',
]);
const KEYWORD_TYPES = new Set(['keyword', 'constant_keyword', 'wildcard', 'version', 'ip']);
const SPECIAL = new Set(['_score', '_doc', '_shard_doc']);

function parseOneSort(entry: Json): SortSpec {
  if (typeof entry === 'string') {
    return { field: entry, order: entry === '_score' ? 'desc' : 'asc', missing: '_last' };
  }
  if (!isObject(entry) || Object.keys(entry).length !== 1) {
    throw parsingError('[sort] each sort must be a field name or an object with one field');
  }
  const [field, spec] = Object.entries(entry)[0]!;
  const out: SortSpec = { field, order: field === '_score' ? 'desc' : 'asc', missing: '_last' };
  const setOrder = (order: Json): void => {
    if (order !== 'asc' && order !== 'desc') {
      throw new EsHttpError(400, 'illegal_argument_exception', `Unknown SortOrder [${String(order)}]`);
    }
    out.order = order;
  };
  if (typeof spec === 'string') {
    setOrder(spec);
    return out;
  }
  if (!isObject(spec)) throw parsingError(`[${field}] sort must be "asc", "desc" or an object`);
  for (const [key, value] of Object.entries(spec)) {
    if (key === 'order') setOrder(value);
    else if (key === 'missing') out.missing = value;
    else if (key === 'unmapped_type' && typeof value === 'string') out.unmappedType = value;
    else if (key === 'mode' && (value === 'min' || value === 'max')) out.mode = value;
    else if (key !== 'format' && key !== 'numeric_type')
      throw parsingError(`[field_sort] unknown field [${key}]`);
  }
  return out;
}

/** Parses the body's `sort` (a name, an object, or an array of them); undefined when absent. */
export function parseSort(sort: Json | undefined): SortSpec[] | undefined {
  if (sort === undefined) return undefined;
  const list = Array.isArray(sort) ? sort : [sort];
  return list.map(parseOneSort);
}

/**
 * The implicit `_shard_doc` tiebreaker Elasticsearch appends to a sorted search under a point in time, unless
 * the last sort is already `_shard_doc` or `search_after` has as many values as the sort without it.
 */
export function withPitTiebreaker(specs: SortSpec[], searchAfter: Json[] | undefined): SortSpec[] {
  if (specs.length === 0) return specs;
  if (searchAfter !== undefined && searchAfter.length !== specs.length + 1) return specs;
  if (specs[specs.length - 1]!.field === '_shard_doc') return specs;
  return [...specs, { field: '_shard_doc', order: 'asc', missing: '_last', unmappedType: 'long' }];
}

type SortKey = number | string | null;

function sortType(hit: RankedHit, spec: SortSpec): 'number' | 'string' | 'none' {
  if (SPECIAL.has(spec.field)) return 'number';
  const resolved = resolveField(hit.index, spec.field);
  const type = resolved?.mapping.type ?? spec.unmappedType;
  if (type === undefined) {
    throw allShardsFailed(
      new EsHttpError(
        400,
        'query_shard_exception',
        `No mapping found for [${spec.field}] in order to sort on`,
        {
          index: hit.index.name,
        },
      ),
      hit.index.name,
    );
  }
  if (typeof type !== 'string') return 'none';
  if (NUMERIC_TYPES.has(type)) return 'number';
  if (KEYWORD_TYPES.has(type)) return 'string';
  if (type === 'text') {
    throw allShardsFailed(
      badRequest(
        `Fielddata is disabled on [${spec.field}] in [${hit.index.name}]. Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [${spec.field}] in order to load field data by uninverting the inverted index. Note that this can use significant memory.`,
      ),
      hit.index.name,
    );
  }
  throw allShardsFailed(
    badRequest(`Field [${spec.field}] of type [${type}] does not support sorting`),
    hit.index.name,
  );
}

function toNumber(value: Json): number | null {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string') {
    const n = Number(value);
    if (!Number.isNaN(n)) return n;
    const date = Date.parse(value);
    return Number.isNaN(date) ? null : date;
  }
  return null;
}

/** The value a hit sorts on for one spec; null when the document has none (then `missing` places it). */
function sortKey(hit: RankedHit, spec: SortSpec): SortKey {
  switch (spec.field) {
    case '_score':
      return hit.score;
    case '_doc':
      return hit.doc.seq;
    case '_shard_doc':
      return hit.shard * 2 ** 32 + hit.doc.seq;
  }
  const type = sortType(hit, spec);
  if (type === 'none') return null;
  const sourcePath = resolveField(hit.index, spec.field)?.sourcePath ?? spec.field;
  const keys = valuesAt(hit.doc.source, sourcePath)
    .map((v) => (type === 'number' ? toNumber(v) : v === null || isObject(v) ? null : String(v)))
    .filter((v): v is number | string => v !== null);
  if (keys.length === 0) return null;
  const mode = spec.mode ?? (spec.order === 'asc' ? 'min' : 'max');
  return keys.reduce((best, v) =>
    (mode === 'min' ? compareKeys(v, best) < 0 : compareKeys(v, best) > 0) ? v : best,
  );
}

function compareKeys(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  // NOTE: keywords sort by their UTF-8 bytes (Lucene's BytesRef order), not by UTF-16 code units.
  return Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b)));
}

function compareOne(a: SortKey, b: SortKey, spec: SortSpec): number {
  if (a === null || b === null) {
    if (a === b) return 0;
    const missingFirst = spec.missing === '_first';
    return (a === null) === missingFirst ? -1 : 1;
  }
  const c = compareKeys(a, b);
  return spec.order === 'asc' ? c : -c;
}

/** Compares two sort-value tuples under `specs`. */
export function compareSortValues(a: SortKey[], b: SortKey[], specs: SortSpec[]): number {
  for (let i = 0; i < specs.length; i++) {
    const c = compareOne(a[i] ?? null, b[i] ?? null, specs[i]!);
    if (c !== 0) return c;
  }
  return 0;
}

/** Lucene's order for equal sort values: by shard, then by doc id. */
export function indexOrder(a: RankedHit, b: RankedHit): number {
  return a.shard - b.shard || a.doc.seq - b.doc.seq;
}

/** Sorts hits by `specs` (filling `sortValues`), or by score when `specs` is undefined. */
export function sortHits(hits: RankedHit[], specs: SortSpec[] | undefined): RankedHit[] {
  if (specs === undefined) return hits.sort((a, b) => b.score - a.score || indexOrder(a, b));
  for (const hit of hits) {
    hit.sortValues = specs.map((spec) => {
      const key = sortKey(hit, spec);
      return key === null && !['_first', '_last'].includes(String(spec.missing)) ? spec.missing : key;
    });
  }
  return hits.sort(
    (a, b) =>
      compareSortValues(a.sortValues as SortKey[], b.sortValues as SortKey[], specs) || indexOrder(a, b),
  );
}

/**
 * Keeps the hits strictly after `searchAfter` in `specs` order (equal values are skipped, as Lucene's
 * search-after does). Throws what Elasticsearch answers for a missing sort or a length mismatch.
 */
export function applySearchAfter(
  hits: RankedHit[],
  specs: SortSpec[] | undefined,
  searchAfter: Json[],
  indexName: string,
): RankedHit[] {
  if (specs === undefined || specs.length === 0) {
    throw allShardsFailed(badRequest('Sort must contain at least one field.'), indexName);
  }
  if (searchAfter.length !== specs.length) {
    throw allShardsFailed(
      badRequest(`search_after has ${searchAfter.length} value(s) but sort has ${specs.length}.`),
      indexName,
    );
  }
  const after: SortKey[] = searchAfter.map((value, i) => {
    if (value === null) return null;
    const spec = specs[i]!;
    if (typeof value === 'number' || (typeof value === 'string' && spec.field !== '_score')) {
      if (SPECIAL.has(spec.field) && typeof value !== 'number') {
        throw allShardsFailed(
          badRequest(`Failed to parse search_after value for field [${spec.field}].`),
          indexName,
        );
      }
      return value;
    }
    throw allShardsFailed(
      badRequest(`Failed to parse search_after value for field [${spec.field}].`),
      indexName,
    );
  });
  return hits.filter((hit) => {
    const values = (hit.sortValues ?? []) as SortKey[];
    const numericAfter = after.map((v, i) =>
      typeof v === 'string' && typeof values[i] === 'number' ? Number(v) : v,
    );
    return compareSortValues(values, numericAfter, specs) > 0;
  });
}
