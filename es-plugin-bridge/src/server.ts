// The bridge: a node:http server that speaks Elasticsearch, rewrites `steer` clauses and proxies everything else
// to the upstream through undici, with the checks a local service holding credentials needs.
import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { BridgeHttpError, esErrorBody, sendEsError } from './es-errors.js';
import { relay, relayRead } from './relay.js';
import {
  bodyTooLarge,
  checkCaller,
  checkTarget,
  declaredLength,
  DEFAULT_MAX_BODY_BYTES,
  defaultAllowedHosts,
  limitedBody,
} from './request-checks.js';
import { handleSteerApi } from './steer-api.js';
import { handleSearch } from './steered-search.js';
import type { SearchContext } from './steered-search.js';
import type { BridgeSteering } from './steering.js';
import { endToEndHeaders, Upstream } from './upstream.js';
import type { HeaderMap } from './upstream.js';
import { RelayedAnswer, UpstreamFacts } from './upstream-facts.js';

export interface BridgeOptions {
  /** The Elasticsearch cluster requests go to, e.g. `http://localhost:9200` (a path prefix is kept). */
  upstream: string;
  steering: BridgeSteering;
  /** Interface to listen on (default 127.0.0.1: only this machine can reach the bridge). */
  host?: string;
  /** Port (default 9400; 0 picks a free one). */
  port?: number;
  /** Largest request body accepted, in bytes (default 100 MB, Elasticsearch's http.max_content_length); larger get 413. */
  maxBodyBytes?: number;
  /**
   * Milliseconds to wait for the upstream's answer once the request is sent, and between chunks of it
   * (default 30000); then 504. The time a caller takes to send its body is not counted.
   */
  upstreamTimeoutMs?: number;
  /** Milliseconds a caller has to send a whole request (default 300000) and its headers (default 60000); then 408. */
  clientTimeoutMs?: number;
  clientHeadersTimeoutMs?: number;
  /**
   * `authorization` header added to requests that come without one (e.g. `ApiKey ...`). By default the bridge
   * forwards the caller's credentials only. With it, the bridge answers only requests addressed to its own
   * host names (`allowedHosts`) and without a foreign `Origin` (`allowedOrigins`): no DNS rebinding, no CSRF.
   */
  upstreamAuthorization?: string;
  /** Extra `host:port` values accepted with upstreamAuthorization (default: localhost, 127.0.0.1, [::1], --host). */
  allowedHosts?: string[];
  /** `Origin` values accepted with upstreamAuthorization (default none: browsers' cross-site requests are refused). */
  allowedOrigins?: string[];
  /** dense_vector field of steered searches when the clause names none (default: the index's only one). */
  vectorField?: string;
  /** sparse_vector field with the documents' latents (default `steer_latents`). */
  latentField?: string;
  /** Parallel connections to the upstream (default 64; more requests wait). */
  maxUpstreamSockets?: number;
  /** How long an index's dense_vector fields and the cluster's version are remembered (default 30000 ms). */
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

const SEARCH_PATH = /^\/(?:([^/]+)\/)?_search\/?$/;

function parseUpstream(value: string): URL {
  let upstream: URL;
  try {
    upstream = new URL(value);
  } catch {
    throw new TypeError(`steer bridge: --upstream '${value}' is not a URL; use e.g. http://localhost:9200`);
  }
  if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:') {
    throw new TypeError(`steer bridge: --upstream '${value}' must start with http:// or https://`);
  }
  return upstream;
}

/**
 * Answers an oversized body with 413 at once, then reads and drops the rest before closing, so the caller gets
 * the answer instead of a connection reset (what Elasticsearch does with http.max_content_length).
 */
function answerThenDrain(req: IncomingMessage, res: ServerResponse, error: BridgeHttpError): void {
  if (res.headersSent) return void res.destroy();
  const body = Buffer.from(esErrorBody(error));
  res.writeHead(error.status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': body.length,
    'x-elastic-product': 'Elasticsearch',
    connection: 'close',
  });
  res.write(body);
  if (req.complete || req.readableEnded) {
    res.end();
    return;
  }
  req.on('end', () => res.end());
  req.on('error', () => res.destroy());
  req.resume();
}

/** Streams any request the bridge does not steer through to the upstream, its body cut at the limit. */
async function forward(
  ctx: SearchContext,
  req: IncomingMessage,
  res: ServerResponse,
  target: string,
): Promise<void> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > ctx.maxBodyBytes) throw bodyTooLarge(ctx.maxBodyBytes);
  const hasBody = (declared !== undefined && declared > 0) || req.headers['transfer-encoding'] !== undefined;
  const body = hasBody ? limitedBody(req, ctx.maxBodyBytes) : undefined;
  let failure: unknown;
  body?.on('error', (error) => (failure = error));
  try {
    await relay(res, await ctx.upstream.send(req.method ?? 'GET', target, ctx.forwardHeaders(req), body));
  } catch (error) {
    throw failure instanceof BridgeHttpError ? failure : error;
  }
}

/**
 * Answers a request whose handling failed: an upstream answer relayed as is, a BridgeHttpError in Elasticsearch's
 * shape, anything else as a 500 (reported to `onError`).
 */
function answerFailure(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  onError?: (error: unknown) => void,
): void {
  if (error instanceof RelayedAnswer) {
    if (res.headersSent) return void res.destroy();
    relayRead(res, error.answer);
    return;
  }
  if (!(error instanceof BridgeHttpError)) onError?.(error);
  const answer =
    error instanceof BridgeHttpError
      ? error
      : new BridgeHttpError(
          500,
          'steer_bridge_exception',
          `steer bridge: internal error: ${error instanceof Error ? error.message : String(error)}`,
        );
  if (!req.complete) answerThenDrain(req, res, answer);
  else sendEsError(res, answer);
}

/** Answers a request node could not parse (timeout, oversized headers, bad HTTP) on the raw socket, then closes it. */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, clientTimeoutMs: number): void {
  if (!socket.writable) return void socket.destroy();
  const answer =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new BridgeHttpError(
          408,
          'request_timeout_exception',
          `steer bridge: the request was not received within ${clientTimeoutMs} ms; send it faster, or raise --client-timeout`,
        )
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? new BridgeHttpError(
            431,
            'too_long_http_header_exception',
            'steer bridge: the request headers are too large',
          )
        : new BridgeHttpError(
            400,
            'illegal_argument_exception',
            `steer bridge: malformed HTTP request (${error.code ?? error.message})`,
          );
  const body = esErrorBody(answer);
  socket.end(
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}\r\nconnection: close\r\ncontent-type: application/json; charset=UTF-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-elastic-product: Elasticsearch\r\n\r\n${body}`,
  );
}

/**
 * Creates the bridge server (not listening). Requests: `POST|GET /<index>/_search` with a `steer` clause are
 * rewritten; `GET /_steer/features?q=` and `POST /_steer/explain` answer from the steering; everything else is
 * proxied unchanged, streaming. Answers from the upstream are relayed exactly (headers included); the bridge's
 * own answers are in Elasticsearch's shapes.
 */
export function createBridgeServer(options: BridgeOptions): Server {
  const upstreamUrl = parseUpstream(options.upstream);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const upstream = new Upstream(upstreamUrl, {
    timeoutMs: options.upstreamTimeoutMs ?? 30_000,
    connections: options.maxUpstreamSockets ?? 64,
    maxReadBytes: maxBodyBytes,
  });
  const facts = new UpstreamFacts(upstream, options.mappingCacheMs ?? 30_000, options.upstreamAuthorization);
  const forwardHeaders = (req: IncomingMessage): HeaderMap => {
    const headers = endToEndHeaders(req.headers);
    if (headers.authorization === undefined && options.upstreamAuthorization)
      headers.authorization = options.upstreamAuthorization;
    return headers;
  };
  const searchContext: SearchContext = {
    upstream,
    facts,
    steering: options.steering,
    maxBodyBytes,
    latentField: options.latentField ?? 'steer_latents',
    vectorField: options.vectorField,
    forwardHeaders,
    onError: options.onError,
  };
  const steerApi = {
    steering: options.steering,
    upstreamOrigin: upstream.origin + upstream.base,
    maxBodyBytes,
    onError: options.onError,
  };
  const allowedOrigins = new Set((options.allowedOrigins ?? []).map((o) => o.toLowerCase()));
  let allowedHosts: Set<string> | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = checkTarget(req.url);
    if (options.upstreamAuthorization !== undefined) {
      allowedHosts ??= new Set(
        [
          ...defaultAllowedHosts(options.host ?? '127.0.0.1', (server.address() as AddressInfo).port),
          ...(options.allowedHosts ?? []),
        ].map((h) => h.toLowerCase()),
      );
      checkCaller(req.headers, allowedHosts, allowedOrigins);
    }
    const url = new URL(target, 'http://bridge.invalid');
    if (url.pathname === '/_steer' || url.pathname.startsWith('/_steer/'))
      return handleSteerApi(steerApi, req, res, url);
    const search = SEARCH_PATH.exec(url.pathname);
    if (search && (req.method === 'POST' || req.method === 'GET')) {
      const index = search[1] === undefined ? undefined : decodeURIComponent(search[1]);
      return handleSearch(searchContext, req, res, { index, indexPath: search[1] }, target);
    }
    return forward(searchContext, req, res, target);
  };

  const clientTimeoutMs = options.clientTimeoutMs ?? 300_000;
  const server = createServer(
    {
      requestTimeout: clientTimeoutMs,
      headersTimeout: Math.min(options.clientHeadersTimeoutMs ?? 60_000, clientTimeoutMs),
      // NOTE: node checks these timeouts on this interval (30 s by default), so short limits need a short one.
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, clientTimeoutMs / 4)),
    },
    (req, res) => {
      res.on('error', () => undefined);
      req.on('error', () => res.destroy());
      handle(req, res).catch((error: unknown) => answerFailure(req, res, error, options.onError));
    },
  );
  server.on('checkContinue', (req, res) => {
    const declared = declaredLength(req);
    if (declared !== undefined && declared > maxBodyBytes) {
      // NOTE: Elasticsearch refuses the 100-continue of an oversized body with 417, and the body is never sent.
      sendEsError(
        res,
        new BridgeHttpError(417, 'content_too_long_exception', bodyTooLarge(maxBodyBytes).message),
      );
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) =>
    answerClientError(error, socket, clientTimeoutMs),
  );
  server.on('close', () => void upstream.close());
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
