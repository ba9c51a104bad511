// Passing upstream answers back to the caller exactly as they came (headers, status, body bytes).
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { ReadAnswer, UpstreamAnswer } from './upstream.js';

/** Streams an upstream answer to the caller; its headers are relayed as sent (nothing added). */
export async function relay(res: ServerResponse, answer: UpstreamAnswer): Promise<void> {
  res.writeHead(answer.status, answer.headers);
  try {
    await pipeline(answer.body, res);
  } catch {
    // The caller went away, or the upstream broke off mid-answer: the connection is cut either way.
    res.destroy();
  }
}

/** Sends an answer the bridge read (and decompressed) in full. */
export function relayRead(res: ServerResponse, answer: ReadAnswer): void {
  res.writeHead(answer.status, { ...answer.headers, 'content-length': answer.body.length });
  res.end(answer.body);
}

/** Answers JSON the bridge composed; `product` is set when it speaks for an Elasticsearch upstream. */
export function sendJson(res: ServerResponse, status: number, value: unknown, product = true): void {
  const payload = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': payload.length,
    ...(product ? { 'x-elastic-product': 'Elasticsearch' } : {}),
  });
  res.end(payload);
}
