// Answers in Elasticsearch's error shapes, so every ES client reports bridge errors like cluster errors.
import { SteerError } from '@steer/core';
import type { ServerResponse } from 'node:http';

export interface EsErrorCause {
  type: string;
  reason: string;
  [key: string]: unknown;
}

/**
 * An error the bridge answers with `status` in Elasticsearch's shape:
 * `{"error":{"root_cause":[...],"type","reason"},"status"}`, or with `plain` the RestController's simple
 * `{"error":"<reason>","status"}` (its 406 for an unsupported Content-Type).
 */
export class BridgeHttpError extends SteerError {
  override name = 'BridgeHttpError';
  constructor(
    readonly status: number,
    readonly type: string,
    reason: string,
    readonly extra: Record<string, unknown> = {},
    readonly rootCauses?: EsErrorCause[],
    readonly plain = false,
  ) {
    super('bridge', type, reason);
  }
}

/** The JSON body of an error answer. */
export function esErrorBody(error: BridgeHttpError): string {
  if (error.plain) return JSON.stringify({ error: error.message, status: error.status });
  const cause: EsErrorCause = { type: error.type, reason: error.message, ...error.extra };
  return JSON.stringify({
    error: { root_cause: error.rootCauses ?? [cause], ...cause },
    status: error.status,
  });
}

/**
 * Writes `error` unless a response is already under way (then the connection is cut, as ES would).
 * `closeAfter` asks the client to close the connection (used when the rest of the request body is dropped).
 */
export function sendEsError(res: ServerResponse, error: BridgeHttpError, closeAfter = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(esErrorBody(error));
  res.writeHead(error.status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': body.length,
    'x-elastic-product': 'Elasticsearch',
    ...(closeAfter ? { connection: 'close' } : {}),
  });
  res.end(body);
}
