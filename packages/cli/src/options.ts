// Options shared by several commands, and the configuration they select.
import { loadConfig } from '@steer/engine';
import type { SteerConfig } from '@steer/engine';
import type { CommandArgs, CommandIO } from './command.js';
import { UsageError } from './command.js';

export const jsonOption = { json: { type: 'boolean' } } as const;

export const configOptions = {
  'data-dir': { type: 'string' },
  sae: { type: 'string' },
  embedder: { type: 'string' },
  index: { type: 'string' },
  backend: { type: 'string' },
} as const;

/** The configuration for a command: steer.config.json, the environment, then flags. */
export function configFromArgs(args: CommandArgs, io: CommandIO): SteerConfig {
  const v = args.values;
  const backend = v.backend as string | undefined;
  if (backend !== undefined && backend !== 'embedded' && backend !== 'elasticsearch') {
    throw new UsageError(`--backend must be "embedded" or "elasticsearch", not '${backend}'`);
  }
  return loadConfig(io.cwd, io.env, {
    dataDir: v['data-dir'] as string | undefined,
    sae: v.sae as string | undefined,
    embedder: v.embedder as string | undefined,
    index: v.index as string | undefined,
    backend: backend as SteerConfig['backend'] | undefined,
  });
}

/** Parses a positive integer flag, or returns `fallback` when absent. */
export function intOption(args: CommandArgs, name: string, fallback: number, max = 1_000_000): number {
  const raw = args.values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new UsageError(`--${name} must be a whole number from 1 to ${max}, not '${String(raw)}'`);
  }
  return value;
}

/** Writes exactly one JSON document to stdout. */
export function printJson(io: CommandIO, value: unknown): void {
  io.stdout.write(JSON.stringify(value) + '\n');
}
