// The error type of @steer/train: a stable code plus a message naming the input and the fix.
import { SteerError } from '@steer/core';

/** Stable codes of {@link TrainError}; callers switch on these, never on messages. */
export type TrainErrorCode =
  | 'bad_config' // a hyperparameter is out of range (k > nLatents, batch < 1, ...)
  | 'bad_input' // embeddings/queries/qrels are malformed (NaN, mismatched dims, empty)
  | 'file_unreadable' // an input file cannot be read
  | 'backend_unavailable' // the requested compute backend cannot start here
  | 'checkpoint_mismatch' // --resume found a checkpoint of a different run
  | 'checkpoint_corrupt' // a checkpoint file is damaged
  | 'diverged'; // the loss became NaN or infinite

/**
 * An error raised by the trainer (component `train`); `code` is stable, `message` says what was wrong and how to fix
 * it. Every code is of kind `input`: each names the user's move (another flag, another file, a lower --lr, deleting a
 * damaged checkpoint).
 */
export class TrainError extends SteerError {
  declare readonly code: TrainErrorCode;

  constructor(code: TrainErrorCode, message: string, options?: { cause?: unknown }) {
    super('train', code, message, options);
    this.name = 'TrainError';
  }
}

/** The message of any thrown value, for wrapping into a {@link TrainError}. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
