// The bridge's connection to the upstream cluster: an undici Pool (keep-alive, timeouts, back-pressure),
// with the upstream's path prefix, hop-by-hop header hygiene and decompression of the answers the bridge reads.
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Pool, errors as undiciErrors } from 'undici';
import { BridgeHttpError } from './es-errors.js';

/** Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1), plus what undici sets itself. */
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
  'expect',
  'http2-settings',
]);

export type HeaderMap = Record<string, string | string[]>;

/** Copies end-to-end headers: drops hop-by-hop ones and those the `connection` header names. */
export function endToEndHeaders(headers: IncomingHttpHeaders | Record<string, unknown>): HeaderMap {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
  const out: HeaderMap = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || value === null) continue;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.includes(lower)) continue;
    out[lower] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}

export interface UpstreamAnswer {
  status: number;
  headers: HeaderMap;
  body: Readable;
}

/** An upstream answer read in full by the bridge, its body decompressed. */
export interface ReadAnswer {
  status: number;
  headers: HeaderMap;
  body: Buffer;
}

export interface UpstreamOptions {
  /** Milliseconds to wait for the answer's headers once the request is sent, and between its body chunks. */
  timeoutMs: number;
  /** Parallel connections (more requests wait their turn). */
  connections: number;
  /** Largest decompressed answer the bridge reads itself. */
  maxReadBytes: number;
}

/** Decodes a `content-encoding` (gzip, deflate, br), refusing output above `limit` bytes. */
export function decompress(body: Buffer, encoding: string | string[] | undefined, limit: number): Buffer {
  const coding = String(encoding ?? 'identity')
    .trim()
    .toLowerCase();
  const options = { maxOutputLength: limit };
  if (coding === 'identity' || coding === '' || body.length === 0) return body;
  if (coding === 'gzip' || coding === 'x-gzip') return gunzipSync(body, options);
  if (coding === 'deflate') return inflateSync(body, options);
  if (coding === 'br') return brotliDecompressSync(body, options);
  throw new Error(`unsupported content-encoding '${coding}'`);
}

/** The upstream cluster behind the bridge. */
export class Upstream {
  readonly origin: string;
  /** Path prefix of the upstream URL (`http://gw/es` -> `/es`), without a trailing slash. */
  readonly base: string;
  private readonly pool: Pool;

  constructor(
    url: URL,
    private readonly options: UpstreamOptions,
  ) {
    this.origin = url.origin;
    this.base = url.pathname.replace(/\/+$/, '');
    this.pool = new Pool(url.origin, {
      connections: options.connections,
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  private unreachable(error: Error): BridgeHttpError {
    const code = (error as NodeJS.ErrnoException).code ?? error.message;
    return new BridgeHttpError(
      502,
      'connect_exception',
      `steer bridge: cannot reach the upstream ${this.origin} (${code}); start Elasticsearch or fix --upstream`,
    );
  }

  private timedOut(): BridgeHttpError {
    return new BridgeHttpError(
      504,
      'timeout_exception',
      `steer bridge: the upstream ${this.origin} did not answer within ${this.options.timeoutMs} ms; retry, or raise --timeout`,
    );
  }

  /** Maps an undici failure to the 502/504 the bridge answers; other errors (e.g. a body error) pass through. */
  upstreamError(error: unknown): unknown {
    if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError)
      return this.timedOut();
    if (error instanceof undiciErrors.ConnectTimeoutError) return this.unreachable(error);
    if (error instanceof undiciErrors.SocketError || error instanceof undiciErrors.ClientDestroyedError)
      return this.unreachable(error);
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR_SOCKET)$/.test(code) && !code.startsWith('ERR_'))
      return this.unreachable(error as Error);
    return error;
  }

  /**
   * Sends one request under the upstream's prefix. `body` is a buffer or a stream (streamed through with
   * back-pressure). Resolves once the answer's headers arrive; throws BridgeHttpError 502/504.
   */
  async send(
    method: string,
    pathAndQuery: string,
    headers: HeaderMap,
    body?: Buffer | Readable,
    signal?: AbortSignal,
  ): Promise<UpstreamAnswer> {
    try {
      const answer = await this.pool.request({
        method: method as 'GET',
        path: this.base + pathAndQuery,
        headers,
        body: body ?? null,
        signal,
      });
      return {
        status: answer.statusCode,
        headers: endToEndHeaders(answer.headers as Record<string, unknown>),
        body: answer.body,
      };
    } catch (error) {
      throw this.upstreamError(error);
    }
  }

  /** Sends a request and reads the whole answer, decompressed (for `_mapping`, `GET /` and fused searches). */
  async read(method: string, pathAndQuery: string, headers: HeaderMap, body?: Buffer): Promise<ReadAnswer> {
    const answer = await this.send(method, pathAndQuery, headers, body);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of answer.body) chunks.push(chunk as Buffer);
    } catch (error) {
      throw this.upstreamError(error);
    }
    let decoded: Buffer;
    try {
      decoded = decompress(
        Buffer.concat(chunks),
        answer.headers['content-encoding'],
        this.options.maxReadBytes,
      );
    } catch (error) {
      throw new BridgeHttpError(
        502,
        'steer_bridge_exception',
        `steer bridge: cannot decode the upstream's ${String(answer.headers['content-encoding'])} answer to ${method} ${pathAndQuery}: ${(error as Error).message}`,
      );
    }
    const headersOut = { ...answer.headers };
    delete headersOut['content-encoding'];
    delete headersOut['content-length'];
    return { status: answer.status, headers: headersOut, body: decoded };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
