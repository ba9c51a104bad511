// The base of every Steer error: a stable `code`, the `component` that raised it, and a message naming the fix.

/**
 * Base class of every error a Steer package throws on purpose. `component` names the package or part that
 * raised it (`sae`, `search`, `cli`, ...), `code` is stable within that component (callers switch on it, never on
 * messages), and `kind` says whose move it is: `input` (the user's input or environment is wrong; the message
 * says how to fix it) or `internal` (a control-flow error that never reaches a user).
 */
export class SteerError extends Error {
  readonly component: string;
  readonly code: string;
  readonly kind: SteerErrorKind;

  constructor(
    component: string,
    code: string,
    message: string,
    options?: { cause?: unknown; kind?: SteerErrorKind },
  ) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'SteerError';
    this.component = component;
    this.code = code;
    this.kind = options?.kind ?? 'input';
  }
}

/** Whose move a {@link SteerError} is: `input` (the user's input or environment) or `internal`. */
export type SteerErrorKind = 'input' | 'internal';

/** Whether `error` is a {@link SteerError} about the user's input or environment. */
export function isInputError(error: unknown): error is SteerError {
  return error instanceof SteerError && error.kind === 'input';
}
