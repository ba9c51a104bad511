// The errors of @steer/engine: a bad config file, and a steer query that does not parse or compile.
import { SteerError } from '@steer/core';
import type { Diagnostic } from '@steer/grammar';

/** Thrown for an unreadable or invalid config file; names the file and the field. */
export class ConfigError extends SteerError {
  override name = 'ConfigError';
  declare readonly code: 'config_invalid';
  constructor(message: string) {
    super('engine', 'config_invalid', message);
  }
}

/** Thrown when a steer query does not parse or compile; carries the diagnostics with their ranges. */
export class SteerQueryError extends SteerError {
  override name = 'SteerQueryError';
  declare readonly code: 'steer_query_invalid';
  constructor(
    message: string,
    readonly diagnostics: Diagnostic[],
  ) {
    super('engine', 'steer_query_invalid', message);
  }
}
