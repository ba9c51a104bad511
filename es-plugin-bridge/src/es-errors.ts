// Answers in Elasticsearch's JSON error shape, so every ES client reports bridge errors like cluster errors.
import type { ServerResponse } from 'node:http';

export interface EsErrorCause {
  type: string;
  reason: string;
  [key: string]: unknown;
}

/** An error the bridge answers with `status` in Elasticsearch's shape. */
export class BridgeHttpError extends Error {
  override name = 'BridgeHttpError';
  constructor(
    readonly status: number,
    readonly type: string,
    reason: string,
    readonly extra: Record<string, unknown> = {},
    readonly rootCauses?: EsErrorCause[],
  ) {
    super(reason);
  }
}

/** `{"error":{"root_cause":[...],"type":...,"reason":...},"status":N}` */
export function esErrorBody(error: BridgeHttpError): string {
  const cause: EsErrorCause = { type: error.type, reason: error.message, ...error.extra };
  return JSON.stringify({
    error: { root_cause: error.rootCauses ?? [cause], ...cause },
    status: error.status,
  });
}

/** Writes `error` unless a response is already under way (then the connection is cut, as ES would). */
export function sendEsError(res: ServerResponse, error: BridgeHttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(esErrorBody(error));
  res.writeHead(error.status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': body.length,
    'x-elastic-product': 'Elasticsearch',
  });
  res.end(body);
}
