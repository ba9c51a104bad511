// JSON values and Elasticsearch's error answers, as the Elasticsearch TEST DOUBLE produces them.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An error answered in Elasticsearch's JSON error shape. */
export class EsHttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    reason: string,
    readonly extra: JsonObject = {},
    /** The `root_cause` list; the error itself when absent. */
    readonly rootCauses?: JsonObject[],
  ) {
    super(reason);
  }

  /** `{type, reason, ...extra}`: how this error appears as a cause inside another. */
  asCause(): JsonObject {
    return { type: this.type, reason: this.message, ...this.extra };
  }
}

/** `{"error": {"root_cause": [...], "type", "reason", ...}, "status": N}` */
export function errorBody(error: EsHttpError): JsonObject {
  const cause = error.asCause();
  return { error: { root_cause: error.rootCauses ?? [cause], ...cause }, status: error.status };
}

export function parsingError(reason: string): EsHttpError {
  return new EsHttpError(400, 'parsing_exception', reason);
}

export function badRequest(reason: string): EsHttpError {
  return new EsHttpError(400, 'illegal_argument_exception', reason);
}

/** `action_request_validation_exception` listing every failed check, as ActionRequestValidationException words it. */
export function validationError(messages: string[]): EsHttpError {
  return new EsHttpError(
    400,
    'action_request_validation_exception',
    `Validation Failed: ${messages.map((m, i) => `${i + 1}: ${m};`).join('')}`,
  );
}

export function indexNotFound(index: string): EsHttpError {
  return new EsHttpError(404, 'index_not_found_exception', `no such index [${index}]`, {
    'resource.type': 'index_or_alias',
    'resource.id': index,
    index,
  });
}

/**
 * A failure on every shard of a search, as the coordinating node reports it:
 * `search_phase_execution_exception` "all shards failed" with the shard's error as root cause.
 */
export function allShardsFailed(cause: EsHttpError, index: string, phase = 'query'): EsHttpError {
  const reason = cause.asCause();
  return new EsHttpError(
    cause.status,
    'search_phase_execution_exception',
    'all shards failed',
    {
      phase,
      grouped: true,
      failed_shards: [{ shard: 0, index, node: 'es-test-double-node', reason }],
      caused_by: reason,
    },
    [{ ...reason, index_uuid: index, index }],
  );
}
