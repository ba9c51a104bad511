// Synthetic training data from a planted sparse dictionary: each vector is a positive mix of a few unit atoms.
import type { CoreState, SaeParams } from '../../src/model.js';
import { Rng } from '../../src/rng.js';

export interface Planted {
  dict: Float32Array; // [atoms, d], unit rows
  docs: Float32Array; // [rows, d]
}

export function plantedData(d: number, atoms: number, active: number, rows: number, seed = 11): Planted {
  const rng = new Rng(seed);
  const dict = new Float32Array(atoms * d);
  for (let a = 0; a < atoms; a++) {
    let norm = 0;
    for (let c = 0; c < d; c++) {
      const v = rng.normal();
      dict[a * d + c] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let c = 0; c < d; c++) dict[a * d + c]! /= norm;
  }
  const docs = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const chosen = new Set<number>();
    while (chosen.size < active) chosen.add(rng.int(atoms));
    for (const a of chosen) {
      const w = 0.5 + rng.next();
      for (let c = 0; c < d; c++) docs[r * d + c]! += w * dict[a * d + c]!;
    }
  }
  return { dict, docs };
}

/** For each atom, the best cosine with a decoder column of W_dec [d, n]. */
export function bestCosines(
  dict: Float32Array,
  atoms: number,
  wDec: Float32Array,
  d: number,
  n: number,
): number[] {
  const norms = new Float64Array(n);
  for (let c = 0; c < d; c++) for (let i = 0; i < n; i++) norms[i] += wDec[c * n + i]! ** 2;
  const out: number[] = [];
  for (let a = 0; a < atoms; a++) {
    let best = -1;
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += dict[a * d + c]! * wDec[c * n + i]!;
      best = Math.max(best, dot / Math.sqrt(norms[i]! || 1));
    }
    out.push(best);
  }
  return out;
}

/**
 * A fresh core state for step tests: unit-norm random decoder rows, Gaussian encoder and biases (standard deviations
 * `scales`), zero Adam moments and dead-latent counters.
 */
export function randomCoreState(
  rng: Rng,
  d: number,
  n: number,
  scales: { wEnc: number; bEnc: number; bDec: number },
): CoreState {
  const randn = (len: number, scale: number): Float32Array =>
    Float32Array.from({ length: len }, () => rng.normal() * scale);
  const wDecT = randn(n * d, 1);
  for (let i = 0; i < n; i++) {
    const norm = Math.hypot(...wDecT.subarray(i * d, i * d + d));
    for (let c = 0; c < d; c++) wDecT[i * d + c]! /= norm;
  }
  const zeros = (): SaeParams => ({
    wEnc: new Float32Array(n * d),
    bEnc: new Float32Array(n),
    wDecT: new Float32Array(n * d),
    bDec: new Float32Array(d),
  });
  return {
    params: {
      wEnc: randn(n * d, scales.wEnc),
      bEnc: randn(n, scales.bEnc),
      wDecT,
      bDec: randn(d, scales.bDec),
    },
    adamM: zeros(),
    adamV: zeros(),
    adamStep: 0,
    sinceFired: new Int32Array(n),
  };
}
