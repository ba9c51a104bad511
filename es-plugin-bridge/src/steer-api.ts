// The bridge's own endpoints under `/_steer`: concept search over the SAE's features and hit explanations.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BridgeHttpError } from './es-errors.js';
import { sendJson } from './relay.js';
import { checkJsonContentType, decodeRequestBody, parseJson, readBody } from './request-checks.js';
import { steeringError } from './steered-search.js';
import type { BridgeSteering, ExplainHitInput } from './steering.js';

export interface SteerApiContext {
  steering: BridgeSteering;
  upstreamOrigin: string;
  maxBodyBytes: number;
  onError?: (error: unknown) => void;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Answers `GET /_steer`, `GET /_steer/features?q=` and `POST /_steer/explain`; 404 for anything else there. */
export async function handleSteerApi(
  ctx: SteerApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const route = url.pathname.replace(/\/+$/, '');
  if (route === '/_steer' && (req.method === 'GET' || req.method === 'HEAD')) {
    sendJson(res, 200, {
      name: 'steer-bridge',
      upstream: ctx.upstreamOrigin,
      endpoints: ['GET /_steer/features?q=<concept>&limit=<n>', 'POST /_steer/explain'],
    });
    return;
  }
  if (route === '/_steer/features' && req.method === 'GET') {
    const concept = url.searchParams.get('q');
    if (!concept || concept.trim() === '')
      throw new BridgeHttpError(
        400,
        'illegal_argument_exception',
        '[steer] /_steer/features needs ?q=<concept>, e.g. ?q=finance',
      );
    const limitText = url.searchParams.get('limit') ?? '10';
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      throw new BridgeHttpError(
        400,
        'illegal_argument_exception',
        `[steer] limit must be an integer from 1 to 100, got [${limitText}]`,
      );
    let features;
    try {
      features = await ctx.steering.searchFeatures(concept, limit);
    } catch (error) {
      throw steeringError(error, ctx.onError);
    }
    sendJson(res, 200, { concept, features });
    return;
  }
  if (route === '/_steer/explain' && req.method === 'POST') {
    const raw = await readBody(req, ctx.maxBodyBytes);
    checkJsonContentType(req.headers);
    const body = parseJson(decodeRequestBody(raw, req.headers['content-encoding'], ctx.maxBodyBytes));
    const usage =
      '[steer] /_steer/explain takes {"query": "<steer query>", "hits": [{"id": "...", "text": "..."}], "top": 5}';
    if (!isObject(body) || typeof body.query !== 'string' || !Array.isArray(body.hits))
      throw new BridgeHttpError(400, 'illegal_argument_exception', usage);
    if (body.hits.length > 100) {
      throw new BridgeHttpError(
        400,
        'illegal_argument_exception',
        `[steer] /_steer/explain takes at most 100 hits, got ${body.hits.length}`,
      );
    }
    const hits: ExplainHitInput[] = [];
    for (const hit of body.hits) {
      if (!isObject(hit) || typeof hit.id !== 'string' || typeof hit.text !== 'string')
        throw new BridgeHttpError(
          400,
          'illegal_argument_exception',
          `${usage}; every hit needs a string id and text`,
        );
      hits.push({
        id: hit.id,
        text: hit.text,
        score: typeof hit.score === 'number' ? hit.score : undefined,
      });
    }
    const top = body.top === undefined ? 5 : body.top;
    if (typeof top !== 'number' || !Number.isInteger(top) || top < 1 || top > 100)
      throw new BridgeHttpError(
        400,
        'illegal_argument_exception',
        '[steer] top must be an integer from 1 to 100',
      );
    let explained;
    try {
      explained = await ctx.steering.explain({ query: body.query, hits, top });
    } catch (error) {
      throw steeringError(error, ctx.onError);
    }
    sendJson(res, 200, { hits: explained });
    return;
  }
  throw new BridgeHttpError(
    404,
    'resource_not_found_exception',
    `steer bridge: no handler for [${req.method} ${url.pathname}]; see GET /_steer`,
  );
}
