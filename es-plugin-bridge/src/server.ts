// The bridge: a node:http server that speaks Elasticsearch, rewrites `steer` clauses and proxies everything else.
import { Agent as HttpAgent, createServer, request as httpRequest } from 'node:http';
import type {
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  Server,
  ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { chooseVectorField, denseVectorFields } from '@steer/elasticsearch';
import type { DenseVectorField } from '@steer/elasticsearch';
import { BridgeHttpError, sendEsError } from './es-errors.js';
import { parseSteerClause, rewriteSearchBody, steerSyntaxError } from './steer-clause.js';
import type { RewriteFields, SteerClause } from './steer-clause.js';
import { isSteerQueryError } from './steering.js';
import type { BridgeSteering, ExplainHitInput } from './steering.js';

export interface BridgeOptions {
  /** The Elasticsearch cluster requests go to, e.g. `http://localhost:9200`. */
  upstream: string;
  steering: BridgeSteering;
  /** Interface to listen on (default 127.0.0.1: only this machine can reach the bridge). */
  host?: string;
  /** Port (default 9400; 0 picks a free one). */
  port?: number;
  /** Largest request body accepted, in bytes (default 10 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /** Milliseconds to wait for the upstream's answer, and between chunks of it (default 30000); then 504. */
  upstreamTimeoutMs?: number;
  /**
   * `authorization` header added to requests that come without one (e.g. `ApiKey ...`). By default the bridge
   * forwards the caller's credentials only and never adds its own.
   */
  upstreamAuthorization?: string;
  /** dense_vector field of steered searches when the clause names none (default: the index's only one). */
  vectorField?: string;
  /** sparse_vector field with the documents' latents (default `steer_latents`). */
  latentField?: string;
  /** Parallel connections to the upstream (default 64; more requests wait). */
  maxUpstreamSockets?: number;
  /** How long an index's dense_vector fields are remembered (default 30000 ms). */
  mappingCacheMs?: number;
  /** Called with unexpected errors (answered 500); default: none. */
  onError?: (error: unknown) => void;
}

/** A listening bridge. */
export interface RunningBridge {
  url: string;
  host: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

const SEARCH_PATH = /^\/(?:([^/]+)\/)?_search\/?$/;

interface UpstreamAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** An upstream answer relayed as is (e.g. the 404 of `_mapping` for a missing index). */
class RelayedAnswer extends Error {
  constructor(readonly answer: UpstreamAnswer) {
    super(`upstream answered ${answer.status}`);
  }
}

function copyHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connectionTokens = String(headers.connection ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionTokens.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function tooLarge(limit: number): BridgeHttpError {
  return new BridgeHttpError(
    413,
    'content_too_long_exception',
    `steer bridge: the request body is larger than the limit of ${limit} bytes; send a smaller body or raise --max-body`,
  );
}

/**
 * Reads a request body up to `limit` bytes. Over the limit, the rest is read and dropped (so the client can
 * read the 413) up to 4× the limit, then the connection is cut. Throws BridgeHttpError 413.
 */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const hardCap = Math.max(4 * limit, 1024 * 1024);
  if (Number.isFinite(declared) && declared > hardCap) {
    req.destroy();
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  let over = false;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      over = true;
      chunks.length = 0;
      if (total > hardCap) {
        req.destroy();
        break;
      }
      continue;
    }
    chunks.push(chunk as Buffer);
  }
  if (over) throw tooLarge(limit);
  return Buffer.concat(chunks);
}

/** The error answer for a failure of the steering pipeline. */
function steeringError(error: unknown, onError?: (error: unknown) => void): BridgeHttpError {
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

interface CachedFields {
  expires: number;
  fields: DenseVectorField[];
  mappings: unknown[];
}

/**
 * Creates the bridge server (not listening). Requests: `POST|GET /<index>/_search` with a `steer` clause are
 * rewritten; `GET /_steer/features?q=` and `POST /_steer/explain` answer from the steering; everything else is
 * proxied unchanged, streaming. Every answer the bridge makes itself is in Elasticsearch's error/response shape.
 */
export function createBridgeServer(options: BridgeOptions): Server {
  let upstream: URL;
  try {
    upstream = new URL(options.upstream);
  } catch {
    throw new TypeError(
      `steer bridge: --upstream '${options.upstream}' is not a URL; use e.g. http://localhost:9200`,
    );
  }
  if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:') {
    throw new TypeError(`steer bridge: --upstream '${options.upstream}' must start with http:// or https://`);
  }
  const upstreamBase = upstream.pathname.replace(/\/+$/, '');
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const timeoutMs = options.upstreamTimeoutMs ?? 30_000;
  const latentField = options.latentField ?? 'steer_latents';
  const mappingCacheMs = options.mappingCacheMs ?? 30_000;
  const secure = upstream.protocol === 'https:';
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, maxSockets: options.maxUpstreamSockets ?? 64 })
    : new HttpAgent({ keepAlive: true, maxSockets: options.maxUpstreamSockets ?? 64 });
  const fieldCache = new Map<string, CachedFields>();

  const upstreamHeaders = (incoming: IncomingHttpHeaders): OutgoingHttpHeaders => {
    const headers = copyHeaders(incoming);
    headers.host = upstream.host;
    if (headers.authorization === undefined && options.upstreamAuthorization)
      headers.authorization = options.upstreamAuthorization;
    return headers;
  };

  const unreachable = (error: Error): BridgeHttpError =>
    new BridgeHttpError(
      502,
      'connect_exception',
      `steer bridge: cannot reach the upstream ${upstream.origin} (${(error as NodeJS.ErrnoException).code ?? error.message}); start Elasticsearch or fix --upstream`,
    );
  const timedOut = (): BridgeHttpError =>
    new BridgeHttpError(
      504,
      'timeout_exception',
      `steer bridge: the upstream ${upstream.origin} did not answer within ${timeoutMs} ms; retry, or raise --timeout`,
    );

  /**
   * Sends one request upstream and pipes the answer to `res`. `body` is sent as is when given, else the
   * incoming request is streamed through (counted against the body limit).
   */
  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    body?: Buffer,
    extraHeaders: OutgoingHttpHeaders = {},
  ): Promise<void> =>
    new Promise<void>((resolve) => {
      const headers = { ...upstreamHeaders(req.headers), ...extraHeaders };
      if (body !== undefined) {
        delete headers['transfer-encoding'];
        headers['content-length'] = body.length;
      }
      const declared = Number(req.headers['content-length']);
      if (body === undefined && Number.isFinite(declared) && declared > maxBodyBytes) {
        // Drain what the client sends so it can read the 413, then answer.
        readBody(req, maxBodyBytes)
          .then(
            () => undefined,
            (error: BridgeHttpError) => sendEsError(res, error),
          )
          .finally(resolve);
        return;
      }
      let settled = false;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve();
      };
      const fail = (error: BridgeHttpError): void => {
        upstreamReq.destroy();
        sendEsError(res, error);
        finish();
      };
      const send = secure ? httpsRequest : httpRequest;
      const upstreamReq = send({
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port || (secure ? 443 : 80),
        method: req.method,
        path: upstreamBase + (req.url ?? '/'),
        headers,
        agent,
      });
      let timer = setTimeout(() => fail(timedOut()), timeoutMs);
      upstreamReq.on('error', (error) => {
        if (settled) return;
        fail(unreachable(error));
      });
      upstreamReq.on('response', (upstreamRes) => {
        clearTimeout(timer);
        const responseHeaders = copyHeaders(upstreamRes.headers);
        if (responseHeaders['x-elastic-product'] === undefined)
          responseHeaders['x-elastic-product'] = 'Elasticsearch';
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, responseHeaders);
        const idle = (): void => {
          clearTimeout(timer);
          timer = setTimeout(() => {
            upstreamRes.destroy();
            res.destroy();
            finish();
          }, timeoutMs);
        };
        idle();
        upstreamRes.on('data', idle);
        upstreamRes.on('error', () => {
          res.destroy();
          finish();
        });
        upstreamRes.on('end', finish);
        upstreamRes.pipe(res);
      });
      res.on('close', () => {
        if (!res.writableFinished) upstreamReq.destroy();
        finish();
      });
      if (body !== undefined) {
        upstreamReq.end(body);
        return;
      }
      let sent = 0;
      req.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (sent > maxBodyBytes) {
          req.pause();
          req.removeAllListeners('data');
          fail(tooLarge(maxBodyBytes));
          req.resume();
          return;
        }
        if (!upstreamReq.write(chunk)) {
          req.pause();
          upstreamReq.once('drain', () => req.resume());
        }
      });
      req.on('end', () => upstreamReq.end());
      req.on('error', () => upstreamReq.destroy());
    });

  /** A small request to the upstream made by the bridge itself (with the caller's credentials). */
  const fetchUpstream = (
    method: string,
    path: string,
    incoming: IncomingHttpHeaders,
  ): Promise<UpstreamAnswer> =>
    new Promise<UpstreamAnswer>((resolve, reject) => {
      const headers = upstreamHeaders(incoming);
      for (const name of Object.keys(headers)) if (name.startsWith('content-')) delete headers[name];
      headers.accept = 'application/json';
      const send = secure ? httpsRequest : httpRequest;
      const upstreamReq = send({
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port || (secure ? 443 : 80),
        method,
        path: upstreamBase + path,
        headers,
        agent,
      });
      const timer = setTimeout(() => {
        upstreamReq.destroy();
        reject(timedOut());
      }, timeoutMs);
      upstreamReq.on('error', (error) => {
        clearTimeout(timer);
        reject(unreachable(error));
      });
      upstreamReq.on('response', (upstreamRes) => {
        const chunks: Buffer[] = [];
        upstreamRes.on('data', (c: Buffer) => chunks.push(c));
        upstreamRes.on('error', (error) => {
          clearTimeout(timer);
          reject(unreachable(error));
        });
        upstreamRes.on('end', () => {
          clearTimeout(timer);
          resolve({
            status: upstreamRes.statusCode ?? 502,
            headers: upstreamRes.headers,
            body: Buffer.concat(chunks),
          });
        });
      });
      upstreamReq.end();
    });

  /** dense_vector fields (and raw mappings) of `index`, from the upstream's `_mapping`, cached briefly. */
  const indexFields = async (
    index: string | undefined,
    incoming: IncomingHttpHeaders,
  ): Promise<CachedFields> => {
    const key = `${index ?? ''}\u0000${incoming.authorization ?? ''}`;
    const cached = fieldCache.get(key);
    if (cached && cached.expires > Date.now()) return cached;
    const answer = await fetchUpstream(
      'GET',
      index === undefined
        ? '/_mapping'
        : `/${encodeURIComponent(index).replace(/%2C/gi, ',').replace(/%2A/gi, '*')}/_mapping`,
      incoming,
    );
    if (answer.status !== 200) throw new RelayedAnswer(answer);
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw new BridgeHttpError(
        502,
        'steer_bridge_exception',
        `steer bridge: the upstream's _mapping answer is not JSON`,
      );
    }
    const mappings = isObject(parsed)
      ? Object.values(parsed).map((entry) => (isObject(entry) ? entry.mappings : undefined))
      : [];
    const byPath = new Map<string, DenseVectorField>();
    for (const mapping of mappings)
      for (const field of denseVectorFields(mapping))
        if (!byPath.has(field.path)) byPath.set(field.path, field);
    const entry = { expires: Date.now() + mappingCacheMs, fields: [...byPath.values()], mappings };
    if (fieldCache.size > 1000) fieldCache.clear();
    fieldCache.set(key, entry);
    return entry;
  };

  const termFieldFrom =
    (mappings: unknown[]) =>
    (field: string): string => {
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

  const resolveFields = async (
    index: string | undefined,
    clause: SteerClause,
    incoming: IncomingHttpHeaders,
    dims: number,
  ): Promise<RewriteFields> => {
    const { fields, mappings } = await indexFields(index, incoming);
    let field: DenseVectorField;
    try {
      field = chooseVectorField(index ?? '_all', fields, clause.field ?? options.vectorField);
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
    return { vectorField: field.path, latentField, termField: termFieldFrom(mappings) };
  };

  const handleSearch = async (
    req: IncomingMessage,
    res: ServerResponse,
    index: string | undefined,
  ): Promise<void> => {
    const raw = await readBody(req, maxBodyBytes);
    if (raw.length === 0 || !raw.includes('"steer"')) {
      await forward(req, res, raw);
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      throw new BridgeHttpError(
        400,
        'x_content_parse_exception',
        `[1:1] failed to parse the request body as JSON: ${(error as Error).message}`,
      );
    }
    if (!isObject(body) || body.steer === undefined) {
      await forward(req, res, raw);
      return;
    }
    const clause = parseSteerClause(body.steer);
    let steered;
    try {
      steered = await options.steering.resolve(clause.query, {
        k: clause.k,
        numCandidates: clause.numCandidates,
        index,
      });
    } catch (error) {
      throw steeringError(error, options.onError);
    }
    const fields = await resolveFields(index, clause, req.headers, steered.vector.length);
    const rewritten = Buffer.from(JSON.stringify(rewriteSearchBody(body, clause, steered, fields)));
    const contentType = String(req.headers['content-type'] ?? '');
    await forward(
      req,
      res,
      rewritten,
      contentType.includes('json') ? {} : { 'content-type': 'application/json' },
    );
  };

  const sendJson = (res: ServerResponse, status: number, value: unknown): void => {
    const payload = Buffer.from(JSON.stringify(value));
    res.writeHead(status, {
      'content-type': 'application/json; charset=UTF-8',
      'content-length': payload.length,
      'x-elastic-product': 'Elasticsearch',
    });
    res.end(payload);
  };

  const handleSteerApi = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const route = url.pathname.replace(/\/+$/, '');
    if (route === '/_steer' && (req.method === 'GET' || req.method === 'HEAD')) {
      sendJson(res, 200, {
        name: 'steer-bridge',
        upstream: upstream.origin,
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
        features = await options.steering.searchFeatures(concept, limit);
      } catch (error) {
        throw steeringError(error, options.onError);
      }
      sendJson(res, 200, { concept, features });
      return;
    }
    if (route === '/_steer/explain' && req.method === 'POST') {
      const raw = await readBody(req, maxBodyBytes);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (error) {
        throw new BridgeHttpError(
          400,
          'x_content_parse_exception',
          `[1:1] failed to parse the request body as JSON: ${(error as Error).message}`,
        );
      }
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
        explained = await options.steering.explain({ query: body.query, hits, top });
      } catch (error) {
        throw steeringError(error, options.onError);
      }
      sendJson(res, 200, { hits: explained });
      return;
    }
    throw new BridgeHttpError(
      404,
      'resource_not_found_exception',
      `steer bridge: no handler for [${req.method} ${url.pathname}]; see GET /_steer`,
    );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://bridge.invalid');
    } catch {
      throw new BridgeHttpError(
        400,
        'illegal_argument_exception',
        `steer bridge: cannot parse the request target [${req.url}]`,
      );
    }
    if (url.pathname === '/_steer' || url.pathname.startsWith('/_steer/'))
      return handleSteerApi(req, res, url);
    const search = SEARCH_PATH.exec(url.pathname);
    if (search && (req.method === 'POST' || req.method === 'GET')) {
      let index: string | undefined;
      try {
        index = search[1] === undefined ? undefined : decodeURIComponent(search[1]);
      } catch {
        throw new BridgeHttpError(
          400,
          'illegal_argument_exception',
          `steer bridge: bad percent-encoding in [${url.pathname}]`,
        );
      }
      return handleSearch(req, res, index);
    }
    return forward(req, res);
  };

  const server = createServer((req, res) => {
    req.on('error', () => res.destroy());
    res.on('error', () => undefined);
    handle(req, res).catch((error: unknown) => {
      if (error instanceof RelayedAnswer) {
        if (res.headersSent) return void res.destroy();
        const headers = copyHeaders(error.answer.headers);
        headers['x-elastic-product'] ??= 'Elasticsearch';
        headers['content-length'] = error.answer.body.length;
        res.writeHead(error.answer.status, headers);
        res.end(error.answer.body);
        return;
      }
      if (!(error instanceof BridgeHttpError)) options.onError?.(error);
      const answer =
        error instanceof BridgeHttpError
          ? error
          : new BridgeHttpError(
              500,
              'steer_bridge_exception',
              `steer bridge: internal error: ${error instanceof Error ? error.message : String(error)}`,
            );
      sendEsError(res, answer);
      // NOTE: after an error answer to a body we did not read, drop the rest so the socket is not reused half-read.
      if (!req.complete) req.resume();
    });
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable)
      socket.end(
        'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\nx-elastic-product: Elasticsearch\r\n\r\n',
      );
    else socket.destroy();
  });
  server.on('close', () => agent.destroy());
  return server;
}

/**
 * Starts the bridge on `options.host` (default 127.0.0.1) and `options.port` (default 9400).
 * Returns once it listens; throws when the address is taken or the upstream URL is invalid.
 */
export async function startBridge(options: BridgeOptions): Promise<RunningBridge> {
  const server = createBridgeServer(options);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9400, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    host,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
