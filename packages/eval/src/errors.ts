// The error of @steer/eval: a missing, unreadable or malformed dataset, corpus or query file.
import { SteerError } from '@steer/core';

/** Thrown for a missing, unreadable or malformed dataset; names the file and line. */
export class EvalError extends SteerError {
  override name = 'EvalError';
  constructor(message: string, code: string) {
    super('eval', code, message);
  }
}
