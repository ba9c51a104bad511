// SAEs with planted features, for tests: feature j's encoder row and decoder column are a known unit direction, so
// a test knows which feature an input fires. A test construction, not a trained SAE.
import { mulberry32 } from '@steer/core';

/** Dense SAE weights in @steer/sae's layout (`SaeWeights`): W_enc [nLatents, dModel], W_dec [dModel, nLatents]. */
export interface PlantedWeights {
  W_enc: Float32Array;
  b_enc: Float32Array;
  W_dec: Float32Array;
  b_dec: Float32Array;
  dModel: number;
  nLatents: number;
}

/** `v` scaled to unit length (a zero vector stays zero). */
export function normalize(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return v.map((x) => x / norm);
}

/** Options of {@link plantedWeights}. */
export interface PlantedOptions {
  /** Seed of the random directions of the extra features. */
  seed: number;
  /** Encoder bias of feature `j` of `n`; `planted` tells a planted feature from an extra random one. */
  bias: (j: number, n: number, planted: boolean) => number;
}

/**
 * SAE weights with one planted feature per direction of `directions` (encoder row = decoder column = the unit
 * direction) followed by `extra` features along seeded random unit directions; `b_dec` is zero.
 */
export function plantedWeights(
  directions: readonly Float32Array[],
  dims: number,
  extra: number,
  options: PlantedOptions,
): PlantedWeights {
  const random = mulberry32(options.seed);
  const n = directions.length + extra;
  const W_enc = new Float32Array(n * dims);
  const W_dec = new Float32Array(dims * n);
  const b_enc = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const planted = j < directions.length;
    const direction = planted
      ? directions[j]!
      : normalize(Float32Array.from({ length: dims }, () => random() * 2 - 1));
    b_enc[j] = options.bias(j, n, planted);
    for (let i = 0; i < dims; i++) {
      W_enc[j * dims + i] = direction[i]!;
      W_dec[i * n + j] = direction[i]!;
    }
  }
  return { W_enc, b_enc, W_dec, b_dec: new Float32Array(dims), dModel: dims, nLatents: n };
}
