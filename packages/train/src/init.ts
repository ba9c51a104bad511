// Initial SAE weights: unit-norm random decoder rows, the encoder as the decoder's transpose, and b_dec at the
// geometric median (or mean) of the data, as in OpenAI's TopK SAE recipe.
import { memorySource, scanSource, type VectorSource } from './data/source.js';
import type { CoreState, SaeParams } from './model.js';
import type { Rng } from './rng.js';

/** How b_dec starts: the data's geometric median, its mean, or zeros. */
export type BiasInit = 'geometric-median' | 'mean' | 'zero';

/** Options of {@link initialState}. */
export interface InitOptions {
  dModel: number;
  nLatents: number;
  /** W_enc = W_dec^T at the start (true) or nn.Linear's uniform(-1/sqrt(d), 1/sqrt(d)) (false). */
  encoderFromDecoder: boolean;
  biasInit: BiasInit;
  rng: Rng;
  /** The mean row when the caller already has it (from its pass over the data); else it is computed. */
  mean?: Float64Array;
}

/** The mean of `rows` vectors of `data` [rows, d]. */
export function meanOf(data: Float32Array, rows: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let r = 0; r < rows; r++) for (let c = 0; c < d; c++) mean[c] += data[r * d + c]!;
  for (let c = 0; c < d; c++) mean[c] /= Math.max(rows, 1);
  return mean;
}

/**
 * The geometric median of up to `maxRows` rows of `data` [rows, d] by Weiszfeld's iteration from the mean.
 * @returns Float64Array // [d]
 */
export function geometricMedian(
  data: Float32Array,
  rows: number,
  d: number,
  rng: Rng,
  maxRows = 4096,
): Float64Array {
  let sample = data;
  let count = rows;
  if (rows > maxRows) {
    const picked = rng.shuffle(Int32Array.from({ length: rows }, (_, r) => r)).subarray(0, maxRows);
    sample = new Float32Array(maxRows * d);
    picked.forEach((r, i) => sample.set(data.subarray(r * d, r * d + d), i * d));
    count = maxRows;
  }
  let median = meanOf(sample, count, d);
  for (let iter = 0; iter < 100; iter++) {
    const next = new Float64Array(d);
    let weightSum = 0;
    for (let r = 0; r < count; r++) {
      let dist = 0;
      for (let c = 0; c < d; c++) dist += (sample[r * d + c]! - median[c]!) ** 2;
      const w = 1 / Math.max(Math.sqrt(dist), 1e-8);
      weightSum += w;
      for (let c = 0; c < d; c++) next[c] += w * sample[r * d + c]!;
    }
    let moved = 0;
    for (let c = 0; c < d; c++) {
      next[c] /= weightSum;
      moved += (next[c]! - median[c]!) ** 2;
    }
    median = next;
    if (Math.sqrt(moved) < 1e-7) break;
  }
  return median;
}

function zerosLike(p: SaeParams): SaeParams {
  return {
    wEnc: new Float32Array(p.wEnc.length),
    bEnc: new Float32Array(p.bEnc.length),
    wDecT: new Float32Array(p.wDecT.length),
    bDec: new Float32Array(p.bDec.length),
  };
}

/**
 * A fresh training state (Adam moments zero, no latent dead yet) from the training rows: `data` // [rows, dModel] in
 * memory, or a source read by offset (the geometric median reads only its sample of rows).
 */
export function initialState(
  data: Float32Array | VectorSource,
  rows: number,
  options: InitOptions,
): CoreState {
  const { dModel: d, nLatents: n, rng } = options;
  const source = data instanceof Float32Array ? memorySource(data.subarray(0, rows * d), d) : data;
  const wDecT = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let c = 0; c < d; c++) {
      const v = rng.normal();
      wDecT[i * d + c] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let c = 0; c < d; c++) wDecT[i * d + c]! /= norm;
  }
  let wEnc: Float32Array;
  if (options.encoderFromDecoder) {
    wEnc = Float32Array.from(wDecT); // W_enc [n, d] = (W_dec [d, n])^T = wDecT
  } else {
    const bound = 1 / Math.sqrt(d);
    wEnc = Float32Array.from({ length: n * d }, () => (2 * rng.next() - 1) * bound);
  }
  let bDec: Float32Array;
  if (options.biasInit === 'zero') bDec = new Float32Array(d);
  else if (options.biasInit === 'mean')
    bDec = Float32Array.from(options.mean ?? scanSource(source, 'training vectors').mean);
  else bDec = Float32Array.from(medianOfSource(source, rng));
  const params: SaeParams = { wEnc, bEnc: new Float32Array(n), wDecT, bDec };
  return {
    params,
    adamM: zerosLike(params),
    adamV: zerosLike(params),
    adamStep: 0,
    sinceFired: new Int32Array(n),
  };
}

/** The geometric median of up to 4,096 rows of `source`, sampled as {@link geometricMedian} samples them. */
function medianOfSource(source: VectorSource, rng: Rng, maxRows = 4096): Float64Array {
  const { rows, dims } = source;
  if (rows <= maxRows) return geometricMedian(source.readRange(0, rows), rows, dims, rng, maxRows);
  const picked = rng.shuffle(Int32Array.from({ length: rows }, (_, r) => r)).subarray(0, maxRows);
  const sample = new Float32Array(maxRows * dims);
  source.readRows(picked, sample);
  return geometricMedian(sample, maxRows, dims, rng, maxRows);
}
