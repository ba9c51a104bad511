// Statistics of the reported numbers: seeded percentile bootstrap intervals over queries (a mean, a ratio of two
// paired means, a paired difference) and mean ± standard deviation over training seeds.
import { Rng } from '@steer/train';

/** A point estimate with its 95% interval. */
export interface Interval {
  value: number;
  low: number;
  high: number;
}

/** Options of the bootstrap: resamples (default 10,000) and the PRNG seed (default 0, so reruns agree). */
export interface BootstrapOptions {
  resamples?: number;
  seed?: number;
}

const DEFAULT_RESAMPLES = 10_000;

/** The 2.5% and 97.5% percentiles of `values` (sorted in place), by linear interpolation. */
function percentileInterval(values: Float64Array): { low: number; high: number } {
  values.sort();
  const at = (q: number): number => {
    const position = q * (values.length - 1);
    const below = Math.floor(position);
    const above = Math.min(values.length - 1, below + 1);
    return values[below]! + (position - below) * (values[above]! - values[below]!);
  };
  return { low: at(0.025), high: at(0.975) };
}

/**
 * Percentile bootstrap over paired observations: resamples indices 0..n-1 with replacement and evaluates
 * `statistic(sums)` where `sums[j]` is the resample's sum of `series[j]`. @returns the statistic on the data and its
 * 95% interval. @throws Error when the series are empty or of different lengths.
 */
function bootstrap(
  series: readonly (readonly number[])[],
  statistic: (sums: readonly number[], n: number) => number,
  options: BootstrapOptions,
): Interval {
  const n = series[0]?.length ?? 0;
  if (n === 0 || series.some((s) => s.length !== n)) {
    throw new Error(
      `statistics: the bootstrap needs paired series of equal, non-zero length, got ${series.map((s) => s.length).join(', ')}`,
    );
  }
  const total = (s: readonly number[]): number => s.reduce((a, b) => a + b, 0);
  const value = statistic(series.map(total), n);
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  const rng = new Rng(options.seed ?? 0);
  const estimates = new Float64Array(resamples);
  const sums = new Array<number>(series.length);
  for (let b = 0; b < resamples; b++) {
    sums.fill(0);
    for (let i = 0; i < n; i++) {
      const pick = rng.int(n);
      for (let j = 0; j < series.length; j++) sums[j]! += series[j]![pick]!;
    }
    estimates[b] = statistic(sums, n);
  }
  return { value, ...percentileInterval(estimates) };
}

/** The mean of per-query values with its 95% bootstrap interval over queries. */
export function bootstrapMean(values: readonly number[], options: BootstrapOptions = {}): Interval {
  return bootstrap([values], ([sum], n) => sum! / n, options);
}

/**
 * mean(numerator) / mean(denominator) over paired per-query values (e.g. a method's reciprocal ranks over the
 * original's: the retention of MRR@10) with its 95% bootstrap interval; 0 where the denominator's mean is 0.
 */
export function bootstrapRatio(
  numerator: readonly number[],
  denominator: readonly number[],
  options: BootstrapOptions = {},
): Interval {
  return bootstrap([numerator, denominator], ([a, b]) => (b === 0 ? 0 : a! / b!), options);
}

/** mean(a - b) over paired per-query values with its 95% bootstrap interval (an ablation's effect). */
export function bootstrapPairedDifference(
  a: readonly number[],
  b: readonly number[],
  options: BootstrapOptions = {},
): Interval {
  return bootstrap([a, b], ([sa, sb], n) => (sa! - sb!) / n, options);
}

/** Mean and sample standard deviation (n - 1; 0 for a single value). */
export function meanAndSd(values: readonly number[]): { mean: number; sd: number; n: number } {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, sd: Number.NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n < 2 ? 0 : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  return { mean, sd, n };
}

/** Averages per-query series element-wise (e.g. one series per seed -> one per-query mean over seeds). */
export function averageSeries(series: readonly (readonly number[])[]): number[] {
  const n = series[0]?.length ?? 0;
  if (series.some((s) => s.length !== n)) {
    throw new Error('statistics: per-query series of different lengths cannot be averaged');
  }
  return Array.from({ length: n }, (_, i) => series.reduce((a, s) => a + s[i]!, 0) / series.length);
}

/** How an interval compares with a reference value: above, below, or within (the interval contains it). */
export function compareInterval(interval: Interval, reference: number): 'above' | 'below' | 'within noise' {
  if (interval.low > reference) return 'above';
  if (interval.high < reference) return 'below';
  return 'within noise';
}
