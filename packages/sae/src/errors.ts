// Typed error of @steer/sae: a stable `code` and a message that names the input and the fix.
import { SteerError } from '@steer/core';

/** Stable codes of {@link SaeError}. */
export type SaeErrorCode =
  | 'sae_not_found'
  | 'sae_corrupt'
  | 'hash_mismatch'
  | 'dims_mismatch'
  | 'invalid_input'
  | 'invalid_weights'
  | 'feature_out_of_range'
  | 'k_too_large'
  | 'dir_not_empty'
  | 'zero_vector'
  | 'provider_unavailable'
  | 'runtime_disposed';

/** Error thrown by @steer/sae; `code` is stable, `message` names the problem and the fix. */
export class SaeError extends SteerError {
  declare readonly code: SaeErrorCode;

  constructor(code: SaeErrorCode, message: string, options?: { cause?: unknown }) {
    super('sae', code, message, options);
    this.name = 'SaeError';
  }
}
