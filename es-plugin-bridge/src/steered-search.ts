// `_search` through the bridge: bodies without a steer clause go upstream byte for byte; steered ones are
// rewritten (knn / sparse_vector / rrf), and hybrid ones fused by the bridge when the cluster's licence lacks RRF.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  buildSearchBody,
  chooseVectorField,
  fuseReciprocalRank,
  hybridParts,
  parseVersion,
} from '@steer/elasticsearch';
import type { DenseVectorField, estypes } from '@steer/elasticsearch';
import { BridgeHttpError } from './es-errors.js';
import { relay, relayRead, sendJson } from './relay.js';
import { checkJsonContentType, decodeRequestBody, parseJson, readBody } from './request-checks.js';
import { assertSteerable, parseSteerClause, steerSyntaxError, steeredBody } from './steer-clause.js';
import type { RewriteFields, SteerClause, SteeredBody } from './steer-clause.js';
import { isSteerQueryError } from './steering.js';
import type { BridgeSteering } from './steering.js';
import { decompress } from './upstream.js';
import type { HeaderMap, ReadAnswer, Upstream, UpstreamAnswer } from './upstream.js';
import { RelayedAnswer } from './upstream-facts.js';
import type { UpstreamFacts } from './upstream-facts.js';

export interface SearchContext {
  upstream: Upstream;
  facts: UpstreamFacts;
  steering: BridgeSteering;
  maxBodyBytes: number;
  latentField: string;
  vectorField?: string;
  /** The caller's end-to-end headers plus the bridge's credentials when the caller sent none. */
  forwardHeaders(req: IncomingMessage): HeaderMap;
  onError?: (error: unknown) => void;
}

/** A search the bridge targets: the decoded index expression (for messages) and its raw path segment. */
export interface SearchTarget {
  index?: string;
  indexPath?: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The error answer for a failure of the steering pipeline. */
export function steeringError(error: unknown, onError?: (error: unknown) => void): BridgeHttpError {
  if (error instanceof BridgeHttpError) return error;
  if (isSteerQueryError(error)) return steerSyntaxError(error.message, error.diagnostics);
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  if (error instanceof Error && typeof code === 'string') {
    return new BridgeHttpError(400, 'illegal_argument_exception', `[steer] ${error.message}`, {
      steer_code: code,
    });
  }
  onError?.(error);
  return new BridgeHttpError(
    500,
    'steer_bridge_exception',
    `steer bridge: internal error: ${error instanceof Error ? error.message : String(error)}`,
  );
}

/** Maps a filter field to its `.keyword` sub-field when it is a text field with one (term queries need it). */
function termFieldFrom(mappings: unknown[]) {
  return (field: string): string => {
    for (const mapping of mappings) {
      const node = (
        mapping as
          | { properties?: Record<string, { type?: string; fields?: Record<string, { type?: string }> }> }
          | undefined
      )?.properties?.[field];
      if (node?.type === 'text' && node.fields) {
        const keyword = Object.entries(node.fields).find(([, sub]) => sub.type === 'keyword');
        if (keyword) return `${field}.${keyword[0]}`;
      }
    }
    return field;
  };
}

async function resolveFields(
  ctx: SearchContext,
  req: IncomingMessage,
  index: string | undefined,
  clause: SteerClause,
  dims: number,
): Promise<RewriteFields> {
  const { fields, mappings } = await ctx.facts.indexFields(index, req.headers);
  let field: DenseVectorField;
  try {
    field = chooseVectorField(index ?? '_all', fields, clause.field ?? ctx.vectorField);
  } catch (error) {
    throw new BridgeHttpError(400, 'illegal_argument_exception', `[steer] ${(error as Error).message}`);
  }
  if (field.dims !== undefined && field.dims !== dims) {
    throw new BridgeHttpError(
      400,
      'illegal_argument_exception',
      `[steer] field [${field.path}] of [${index ?? '_all'}] holds ${field.dims}-d vectors but the steered query vector has ${dims} dims; the SAE's embedding model does not match this index — search an index built with that model`,
    );
  }
  return { vectorField: field.path, latentField: ctx.latentField, termField: termFieldFrom(mappings) };
}

/** A body worth parsing for a steer clause (a `"steer"` key, or escapes that could spell one). */
function mightSteer(body: Buffer): boolean {
  return body.includes('"steer"') || body.includes('\\u');
}

/** Sends a buffered body upstream with the caller's headers (minus a content-encoding it no longer has). */
function sendBuffered(
  ctx: SearchContext,
  req: IncomingMessage,
  target: string,
  body: Buffer,
  decoded: boolean,
) {
  const headers = ctx.forwardHeaders(req);
  if (decoded) delete headers['content-encoding'];
  headers['content-length'] = String(body.length);
  return ctx.upstream.send(req.method ?? 'POST', target, headers, body);
}

/**
 * Handles `GET|POST /<index>/_search`: reads the body (within the limit, decompressing it), steers it when it
 * has a steer clause, and relays the upstream's answer.
 */
export async function handleSearch(
  ctx: SearchContext,
  req: IncomingMessage,
  res: ServerResponse,
  target: SearchTarget,
  pathAndQuery: string,
): Promise<void> {
  const raw = await readBody(req, ctx.maxBodyBytes);
  const encoding = req.headers['content-encoding'];
  const decoded = encoding === undefined ? raw : decodeRequestBody(raw, encoding, ctx.maxBodyBytes);
  if (decoded.length === 0 || !mightSteer(decoded)) {
    await relay(res, await sendBuffered(ctx, req, pathAndQuery, raw, false));
    return;
  }
  checkJsonContentType(req.headers);
  const body = parseJson(decoded);
  if (!isObject(body) || body.steer === undefined) {
    await relay(res, await sendBuffered(ctx, req, pathAndQuery, raw, false));
    return;
  }
  const clause = parseSteerClause(body.steer);
  assertSteerable(body);
  const facts = await ctx.facts.cluster(req.headers);
  let steered;
  try {
    steered = await ctx.steering.resolve(clause.query, {
      k: clause.k,
      numCandidates: clause.numCandidates,
      index: target.index,
    });
  } catch (error) {
    throw steeringError(error, ctx.onError);
  }
  const fields = await resolveFields(ctx, req, target.index, clause, steered.vector.length);
  const split = steeredBody(body, clause, steered, fields);
  let built;
  try {
    built = buildSearchBody(split.bodyRequest);
  } catch (error) {
    throw new BridgeHttpError(400, 'illegal_argument_exception', `[steer] ${(error as Error).message}`);
  }
  const version = parseVersion(facts.version ?? '');
  // 8.15 ran the rrf retriever through its legacy rank phase, which broke ties by the children's scores.
  const legacyTieBreak = version.major === 8 && version.minor === 15;
  if (split.bodyRequest.mode === 'hybrid' && facts.rrfRefused) {
    sendJson(res, 200, await fuseInBridge(ctx, req, target, split, legacyTieBreak));
    return;
  }
  const rewritten = Buffer.from(JSON.stringify({ ...split.rest, ...built }));
  const answer = await sendBuffered(ctx, req, pathAndQuery, rewritten, encoding !== undefined);
  if (split.bodyRequest.mode !== 'hybrid' || answer.status !== 403) {
    await relay(res, answer);
    return;
  }
  const read = await readAll(ctx, answer);
  // The 403 of a licence without RRF: fuse in the bridge, now and for this caller's next searches.
  if (!read.body.toString('utf8').includes('Reciprocal Rank Fusion')) {
    relayRead(res, read);
    return;
  }
  ctx.facts.refuseRrf(req.headers);
  sendJson(res, 200, await fuseInBridge(ctx, req, target, split, legacyTieBreak));
}

async function readAll(ctx: SearchContext, answer: UpstreamAnswer): Promise<ReadAnswer> {
  const chunks: Buffer[] = [];
  for await (const chunk of answer.body) chunks.push(chunk as Buffer);
  const headers = { ...answer.headers };
  const body = decompress(Buffer.concat(chunks), headers['content-encoding'], ctx.maxBodyBytes);
  delete headers['content-encoding'];
  delete headers['content-length'];
  return { status: answer.status, headers, body };
}

/** Keys a fused hybrid search cannot honour: they need the cluster to see the fused result as one search. */
const UNFUSABLE = [
  'aggs',
  'aggregations',
  'post_filter',
  'collapse',
  'rescore',
  'suggest',
  'search_after',
  'sort',
  'pit',
  'min_score',
];

/** Reads an upstream answer the bridge needs as JSON; relays errors as they came. */
async function upstreamJson(
  ctx: SearchContext,
  method: string,
  path: string,
  headers: HeaderMap,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  if (payload) {
    headers = { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length) };
  }
  const answer = await ctx.upstream.read(method, path, headers, payload);
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (answer.status >= 300 || !isObject(parsed)) throw new RelayedAnswer(answer);
  return parsed;
}

/**
 * Hybrid search where the cluster's licence lacks the rrf retriever: the dense and sparse children run on one
 * point in time (one snapshot; `_shard_doc` sort values break ties as Elasticsearch does), and the bridge fuses
 * them with the cluster's RRF arithmetic. Returns a search answer in Elasticsearch's shape.
 */
async function fuseInBridge(
  ctx: SearchContext,
  req: IncomingMessage,
  target: SearchTarget,
  split: SteeredBody,
  legacyTieBreak: boolean,
): Promise<Record<string, unknown>> {
  const unfusable = UNFUSABLE.filter((key) => split.rest[key] !== undefined);
  if (unfusable.length > 0) {
    throw new BridgeHttpError(
      400,
      'illegal_argument_exception',
      `[steer] mode=hybrid on this cluster is fused by the bridge (its licence lacks the rrf retriever), which cannot apply [${unfusable.join(', ')}]; drop them, use mode=dense or mode=sparse, or use an Enterprise or trial licence`,
    );
  }
  let parts;
  try {
    parts = hybridParts(split.bodyRequest);
  } catch (error) {
    throw new BridgeHttpError(400, 'illegal_argument_exception', `[steer] ${(error as Error).message}`);
  }
  const headers = ctx.facts.ownHeaders(req.headers);
  const { size: _size, from: fromValue, track_total_hits: _tth, ...passthrough } = split.rest;
  const from = typeof fromValue === 'number' ? fromValue : 0;
  const pit = await upstreamJson(ctx, 'POST', `/${target.indexPath ?? '_all'}/_pit?keep_alive=1m`, headers);
  const pitId = String(pit.id);
  try {
    const child = (extra: Record<string, unknown>) =>
      upstreamJson(ctx, 'POST', '/_search', headers, {
        ...passthrough,
        ...extra,
        pit: { id: pitId, keep_alive: '1m' },
        size: parts.window,
        sort: [{ _score: { order: 'desc' } }],
        track_total_hits: false,
      });
    const sparseQuery = {
      bool: { must: [parts.sparse], ...(parts.filter.length ? { filter: parts.filter } : {}) },
    };
    const started = Date.now();
    const [dense, sparse] = await Promise.all([child({ knn: parts.knn }), child({ query: sparseQuery })]);
    const lists = [dense, sparse].map(
      (answer) => ((answer.hits as { hits?: unknown[] } | undefined)?.hits ?? []) as estypes.SearchHit[],
    );
    const fused = fuseReciprocalRank(lists as Array<Array<estypes.SearchHit & { _index: string }>>, {
      rankConstant: parts.rankConstant,
      rankWindowSize: parts.window,
      legacyTieBreak,
    });
    const page = fused.slice(from, from + parts.size).map(({ hit, score }) => {
      const { sort: _sort, ...rest } = hit;
      return { ...rest, _score: score };
    });
    return {
      took: Date.now() - started,
      timed_out: false,
      _shards: dense._shards,
      hits: {
        total: { value: fused.length, relation: 'eq' },
        max_score: page.length > 0 ? page[0]!._score : null,
        hits: page,
      },
    };
  } finally {
    await ctx.upstream
      .read(
        'DELETE',
        '/_pit',
        { ...headers, 'content-type': 'application/json' },
        Buffer.from(JSON.stringify({ id: pitId })),
      )
      .catch(() => undefined);
  }
}
