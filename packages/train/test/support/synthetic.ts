// Synthetic training data from a planted sparse dictionary: each vector is a positive mix of a few unit atoms.
import { Rng } from '../../src/rng.js';

export interface Planted {
  dict: Float32Array; // [atoms, d], unit rows
  docs: Float32Array; // [rows, d]
}

export function plantedData(d: number, atoms: number, active: number, rows: number, seed = 11): Planted {
  const rng = new Rng(seed);
  const dict = plantedDictionary(rng, d, atoms);
  const docs = new Float32Array(rows * d);
  plantedRows(rng, dict, d, atoms, active, docs);
  return { dict, docs };
}

/** `atoms` random unit vectors: dict // [atoms, d]. */
export function plantedDictionary(rng: Rng, d: number, atoms: number): Float32Array {
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
  return dict;
}

/**
 * Fills `out` // [rows, d] with rows that each mix `active` distinct atoms with weights in [0.5, 1.5); `pickAtom`
 * draws an atom (default uniform).
 */
export function plantedRows(
  rng: Rng,
  dict: Float32Array,
  d: number,
  atoms: number,
  active: number,
  out: Float32Array,
  pickAtom: () => number = () => rng.int(atoms),
): void {
  const rows = out.length / d;
  for (let r = 0; r < rows; r++) {
    const chosen = new Set<number>();
    while (chosen.size < active) chosen.add(pickAtom());
    for (const a of chosen) {
      const w = 0.5 + rng.next();
      for (let c = 0; c < d; c++) out[r * d + c]! += w * dict[a * d + c]!;
    }
  }
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
