// The typed error of @steer/presets: a stable `code`, a message naming the preset and the fix.
import { SteerError } from '@steer/core';
import type { Diagnostic } from '@steer/grammar';

export type PresetErrorCode =
  'invalid-preset-name' | 'invalid-preset' | 'preset-not-found' | 'preset-exists' | 'missing-sae-id';

/** Thrown by the preset folder API for bad names, edits that do not compile, and missing presets. */
export class PresetError extends SteerError {
  override readonly name = 'PresetError';
  declare readonly code: PresetErrorCode;
  constructor(
    code: PresetErrorCode,
    message: string,
    /** The parse/compile diagnostics behind an 'invalid-preset' error (ranges refer to the edits text). */
    readonly diagnostics: Diagnostic[] = [],
  ) {
    super('presets', code, message);
  }
}
