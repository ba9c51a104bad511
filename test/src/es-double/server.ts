// The HTTP side of the Elasticsearch TEST DOUBLE: node:http, what is on the wire (authorization, content types,
// compression, size limits), and the requests it records; the REST routes are in routes.ts.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorBody, EsHttpError } from './errors.js';
import type { JsonObject } from './errors.js';
import { DoubleCluster } from './cluster.js';
import { PointsInTime } from './pit.js';
import { Router, type Answer } from './routes.js';
import { VERSIONS } from './versions.js';
import type { EsDoubleLicence, EsDoubleVersion, VersionBehaviour } from './versions.js';
import {
  checkContentType,
  decodeBody,
  encodeResponse,
  MAX_CONTENT_LENGTH,
  PlainHttpError,
  responseContentType,
} from './wire.js';

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
  /**
   * The release line to behave like (default 8.19): its `GET /` version, sparse_vector pruning defaults
   * (8.19, 9.2), vectors left out of `_source` (9.2), RRF tie-breaks (8.15), REST compatibility headers.
   */
  version?: EsDoubleVersion;
  /** The licence `GET /_license` reports and features are checked against (default basic, as a new cluster). */
  licence?: EsDoubleLicence;
  /** False: `GET /_license` answers 403, as to credentials without the monitor privilege (default true). */
  licenceReadable?: boolean;
  /** `http.max_content_length` in bytes (default 100 MB); larger bodies get 413 (417 to `Expect: 100-continue`). */
  maxContentLength?: number;
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
  /** Points in time still open (neither closed nor expired). */
  openPointsInTime(): number;
  close(): Promise<void>;
}

/** An answer with the extra headers it needs (`www-authenticate` on 401). */
type HttpAnswer = Answer & { headers?: Record<string, string> };

/** The answer to one request read whole: 401 without the required credentials, else the route's answer. */
function answerRequest(
  router: Router,
  options: EsDoubleOptions,
  behaviour: VersionBehaviour,
  req: IncomingMessage,
  url: URL,
  raw: Buffer,
): HttpAnswer {
  if (
    options.requireAuthorization !== undefined &&
    req.headers.authorization !== options.requireAuthorization
  ) {
    const error = new EsHttpError(
      401,
      'security_exception',
      `missing authentication credentials for REST request [${url.pathname}]`,
    );
    return {
      status: 401,
      body: errorBody(error),
      headers: { 'www-authenticate': 'Basic realm="security" charset="UTF-8"' },
    };
  }
  try {
    checkContentType(req.headers, raw.length > 0, behaviour.major);
    const text = decodeBody(raw, req.headers['content-encoding']).toString('utf8');
    return router.route(req.method ?? 'GET', url.pathname, url.searchParams, text);
  } catch (error) {
    if (error instanceof PlainHttpError) return { status: error.status, body: error.body() };
    const esError =
      error instanceof EsHttpError
        ? error
        : new EsHttpError(500, 'exception', String((error as Error).stack ?? error));
    return { status: esError.status, body: errorBody(esError) };
  }
}

/** Sends a status and a JSON body, encoded as the request accepts; a HEAD request gets the headers only. */
function sendAnswer(req: IncomingMessage, res: ServerResponse, status: number, body?: JsonObject): void {
  res.statusCode = status;
  res.setHeader('x-elastic-product', 'Elasticsearch');
  if (body === undefined) {
    res.setHeader('content-length', 0);
    res.end();
    return;
  }
  const encoded = encodeResponse(Buffer.from(JSON.stringify(body)), req.headers['accept-encoding']);
  res.setHeader('content-type', responseContentType(req.headers));
  if (encoded.encoding) res.setHeader('content-encoding', encoded.encoding);
  res.setHeader('content-length', encoded.body.length);
  res.end(req.method === 'HEAD' ? undefined : encoded.body);
}

/** Reads a request's body up to `maxContentLength` bytes; `size` counts every byte that came. */
async function readBody(
  req: IncomingMessage,
  maxContentLength: number,
): Promise<{ raw: Buffer; size: number }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= maxContentLength) chunks.push(chunk as Buffer);
  }
  return { raw: Buffer.concat(chunks), size };
}

/** Listens on 127.0.0.1 (`port` 0: a free one) and resolves with the port. */
async function listen(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Starts the Elasticsearch TEST DOUBLE on 127.0.0.1 and resolves once it listens. */
export async function startEsDouble(options: EsDoubleOptions = {}): Promise<EsDouble> {
  const behaviour = VERSIONS[options.version ?? '8.19'];
  const cluster = new DoubleCluster(behaviour);
  const pits = new PointsInTime();
  const router = new Router(cluster, pits, options, behaviour, options.licence ?? 'basic');
  const requests: RecordedRequest[] = [];
  const recordLast = options.recordLast ?? 50;
  const maxContentLength = options.maxContentLength ?? MAX_CONTENT_LENGTH;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const declared = Number(req.headers['content-length']);
    const { raw, size } = await readBody(req, maxContentLength);
    const url = new URL(req.url ?? '/', 'http://double');
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: raw.toString('utf8'),
    });
    if (requests.length > recordLast) requests.shift();
    if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
    if (size > maxContentLength || declared > maxContentLength) {
      // Elasticsearch (Netty's HttpObjectAggregator) answers 413 with an empty body.
      sendAnswer(req, res, 413);
      return;
    }
    const { status, body, headers } = answerRequest(router, options, behaviour, req, url, raw);
    for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value);
    sendAnswer(req, res, status, body);
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
  server.on('checkContinue', (req, res) => {
    if (Number(req.headers['content-length']) > maxContentLength) {
      // NOTE: Elasticsearch refuses the 100-continue of an oversized body with 417, not 413.
      res.writeHead(417, { 'x-elastic-product': 'Elasticsearch', 'content-length': 0, connection: 'close' });
      res.end();
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
  server.keepAliveTimeout = 5_000;
  const port = await listen(server, options.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    requests,
    getSource: (index, id) => cluster.indices.get(index)?.docs.get(id)?.source,
    openPointsInTime: () => pits.count(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
