// The bootstrap intervals and seed statistics behind every reported number: coverage against the textbook normal
// interval, determinism, pairing, and the verdicts drawn from an interval.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  averageSeries,
  bootstrapMean,
  bootstrapPairedDifference,
  bootstrapRatio,
  compareInterval,
  meanAndSd,
} from '../src/statistics.js';

/** 200 values from a fixed pseudo-random sequence in [0, 1). */
const values = Array.from({ length: 200 }, (_, i) => ((i * 7919) % 1000) / 1000);

test('the bootstrap interval of a mean agrees with the normal interval mean ± 1.96 se', () => {
  const { mean, sd } = meanAndSd(values);
  const se = sd / Math.sqrt(values.length);
  const interval = bootstrapMean(values);
  assert.ok(Math.abs(interval.value - mean) < 1e-12);
  assert.ok(Math.abs(interval.low - (mean - 1.96 * se)) < 0.2 * se, `low ${interval.low}`);
  assert.ok(Math.abs(interval.high - (mean + 1.96 * se)) < 0.2 * se, `high ${interval.high}`);
});

test('the bootstrap is deterministic for a seed and changes with it', () => {
  assert.deepEqual(bootstrapMean(values), bootstrapMean(values));
  assert.notDeepEqual(bootstrapMean(values, { seed: 1 }), bootstrapMean(values));
});

test('paired statistics resample queries together: a constant shift has a zero-width interval', () => {
  const shifted = values.map((v) => v + 0.25);
  const difference = bootstrapPairedDifference(shifted, values);
  assert.ok(Math.abs(difference.value - 0.25) < 1e-12);
  assert.ok(difference.high - difference.low < 1e-9);
  const ratio = bootstrapRatio(
    values.map((v) => 2 * v),
    values,
  );
  assert.ok(Math.abs(ratio.value - 2) < 1e-12 && ratio.high - ratio.low < 1e-9);
  assert.throws(() => bootstrapPairedDifference([1, 2], [1]), /paired series of equal, non-zero length/);
});

test('verdicts: above or below only when the whole interval is on one side', () => {
  assert.equal(compareInterval({ value: 0.8, low: 0.76, high: 0.84 }, 0.755), 'above');
  assert.equal(compareInterval({ value: 0.8, low: 0.7, high: 0.84 }, 0.755), 'within noise');
  assert.equal(compareInterval({ value: 0.6, low: 0.5, high: 0.7 }, 0.755), 'below');
});

test('mean ± sd over seeds and per-query averages over seeds', () => {
  const { mean, sd } = meanAndSd([0.5, 0.6, 0.7]);
  assert.ok(Math.abs(mean - 0.6) < 1e-12 && Math.abs(sd - 0.1) < 1e-12);
  assert.equal(meanAndSd([0.4]).sd, 0);
  assert.deepEqual(
    averageSeries([
      [1, 0],
      [0, 0],
    ]),
    [0.5, 0],
  );
});
