// The `steer` clause of a search body: parsing it, and rewriting the body into knn / sparse_vector / rrf.
import { buildSearchBody, compileFilter } from '@steer/elasticsearch';
import type { estypes, SearchBodyRequest } from '@steer/elasticsearch';
import { BridgeHttpError } from './es-errors.js';
import type { EsErrorCause } from './es-errors.js';
import type { SteerDiagnostic, SteeredQuery } from './steering.js';

/** A parsed steer clause: `"steer": "<query>"` or `"steer": {"query": ..., "field": ..., "k": ..., "num_candidates": ...}`. */
export interface SteerClause {
  query: string;
  field?: string;
  k?: number;
  numCandidates?: number;
  mode?: 'dense' | 'sparse' | 'hybrid';
  /** sparse_vector field holding the latents (default from the bridge options). */
  latentField?: string;
}

const CLAUSE_KEYS = ['query', 'field', 'k', 'num_candidates', 'mode', 'latent_field'];

function invalid(reason: string): BridgeHttpError {
  return new BridgeHttpError(400, 'illegal_argument_exception', `[steer] ${reason}`);
}

/** Parses and validates a steer clause. Throws BridgeHttpError 400 naming the bad key. */
export function parseSteerClause(value: unknown): SteerClause {
  if (typeof value === 'string') {
    if (value.trim() === '') throw invalid('the steer query is empty; e.g. "steer": "\\"rivers\\" +f12"');
    return { query: value };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(
      'must be a steer query string or an object {"query": "...", "field": "...", "k": 10, "num_candidates": 100}',
    );
  }
  const clause = value as Record<string, unknown>;
  for (const key of Object.keys(clause)) {
    if (!CLAUSE_KEYS.includes(key))
      throw invalid(`unknown key [${key}]; known keys: ${CLAUSE_KEYS.join(', ')}`);
  }
  if (typeof clause.query !== 'string' || clause.query.trim() === '')
    throw invalid('[query] must be a non-empty steer query string');
  const out: SteerClause = { query: clause.query };
  if (clause.field !== undefined) {
    if (typeof clause.field !== 'string' || clause.field === '')
      throw invalid('[field] must be the name of a dense_vector field');
    out.field = clause.field;
  }
  for (const [key, prop] of [
    ['k', 'k'],
    ['num_candidates', 'numCandidates'],
  ] as const) {
    const n = clause[key];
    if (n === undefined) continue;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10_000)
      throw invalid(`[${key}] must be an integer from 1 to 10000, got ${JSON.stringify(n)}`);
    out[prop] = n;
  }
  if (out.k !== undefined && out.numCandidates !== undefined && out.numCandidates < out.k) {
    throw invalid(`[num_candidates] (${out.numCandidates}) cannot be less than [k] (${out.k})`);
  }
  if (clause.mode !== undefined) {
    if (clause.mode !== 'dense' && clause.mode !== 'sparse' && clause.mode !== 'hybrid')
      throw invalid('[mode] must be dense, sparse or hybrid');
    out.mode = clause.mode;
  }
  if (clause.latent_field !== undefined) {
    if (typeof clause.latent_field !== 'string' || clause.latent_field === '')
      throw invalid('[latent_field] must be a sparse_vector field name');
    out.latentField = clause.latent_field;
  }
  return out;
}

/**
 * The 400 answer for a steer query that does not parse or compile: `parsing_exception` with Elasticsearch's
 * 1-based `line`/`col` of the first error, the LSP `range`, and one root cause per diagnostic.
 */
export function steerSyntaxError(message: string, diagnostics: SteerDiagnostic[]): BridgeHttpError {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const causes: EsErrorCause[] = (errors.length ? errors : diagnostics).map((d) => ({
    type: 'parsing_exception',
    reason: `[${d.range.start.line + 1}:${d.range.start.character + 1}] steer ${d.code}: ${d.message}`,
    line: d.range.start.line + 1,
    col: d.range.start.character + 1,
    steer_code: d.code,
    range: d.range,
  }));
  if (causes.length === 0) return new BridgeHttpError(400, 'parsing_exception', `[steer] ${message}`);
  const first = causes[0]!;
  return new BridgeHttpError(
    400,
    'parsing_exception',
    `[steer] ${first.reason}${causes.length > 1 ? ` (and ${causes.length - 1} more)` : ''}`,
    { line: first.line, col: first.col, steer_code: first.steer_code, range: first.range },
    causes,
  );
}

export interface RewriteFields {
  vectorField: string;
  latentField: string;
  /** Maps a filter field to its keyword sub-field (see compileFilter). */
  termField?: (field: string) => string;
}

/** Throws BridgeHttpError 400 when a body with a steer clause also has `knn`, `retriever` or `rank`. */
export function assertSteerable(body: Record<string, unknown>): void {
  for (const key of ['knn', 'retriever', 'rank'] as const) {
    if (body[key] !== undefined)
      throw invalid(
        `cannot be combined with [${key}]: the steer clause becomes the ${key === 'knn' ? 'kNN search' : 'retriever'}`,
      );
  }
}

/** A steered search body split into the user's other keys and the query builder's input. */
export interface SteeredBody {
  /** Every key of the body but `steer` and `query` (`_source`, `size`, `aggs`, ...). */
  rest: Record<string, unknown>;
  bodyRequest: SearchBodyRequest;
}

/**
 * Splits a search body holding a steer clause: the user's `query` becomes a filter of the steered retrieval,
 * ANDed with the steer query's own filter. Throws BridgeHttpError 400 when the body also has `knn`, `retriever`
 * or `rank`.
 */
export function steeredBody(
  body: Record<string, unknown>,
  clause: SteerClause,
  steered: SteeredQuery,
  fields: RewriteFields,
): SteeredBody {
  assertSteerable(body);
  const { steer: _steer, query: userQuery, ...rest } = body;
  const filter: estypes.QueryDslQueryContainer[] = [];
  if (steered.filter) filter.push(compileFilter(steered.filter, { termField: fields.termField }));
  if (userQuery !== undefined) filter.push(userQuery as estypes.QueryDslQueryContainer);
  const bodyRequest: SearchBodyRequest = {
    mode: clause.mode ?? steered.mode,
    vectorField: fields.vectorField,
    latentField: clause.latentField ?? fields.latentField,
    query: { vector: steered.vector },
    latents: steered.latents,
    k: steered.k,
    numCandidates: steered.numCandidates,
    filter,
    size: typeof rest.size === 'number' ? rest.size : undefined,
  };
  return { rest, bodyRequest };
}

/**
 * Rewrites a search body holding a steer clause: removes `steer`, and adds `knn` (dense), a `sparse_vector`
 * query (sparse) or an `rrf` retriever (hybrid) built from the steered query. Keeps every other key (_source,
 * size, aggs, ...); see steeredBody for `query`. Throws BridgeHttpError 400 on a body it cannot steer.
 */
export function rewriteSearchBody(
  body: Record<string, unknown>,
  clause: SteerClause,
  steered: SteeredQuery,
  fields: RewriteFields,
): Record<string, unknown> {
  const { rest, bodyRequest } = steeredBody(body, clause, steered, fields);
  let built;
  try {
    built = buildSearchBody(bodyRequest);
  } catch (error) {
    throw invalid((error as Error).message);
  }
  return { ...rest, ...built };
}
