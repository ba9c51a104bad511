// The shape every `steer` sub-command implements, and the error type that maps to exit codes.
import { SteerError } from '@steer/core';
import type { ParseArgsConfig } from 'node:util';

/** Where a command writes: data goes to stdout, logs and progress to stderr. */
export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** True when stderr is a TTY and `--json` is off: progress bars may redraw in place. */
  interactive: boolean;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** Parsed arguments of a command: positionals plus the values of its declared options. */
export interface CommandArgs {
  positionals: string[];
  values: Record<string, string | boolean | Array<string | boolean> | undefined>;
}

/** A `steer` sub-command. `run` returns the exit code (0 ok, 1 failure, 2 bad usage or input). */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(args: CommandArgs, io: CommandIO): Promise<number>;
}

/**
 * An error caused by the user's input or environment (bad flag, missing file, wrong dims).
 * The CLI prints its message and exits with code 2; any other error exits with code 1.
 */
export class UsageError extends SteerError {
  override name = 'UsageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('cli', 'usage', message, options);
  }
}
