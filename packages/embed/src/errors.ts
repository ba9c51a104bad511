// Typed error of @steer/embed: every failure carries a stable `code` and a message naming the input and the fix.
import { SteerError } from '@steer/core';

/** Stable codes of {@link EmbedError}. */
export type EmbedErrorCode =
  | 'empty_input'
  | 'invalid_input'
  | 'dims_mismatch'
  | 'file_unreadable'
  | 'write_failed'
  | 'invalid_file'
  | 'invalid_tokenizer'
  | 'model_failed'
  | 'text_not_precomputed'
  | 'unknown_embedder'
  | 'disposed';

/** Error thrown by @steer/embed; `code` is stable, `message` names the component, the input and the fix. */
export class EmbedError extends SteerError {
  declare readonly code: EmbedErrorCode;

  constructor(code: EmbedErrorCode, message: string, options?: { cause?: unknown }) {
    super('embed', code, message, options);
    this.name = 'EmbedError';
  }
}

/** The first line of an unknown error's message, for wrapping library failures. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split('\n')[0] ?? text).trim();
}
