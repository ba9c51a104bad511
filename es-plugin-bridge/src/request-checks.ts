// What the bridge checks on a request before acting on it: the target path, Host and Origin when it holds
// credentials, the body limit and encoding, the Content-Type of bodies it parses, and JSON nesting depth.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { BridgeHttpError } from './es-errors.js';
import { decompress } from './upstream.js';

/** Elasticsearch's default `http.max_content_length` (100mb), the bridge's default body limit. */
export const DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024;

/** Jackson's StreamReadConstraints.maxNestingDepth, which Elasticsearch's JSON parser keeps. */
export const MAX_NESTING_DEPTH = 1000;

function badRequest(reason: string): BridgeHttpError {
  return new BridgeHttpError(400, 'illegal_argument_exception', `steer bridge: ${reason}`);
}

/**
 * Checks the request target: origin-form (`/path?query`) only, and no `.` or `..` segment (raw or
 * percent-encoded), so a path can never leave the upstream's prefix. Returns the target as given.
 */
export function checkTarget(target: string | undefined): string {
  if (target === undefined || !target.startsWith('/') || target.startsWith('//')) {
    throw badRequest(
      `the request target [${target ?? ''}] is not a path; send requests as to Elasticsearch, e.g. GET /my-index/_search`,
    );
  }
  const path = target.split('?')[0]!;
  for (const segment of path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw badRequest(`bad percent-encoding in the request path [${path}]`);
    }
    // NOTE: checked after decoding, and within decoded `/` too: a gateway upstream may decode `%2F` and resolve.
    if (decoded.includes('\\') || decoded.split('/').some((part) => part === '.' || part === '..')) {
      throw badRequest(
        `the request path [${path}] has a '.', '..' or '\\' segment, which no Elasticsearch path has`,
      );
    }
  }
  return target;
}

/** The hosts a bridge listening on `host:port` answers to when it holds upstream credentials. */
export function defaultAllowedHosts(host: string, port: number): string[] {
  const names = ['localhost', '127.0.0.1', '[::1]'];
  if (!['0.0.0.0', '::', '127.0.0.1', '::1', 'localhost'].includes(host))
    names.push(host.includes(':') ? `[${host}]` : host);
  return names.map((name) => `${name}:${port}`);
}

/**
 * Refuses requests that could come from a web page: a `Host` the bridge is not addressed by (DNS rebinding),
 * or an `Origin` not allowed (cross-site requests). Used when the bridge adds its own credentials upstream.
 */
export function checkCaller(
  headers: IncomingHttpHeaders,
  allowedHosts: ReadonlySet<string>,
  allowedOrigins: ReadonlySet<string>,
): void {
  const host = (headers.host ?? '').toLowerCase();
  if (!allowedHosts.has(host)) {
    throw new BridgeHttpError(
      403,
      'security_exception',
      `steer bridge: refused a request for host [${host}]: the bridge adds its own upstream credentials, so it answers only requests addressed to ${[...allowedHosts].join(', ')}; add the name with --allow-host if it is yours`,
    );
  }
  const origin = headers.origin;
  if (origin !== undefined && !allowedOrigins.has(origin.toLowerCase())) {
    throw new BridgeHttpError(
      403,
      'security_exception',
      `steer bridge: refused a cross-origin request from [${origin}]: the bridge adds its own upstream credentials, so web pages may not use it; allow a page with --allow-origin if you trust it`,
    );
  }
}

export function bodyTooLarge(limit: number): BridgeHttpError {
  return new BridgeHttpError(
    413,
    'content_too_long_exception',
    `steer bridge: the request body is larger than the limit of ${limit} bytes; send a smaller body (split bulk requests) or raise --max-body`,
  );
}

/** Declared Content-Length of a request, or undefined when it streams without one. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const value = req.headers['content-length'];
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Reads a request body up to `limit` bytes. Over the limit it rejects with BridgeHttpError 413 at once (before
 * reading anything when the declared length is already over) but leaves the request flowing, so the caller can
 * answer and drain the rest (answerThenDrain) instead of resetting the connection.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = declaredLength(req);
    if (declared !== undefined && declared > limit) {
      reject(bodyTooLarge(limit));
      return;
    }
    let chunks: Buffer[] = [];
    let total = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      total += chunk.length;
      if (total > limit) {
        over = true;
        chunks = [];
        reject(bodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/**
 * The request body as a stream for forwarding, cut at `limit` bytes: past it the stream fails with
 * BridgeHttpError 413 (aborting the upstream request) while the request keeps being read and dropped.
 */
export function limitedBody(req: IncomingMessage, limit: number): PassThrough {
  const out = new PassThrough();
  let total = 0;
  req.on('data', (chunk: Buffer) => {
    if (out.destroyed) return;
    total += chunk.length;
    if (total > limit) {
      out.destroy(bodyTooLarge(limit));
      return;
    }
    if (!out.write(chunk)) {
      req.pause();
      out.once('drain', () => req.resume());
    }
  });
  req.on('end', () => {
    if (!out.destroyed) out.end();
  });
  req.on('error', (error) => out.destroy(error));
  // Once the upstream stops reading (or the limit is hit) keep draining the caller, never leave it paused.
  out.on('close', () => req.resume());
  return out;
}

/** Decodes a gzip/deflate/br request body (the JS client gzips with `compression: true`), within `limit`. */
export function decodeRequestBody(body: Buffer, encoding: string | undefined, limit: number): Buffer {
  try {
    return decompress(body, encoding, limit);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw bodyTooLarge(limit);
    throw new BridgeHttpError(
      400,
      'illegal_argument_exception',
      `steer bridge: cannot decode the ${encoding} request body (${(error as Error).message}); send it uncompressed or as valid gzip`,
    );
  }
}

const JSON_MEDIA = /^application\/(json|x-ndjson|vnd\.elasticsearch\+json|vnd\.elasticsearch\+x-ndjson)$/;

/**
 * Checks the Content-Type of a body the bridge parses, as Elasticsearch's RestController does: 406 with its
 * plain `{"error": "...", "status": 406}` when it is missing or not JSON. (The bridge never relabels a body.)
 */
export function checkJsonContentType(headers: IncomingHttpHeaders): void {
  const value = headers['content-type'];
  if (value === undefined)
    throw new BridgeHttpError(406, 'not_acceptable', 'Content-Type header is missing', {}, undefined, true);
  const essence = value.split(';')[0]!.trim().toLowerCase();
  if (!JSON_MEDIA.test(essence)) {
    throw new BridgeHttpError(
      406,
      'not_acceptable',
      `Content-Type header [${value}] is not supported`,
      {},
      undefined,
      true,
    );
  }
}

/** The deepest nesting of `[` and `{` in JSON text (outside strings), counted without recursion. */
export function jsonNestingDepth(text: Buffer): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** Parses a JSON body as Elasticsearch would: 400 `x_content_parse_exception` when malformed or nested too deep. */
export function parseJson(body: Buffer): unknown {
  const depth = jsonNestingDepth(body);
  if (depth > MAX_NESTING_DEPTH) {
    throw new BridgeHttpError(
      400,
      'x_content_parse_exception',
      `[1:1] Depth (${MAX_NESTING_DEPTH + 1}) exceeds the maximum allowed nesting depth (${MAX_NESTING_DEPTH})`,
    );
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new BridgeHttpError(
      400,
      'x_content_parse_exception',
      `[1:1] failed to parse the request body as JSON: ${(error as Error).message}`,
    );
  }
}
