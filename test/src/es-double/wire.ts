// The wire rules of the Elasticsearch TEST DOUBLE: the 100 MB body limit, compressed bodies both ways, and the
// Content-Type / Accept negotiation of Elasticsearch's RestController (406 for types it does not read).
import { gunzipSync, gzipSync, inflateSync, deflateSync } from 'node:zlib';
import type { IncomingHttpHeaders } from 'node:http';
import { EsHttpError } from './errors.js';
import type { JsonObject } from './errors.js';

/** Elasticsearch's default `http.max_content_length` (100mb). */
export const MAX_CONTENT_LENGTH = 100 * 1024 * 1024;

/** An answer Elasticsearch gives in its plain shape `{"error": "<text>", "status": N}`. */
export class PlainHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }

  body(): JsonObject {
    return { error: this.message, status: this.status };
  }
}

/** Decodes a `content-encoding: gzip | deflate` body, as Netty's HttpContentDecompressor does. */
export function decodeBody(raw: Buffer, encoding: string | undefined): Buffer {
  const coding = (encoding ?? 'identity').trim().toLowerCase();
  if (coding === 'identity' || raw.length === 0) return raw;
  try {
    if (coding === 'gzip' || coding === 'x-gzip')
      return gunzipSync(raw, { maxOutputLength: MAX_CONTENT_LENGTH });
    if (coding === 'deflate' || coding === 'x-deflate')
      return inflateSync(raw, { maxOutputLength: MAX_CONTENT_LENGTH });
  } catch (error) {
    throw new EsHttpError(
      400,
      'illegal_argument_exception',
      `cannot decompress the ${coding} request body: ${(error as Error).message}`,
    );
  }
  // Netty leaves unknown codings alone; the body then fails to parse as JSON.
  return raw;
}

interface MediaType {
  type: string;
  compatibleWith?: number;
}

function parseMediaType(value: string, header: string): MediaType {
  const [essence, ...parameters] = value.split(';');
  const type = essence!.trim().toLowerCase();
  if (!/^[\w.+*-]+\/[\w.+*-]+$/.test(type)) {
    throw new EsHttpError(
      400,
      'media_type_header_exception',
      `Invalid media-type value on headers [${header}]`,
      {
        caused_by: { type: 'illegal_argument_exception', reason: `invalid ${header} header [${value}]` },
      },
    );
  }
  const out: MediaType = { type };
  for (const parameter of parameters) {
    const [name, raw] = parameter.split('=').map((p) => p.trim().toLowerCase());
    if (name === 'compatible-with') out.compatibleWith = Number(raw);
  }
  return out;
}

const JSON_TYPES = new Set(['application/json', 'application/x-ndjson']);
const VENDOR_TYPES = new Set([
  'application/vnd.elasticsearch+json',
  'application/vnd.elasticsearch+x-ndjson',
]);
const OTHER_XCONTENT = new Set([
  'application/smile',
  'application/cbor',
  'application/yaml',
  'application/vnd.elasticsearch+smile',
  'application/vnd.elasticsearch+cbor',
  'application/vnd.elasticsearch+yaml',
]);

function checkCompatibleWith(media: MediaType, major: number, header: string, value: string): void {
  if (media.compatibleWith === undefined) return;
  if (media.compatibleWith !== major && media.compatibleWith !== major - 1) {
    throw new EsHttpError(
      400,
      'media_type_header_exception',
      `Invalid media-type value on headers [${header}]`,
      {
        caused_by: {
          type: 'status_exception',
          reason: `${header} version must be either version ${major} or ${major - 1}, but found ${media.compatibleWith}. ${header}=${value}`,
        },
      },
    );
  }
}

/**
 * Checks a request's Content-Type as RestController does: a body needs one of the XContent types
 * (406 `Content-Type header [...] is not supported` otherwise), and a vendor type's `compatible-with`
 * must be this major or the one before. The double reads JSON only; SMILE, CBOR and YAML are refused as its limit.
 */
export function checkContentType(headers: IncomingHttpHeaders, hasBody: boolean, major: number): void {
  const accept = headers.accept;
  if (accept !== undefined) {
    for (const part of accept.split(',')) {
      const media = parseMediaType(part, 'Accept');
      if (VENDOR_TYPES.has(media.type)) checkCompatibleWith(media, major, 'Accept', part.trim());
    }
  }
  if (!hasBody) return;
  const value = headers['content-type'];
  if (value === undefined) throw new PlainHttpError(406, 'Content-Type header is missing');
  const media = parseMediaType(value, 'Content-Type');
  if (OTHER_XCONTENT.has(media.type)) {
    throw new EsHttpError(
      400,
      'illegal_argument_exception',
      `the Elasticsearch test double reads JSON bodies only, not [${media.type}]`,
    );
  }
  if (!JSON_TYPES.has(media.type) && !VENDOR_TYPES.has(media.type)) {
    throw new PlainHttpError(406, `Content-Type header [${value}] is not supported`);
  }
  checkCompatibleWith(media, major, 'Content-Type', value);
}

/** The Content-Type of an answer: the vendor type the client asked for, else plain JSON. */
export function responseContentType(headers: IncomingHttpHeaders): string {
  for (const part of (headers.accept ?? '').split(',')) {
    const match = /^\s*application\/vnd\.elasticsearch\+json\s*;\s*compatible-with\s*=\s*(\d+)/i.exec(part);
    if (match) return `application/vnd.elasticsearch+json;compatible-with=${match[1]}`;
  }
  return 'application/json';
}

/** Compresses an answer when the client accepts it (`http.compression` is on by default over plain HTTP). */
export function encodeResponse(
  payload: Buffer,
  acceptEncoding: string | undefined,
): { body: Buffer; encoding?: string } {
  const accepted = (acceptEncoding ?? '')
    .split(',')
    .map((part) => {
      const [coding, ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)).find(Boolean);
      return { coding: coding!, q: q ? Number(q[1]) : 1 };
    })
    .filter((entry) => entry.q > 0);
  if (accepted.some((entry) => entry.coding === 'gzip' || entry.coding === '*'))
    return { body: gzipSync(payload), encoding: 'gzip' };
  if (accepted.some((entry) => entry.coding === 'deflate'))
    return { body: deflateSync(payload), encoding: 'deflate' };
  return { body: payload };
}
