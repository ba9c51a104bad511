// Checkpoint files: one binary file holding a JSON header and the raw arrays of the training state, written with
// @steer/core's writeFileAtomic, so a kill -9 at any moment leaves either the old or the new checkpoint.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@steer/core';
import { TrainError, describeError } from './errors.js';
import type { CoreState, SaeParams } from './model.js';

const MAGIC = 'STEER-TRAIN-CKPT/1\n';

type ArrayEntry = { name: string; dtype: 'float32' | 'int32'; length: number };

function paramEntries(prefix: string, p: SaeParams): [string, Float32Array][] {
  return [
    [`${prefix}.wEnc`, p.wEnc],
    [`${prefix}.bEnc`, p.bEnc],
    [`${prefix}.wDecT`, p.wDecT],
    [`${prefix}.bDec`, p.bDec],
  ];
}

/** Serialises `meta` (JSON) and the arrays of `state` (Adam moments and counters only when `full`). */
function encode(meta: Record<string, unknown>, state: CoreState, full: boolean): Uint8Array[] {
  const arrays: [string, Float32Array | Int32Array][] = [...paramEntries('params', state.params)];
  if (full) {
    arrays.push(...paramEntries('adamM', state.adamM), ...paramEntries('adamV', state.adamV));
    arrays.push(['sinceFired', state.sinceFired]);
  }
  const entries: ArrayEntry[] = arrays.map(([name, a]) => ({
    name,
    dtype: a instanceof Int32Array ? 'int32' : 'float32',
    length: a.length,
  }));
  const header = new TextEncoder().encode(
    JSON.stringify({ ...meta, adamStep: state.adamStep, arrays: entries }),
  );
  const prefix = new Uint8Array(MAGIC.length + 4);
  prefix.set(new TextEncoder().encode(MAGIC));
  new DataView(prefix.buffer).setUint32(MAGIC.length, header.length, true);
  // Pad so that array data starts 4-byte aligned.
  const pad = new Uint8Array((4 - ((prefix.length + header.length) % 4)) % 4);
  return [
    prefix,
    header,
    pad,
    ...arrays.map(([, a]) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)),
  ];
}

/** Writes a full checkpoint (weights, Adam moments, counters) with `meta` atomically. */
export async function writeCheckpoint(
  path: string,
  meta: Record<string, unknown>,
  state: CoreState,
): Promise<void> {
  await writeFileAtomic(path, encode(meta, state, true), { mkdir: true });
}

/** Writes only the weights with `meta` atomically (the best-so-far snapshot). */
export async function writeWeights(
  path: string,
  meta: Record<string, unknown>,
  state: CoreState,
): Promise<void> {
  await writeFileAtomic(path, encode(meta, state, false), { mkdir: true });
}

/** A read checkpoint: its JSON header and the state (moments zero when only weights were stored). */
export interface Checkpoint {
  meta: Record<string, unknown>;
  state: CoreState;
}

/**
 * Reads a file written by {@link writeCheckpoint} or {@link writeWeights}.
 * @returns null when the file does not exist. @throws TrainError `checkpoint_corrupt`.
 */
export async function readCheckpoint(path: string): Promise<Checkpoint | null> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TrainError(
      'checkpoint_corrupt',
      `train: cannot read checkpoint ${path} (${describeError(error)})`,
    );
  }
  const corrupt = (problem: string): TrainError =>
    new TrainError(
      'checkpoint_corrupt',
      `train: checkpoint ${path} is damaged (${problem}); delete it to start over`,
    );
  if (bytes.length < MAGIC.length + 4 || bytes.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) {
    throw corrupt('bad magic');
  }
  const headerLength = bytes.readUInt32LE(MAGIC.length);
  const headerStart = MAGIC.length + 4;
  let meta: Record<string, unknown> & { arrays: ArrayEntry[]; adamStep: number };
  try {
    meta = JSON.parse(bytes.subarray(headerStart, headerStart + headerLength).toString('utf8'));
  } catch {
    throw corrupt('unreadable header');
  }
  let offset = headerStart + headerLength;
  offset += (4 - (offset % 4)) % 4;
  const arrays = new Map<string, Float32Array | Int32Array>();
  for (const entry of meta.arrays) {
    const byteLength = entry.length * 4;
    if (offset + byteLength > bytes.length) throw corrupt(`array ${entry.name} is truncated`);
    const copy = new Uint8Array(byteLength);
    copy.set(bytes.subarray(offset, offset + byteLength));
    arrays.set(
      entry.name,
      entry.dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer),
    );
    offset += byteLength;
  }
  if (offset !== bytes.length) throw corrupt('trailing bytes');
  const params = (prefix: string, fallback?: SaeParams): SaeParams => {
    const get = (name: string, like?: Float32Array): Float32Array => {
      const a = arrays.get(`${prefix}.${name}`);
      if (a instanceof Float32Array) return a;
      if (like !== undefined) return new Float32Array(like.length);
      throw corrupt(`array ${prefix}.${name} is missing`);
    };
    return {
      wEnc: get('wEnc', fallback?.wEnc),
      bEnc: get('bEnc', fallback?.bEnc),
      wDecT: get('wDecT', fallback?.wDecT),
      bDec: get('bDec', fallback?.bDec),
    };
  };
  const weights = params('params');
  const since = arrays.get('sinceFired');
  const state: CoreState = {
    params: weights,
    adamM: params('adamM', weights),
    adamV: params('adamV', weights),
    adamStep: meta.adamStep,
    sinceFired: since instanceof Int32Array ? since : new Int32Array(weights.bEnc.length),
  };
  const { arrays: _arrays, ...rest } = meta;
  void _arrays;
  return { meta: rest, state };
}
