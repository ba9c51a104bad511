// Typed error of @steer/onnx: every failure carries a stable `code` and a message that names the fix.
import { SteerError } from '@steer/core';

/** Stable codes of {@link OnnxError}. */
export type OnnxErrorCode =
  | 'model_not_found'
  | 'invalid_model'
  | 'provider_unavailable'
  | 'invalid_input'
  | 'invalid_graph'
  | 'run_failed'
  | 'session_disposed';

/** Error thrown by @steer/onnx; `code` is stable, `message` names the input and the fix. */
export class OnnxError extends SteerError {
  declare readonly code: OnnxErrorCode;

  constructor(code: OnnxErrorCode, message: string, options?: { cause?: unknown }) {
    super('onnx', code, message, options);
    this.name = 'OnnxError';
  }
}
