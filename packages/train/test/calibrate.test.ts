// The scale-free loss's calibration: data moments, the score spread as temperature, the second-order KL per unit of
// normalised MSE (checked against a Monte-Carlo estimate), and invariance of the whole loss to the data's scale.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { calibrateLoss, dataMoments, groupScoreStatistics, momentsFrom } from '../src/calibrate.js';
import { Rng } from '../src/rng.js';

const d = 8;
const G = 40;
const M = 5;

/** A batch in the step's layout (G queries, then G * M documents near their query). */
function batch(scale: number, seed = 1): { x: Float32Array; groups: number; neighbours: number } {
  const rng = new Rng(seed);
  const x = new Float32Array(G * (1 + M) * d);
  for (let g = 0; g < G; g++) {
    const q = Array.from({ length: d }, () => rng.normal());
    for (let c = 0; c < d; c++) x[g * d + c] = scale * q[c]!;
    for (let j = 0; j < M; j++) {
      const row = G + g * M + j;
      for (let c = 0; c < d; c++) x[row * d + c] = scale * (q[c]! + 0.7 * rng.normal());
    }
  }
  return { x, groups: G, neighbours: M };
}

function softmax(v: number[]): number[] {
  const max = Math.max(...v);
  const e = v.map((u) => Math.exp(u - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((u) => u / s);
}

/** Monte-Carlo mean of KL(p || p_hat) when every vector gets N(0, sigma^2 I) noise. */
function monteCarloKl(b: { x: Float32Array }, temperature: number, sigma: number, trials: number): number {
  const rng = new Rng(9);
  let total = 0;
  for (let t = 0; t < trials; t++) {
    const noisy = Float32Array.from(b.x, (v) => v + sigma * rng.normal());
    for (let g = 0; g < G; g++) {
      const s: number[] = [];
      const sh: number[] = [];
      for (let j = 0; j < M; j++) {
        const row = G + g * M + j;
        let a = 0;
        let h = 0;
        for (let c = 0; c < d; c++) {
          a += b.x[g * d + c]! * b.x[row * d + c]!;
          h += noisy[g * d + c]! * noisy[row * d + c]!;
        }
        s.push(a / temperature);
        sh.push(h / temperature);
      }
      const p = softmax(s);
      const ph = softmax(sh);
      for (let j = 0; j < M; j++) total += p[j]! * Math.log(p[j]! / ph[j]!);
    }
  }
  return total / (trials * G);
}

describe('calibration of the scale-free loss', () => {
  it('data moments: variance around the mean and mean square', () => {
    const data = Float32Array.from([1, 2, 3, 4, 5, 6]); // rows (1,2), (3,4), (5,6)
    const { variance, meanSquare } = dataMoments(data, 3, 2);
    assert.ok(Math.abs(meanSquare - 91 / 6) < 1e-12);
    assert.ok(Math.abs(variance - 8 / 3) < 1e-12); // each dimension varies by 8/3 around its mean
  });

  it("momentsFrom gives the same moments from a streamed mean row and mean(x^2) (the trainer's path)", () => {
    const direct = dataMoments(Float32Array.from([1, 2, 3, 4, 5, 6]), 3, 2);
    const streamed = momentsFrom(new Float64Array([3, 4]), 91 / 6);
    assert.ok(Math.abs(streamed.variance - 8 / 3) < 1e-12);
    assert.ok(Math.abs(streamed.variance - direct.variance) < 1e-12);
    assert.equal(momentsFrom([1, 1], 0.5).variance, 0); // clamped: mean(x^2) below |mean|^2 / d by rounding
  });

  it('the second-order KL per unit of noise matches a Monte-Carlo estimate', () => {
    const b = batch(1);
    const stats = groupScoreStatistics(b, d);
    const temperature = stats.spread;
    const sigma = 0.02;
    const predicted = stats.klPerNoise(temperature) * sigma * sigma;
    const measured = monteCarloKl(b, temperature, sigma, 60);
    assert.ok(
      Math.abs(measured - predicted) < 0.1 * predicted,
      `Monte-Carlo KL ${measured} vs second order ${predicted}`,
    );
  });

  it('is invariant to the scale of the data: same normalised MSE weight, same KL per unit of it', () => {
    const options = { loss: 'scale-free' as const, kldWeight: 0.1 };
    const at = (scale: number) => {
      const b = batch(scale);
      return calibrateLoss(dataMoments(b.x, G * (1 + M), d), b, d, options);
    };
    const a = at(1);
    const b = at(30);
    assert.ok(Math.abs(b.mseScale * 900 - a.mseScale) < 1e-5 * a.mseScale, 'MSE scale ~ 1 / scale^2');
    assert.ok(Math.abs(b.temperature / 900 - a.temperature) < 1e-5 * a.temperature, 'temperature ~ scale^2');
    assert.ok(Math.abs(b.klPerNmse! - a.klPerNmse!) < 1e-5 * a.klPerNmse!, 'KL per NMSE is unchanged');
    assert.ok(Math.abs(b.kldWeight - a.kldWeight) < 1e-5 * a.kldWeight);
    assert.ok(Math.abs(a.kldWeight * a.klPerNmse! - 0.1) < 1e-12, 'relative weight 0.1 of the NMSE');
    assert.equal(a.auxScale, 1);
  });

  it("the paper's loss keeps the raw MSE, temperature 1 and the raw KL weight", () => {
    const b = batch(3);
    const c = calibrateLoss(dataMoments(b.x, G * (1 + M), d), b, d, { loss: 'paper', kldWeight: 1 });
    assert.equal(c.mseScale, 1);
    assert.equal(c.temperature, 1);
    assert.equal(c.kldWeight, 1);
    assert.ok(Math.abs(c.auxScale - c.meanSquare) < 1e-12);
  });

  it('without neighbours there is no KL term; a fixed temperature is kept', () => {
    const b = batch(1);
    const moments = dataMoments(b.x, G * (1 + M), d);
    const none = calibrateLoss(moments, { x: b.x, groups: G, neighbours: 0 }, d, {
      loss: 'scale-free',
      kldWeight: 0.1,
    });
    assert.equal(none.kldWeight, 0);
    assert.equal(none.klPerNmse, null);
    const fixed = calibrateLoss(moments, b, d, { loss: 'scale-free', kldWeight: 0.1, temperature: 0.5 });
    assert.equal(fixed.temperature, 0.5);
  });
});
