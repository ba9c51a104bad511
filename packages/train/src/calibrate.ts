// Calibration of the scale-free loss (RECIPE.md): the reconstruction error is divided by the data's variance, the
// KL's softmax temperature is the spread of the original scores within a group, and the KL weight is set so that
// the KL term weighs `kldWeight` times the normalised MSE for an isotropic reconstruction error.
import type { StepBatch } from './model.js';

/** How the losses are scaled: `scale-free` (the default recipe) or `paper` (raw MSE, temperature 1, weight 1). */
export type LossScale = 'scale-free' | 'paper';

/** The constants a run's loss is computed with, and the data statistics they come from. */
export interface LossCalibration {
  loss: LossScale;
  /** Mean over rows of ||x - mean||^2 / d: the MSE of predicting the mean. */
  dataVariance: number;
  /** mean(x^2) over all values. */
  meanSquare: number;
  /** Factor on the MSE in the step (1 / dataVariance, or 1 for the paper's loss). */
  mseScale: number;
  /** Softmax temperature of the score distributions. */
  temperature: number;
  /** Expected KL per unit of normalised MSE under an isotropic reconstruction error (second order); null without KL. */
  klPerNmse: number | null;
  /** The KL weight the user asked for: relative to the normalised MSE (scale-free) or raw (paper). */
  kldWeightRequested: number;
  /** The weight on the KL term in the step. */
  kldWeight: number;
  /** Factor on the AuxK error (1, or mean(x^2) for the paper's unnormalised MSE). */
  auxScale: number;
}

/**
 * The data's moments from its mean row and mean(x^2) over every value: `variance` is the mean squared distance of rows
 * to their mean per dimension, mean(x^2) - |mean|^2 / d (clamped at 0). The one place this formula lives.
 */
export function momentsFrom(
  mean: ArrayLike<number>, // [d]
  meanSquare: number,
): { variance: number; meanSquare: number } {
  let meanNormSquared = 0;
  for (let c = 0; c < mean.length; c++) meanNormSquared += mean[c]! * mean[c]!;
  return { variance: Math.max(0, meanSquare - meanNormSquared / mean.length), meanSquare };
}

/** Mean squared distance of rows to their mean per dimension, and mean(x^2). @returns both over `rows` rows. */
export function dataMoments(
  data: Float32Array, // [rows, d]
  rows: number,
  d: number,
): { variance: number; meanSquare: number } {
  const mean = new Float64Array(d);
  let sumSquares = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < d; c++) {
      const v = data[r * d + c]!;
      mean[c] += v;
      sumSquares += v * v;
    }
  }
  for (let c = 0; c < d; c++) mean[c] /= rows;
  return momentsFrom(mean, sumSquares / (rows * d));
}

/** Softmax of `scores` divided by `temperature`. */
function softmax(scores: readonly number[], temperature: number): number[] {
  const max = Math.max(...scores);
  const e = scores.map((s) => Math.exp((s - max) / temperature));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/**
 * Statistics of the KL term on sample groups (a batch in the step's layout, original vectors).
 * `spread`: root mean over groups of the within-group variance of the scores q . d_j.
 * `klPerNoise(T)`: the second-order expected KL(p || p_hat) per unit of per-dimension noise variance s^2 when
 * every vector gets independent noise N(0, s^2 I): E[KL] = s^2 / (2 T^2) * mean_g [ |q|^2 (1 - sum p_j^2) +
 * sum p_j |d_j|^2 - |sum p_j d_j|^2 ].
 */
export function groupScoreStatistics(
  sample: StepBatch,
  d: number,
): {
  spread: number;
  klPerNoise: (temperature: number) => number;
} {
  const G = sample.groups;
  const M = sample.neighbours;
  const x = sample.x;
  const dot = (a: number, b: number): number => {
    let s = 0;
    for (let c = 0; c < d; c++) s += x[a * d + c]! * x[b * d + c]!;
    return s;
  };
  const scores: number[][] = [];
  let variance = 0;
  for (let g = 0; g < G; g++) {
    const s = Array.from({ length: M }, (_, j) => dot(g, G + g * M + j));
    const mean = s.reduce((a, b) => a + b, 0) / M;
    variance += s.reduce((a, v) => a + (v - mean) ** 2, 0) / M;
    scores.push(s);
  }
  const spread = Math.sqrt(variance / Math.max(G, 1));
  const klPerNoise = (temperature: number): number => {
    let sum = 0;
    for (let g = 0; g < G; g++) {
      const p = softmax(scores[g]!, temperature);
      const centroid = new Float64Array(d);
      let docTerm = 0;
      for (let j = 0; j < M; j++) {
        const row = G + g * M + j;
        docTerm += p[j]! * dot(row, row);
        for (let c = 0; c < d; c++) centroid[c] += p[j]! * x[row * d + c]!;
      }
      let centroidNorm = 0;
      for (let c = 0; c < d; c++) centroidNorm += centroid[c]! ** 2;
      const concentration = p.reduce((a, v) => a + v * v, 0);
      sum += dot(g, g) * (1 - concentration) + docTerm - centroidNorm;
    }
    return sum / Math.max(G, 1) / (2 * temperature * temperature);
  };
  return { spread, klPerNoise };
}

/** Options of {@link calibrateLoss}. */
export interface CalibrationOptions {
  loss: LossScale;
  /** Relative KL weight (scale-free) or raw weight (paper). */
  kldWeight: number;
  /** A fixed temperature; undefined: the score spread (scale-free) or 1 (paper). */
  temperature?: number;
}

/**
 * The loss constants of a run from its data: `moments` of all training vectors and `sample` groups (original
 * vectors, the step's layout; neighbours 0 means no KL term).
 */
export function calibrateLoss(
  moments: { variance: number; meanSquare: number },
  sample: StepBatch,
  d: number,
  options: CalibrationOptions,
): LossCalibration {
  const withKl = sample.neighbours > 0 && sample.groups > 0;
  if (options.loss === 'paper') {
    const temperature = options.temperature ?? 1;
    return {
      loss: 'paper',
      dataVariance: moments.variance,
      meanSquare: moments.meanSquare,
      mseScale: 1,
      temperature,
      klPerNmse: withKl ? groupScoreStatistics(sample, d).klPerNoise(temperature) * moments.variance : null,
      kldWeightRequested: options.kldWeight,
      kldWeight: withKl ? options.kldWeight : 0,
      auxScale: moments.meanSquare,
    };
  }
  // A constant dataset (variance 0) cannot be normalised; fall back to its energy, else to 1.
  const variance = moments.variance > 0 ? moments.variance : moments.meanSquare > 0 ? moments.meanSquare : 1;
  let temperature = options.temperature ?? 1;
  let klPerNmse: number | null = null;
  let kldWeight = 0;
  if (withKl) {
    const stats = groupScoreStatistics(sample, d);
    if (options.temperature === undefined && stats.spread > 0) temperature = stats.spread;
    // E[KL] per unit of normalised MSE: the noise's per-dimension variance s^2 is NMSE * variance.
    klPerNmse = stats.klPerNoise(temperature) * variance;
    kldWeight = klPerNmse > 0 ? options.kldWeight / klPerNmse : 0;
  }
  return {
    loss: 'scale-free',
    dataVariance: moments.variance,
    meanSquare: moments.meanSquare,
    mseScale: 1 / variance,
    temperature,
    klPerNmse,
    kldWeightRequested: options.kldWeight,
    kldWeight,
    auxScale: 1,
  };
}
