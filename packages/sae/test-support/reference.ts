// Test helpers: seeded random tiny SAEs and an independent float64 reference of the TopK SAE maths.
import { mulberry32 } from '@steer/core';
import type { FeatureEdit, SaeWeights } from '../src/index.js';

/** Relative tolerance of float32 results against the float64 reference; |expected| < 1 is compared absolutely. */
export const TOLERANCE = 1e-5;

/** mulberry32 uniform numbers in [-0.5, 0.5). */
export function seeded(seed: number): () => number {
  const uniform = mulberry32(seed);
  return () => uniform() - 0.5;
}

/** Random SAE weights of the given size. */
export function randomWeights(dModel: number, nLatents: number, seed: number): SaeWeights {
  const random = seeded(seed);
  const fill = (length: number, scale: number): Float32Array =>
    Float32Array.from({ length }, () => random() * 2 * scale);
  return {
    W_enc: fill(nLatents * dModel, 1),
    b_enc: fill(nLatents, 0.1),
    W_dec: fill(dModel * nLatents, 1),
    b_dec: fill(dModel, 0.1),
    dModel,
    nLatents,
  };
}

export function randomVectors(count: number, dModel: number, seed: number): Float32Array {
  const random = seeded(seed);
  return Float32Array.from({ length: count * dModel }, () => random() * 4);
}

export function assertCloseArrays(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]!));
    if (!(Math.abs(actual[i]! - expected[i]!) <= TOLERANCE * scale)) {
      throw new Error(
        `${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (tolerance ${TOLERANCE} relative)`,
      );
    }
  }
}

/** Reference encoder for one vector: sorted top-k (feature, value) pairs after ReLU, and the pre-activation gap at k. */
export function referenceEncode(
  w: SaeWeights,
  x: ArrayLike<number>,
  k: number,
): { features: number[]; values: number[]; gap: number } {
  const { dModel: d, nLatents: n } = w;
  const pre: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    let sum = w.b_enc[i]!;
    for (let j = 0; j < d; j++) sum += w.W_enc[i * d + j]! * (x[j]! - w.b_dec[j]!);
    pre.push([i, sum]);
  }
  pre.sort((a, b) => b[1] - a[1]);
  const top = pre.slice(0, k);
  return {
    features: top.map(([i]) => i),
    values: top.map(([, v]) => Math.max(0, v)),
    gap: pre[k - 1]![1] - (pre[k]?.[1] ?? -Infinity),
  };
}

/** Reference decoder: W_dec h + b_dec for a sparse h given as feature -> value. */
export function referenceDecode(w: SaeWeights, h: ReadonlyMap<number, number>): number[] {
  const out: number[] = [];
  for (let j = 0; j < w.dModel; j++) {
    let sum = w.b_dec[j]!;
    for (const [feature, value] of h) sum += w.W_dec[j * w.nLatents + feature]! * value;
    out.push(sum);
  }
  return out;
}

/** Reference latents of one vector as feature -> value. */
export function referenceLatents(w: SaeWeights, x: ArrayLike<number>, k: number): Map<number, number> {
  const { features, values } = referenceEncode(w, x, k);
  return new Map(features.map((feature, t) => [feature, values[t]!]));
}

/** Reference edit semantics, written independently of the runtime: add / set / zero in order. */
export function referenceEdit(
  h: ReadonlyMap<number, number>,
  edits: readonly FeatureEdit[],
): Map<number, number> {
  const out = new Map(h);
  for (const edit of edits) {
    switch (edit.op) {
      case 'add':
        out.set(edit.feature, (out.get(edit.feature) ?? 0) + edit.value);
        break;
      case 'set':
        out.set(edit.feature, edit.value);
        break;
      case 'zero':
        out.set(edit.feature, 0);
        break;
    }
  }
  return out;
}

/** Reference residual steering: q + W_dec (h' - h). */
export function referenceResidual(
  w: SaeWeights,
  q: ArrayLike<number>,
  h: ReadonlyMap<number, number>,
  edited: ReadonlyMap<number, number>,
): number[] {
  const out = Array.from(q);
  const features = new Set([...h.keys(), ...edited.keys()]);
  for (const feature of features) {
    const delta = (edited.get(feature) ?? 0) - (h.get(feature) ?? 0);
    for (let j = 0; j < w.dModel; j++) out[j]! += delta * w.W_dec[j * w.nLatents + feature]!;
  }
  return out;
}

export function unit(vector: number[]): number[] {
  const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
  return vector.map((v) => v / norm);
}
