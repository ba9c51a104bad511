// Initial weights: unit-norm decoder rows, encoder = decoder transpose, b_dec at the geometric median.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { geometricMedian, initialState, meanOf } from '../src/init.js';
import { Rng } from '../src/rng.js';

describe('init', () => {
  it('puts b_dec at the geometric median, which an outlier barely moves (unlike the mean)', () => {
    // Nine points around (1, 1) and one far outlier.
    const points = [0.9, 1, 1.1, 1, 1, 0.9, 1, 1.1, 1, 1, 0.95, 1.05, 1.05, 0.95, 1, 1, 1, 1, 100, 100];
    const data = Float32Array.from(points);
    const median = geometricMedian(data, 10, 2, new Rng(1));
    const mean = meanOf(data, 10, 2);
    assert.ok(Math.hypot(median[0]! - 1, median[1]! - 1) < 0.05, `median ${Array.from(median)}`);
    assert.ok(mean[0]! > 10);
  });

  it('starts with unit decoder rows, W_enc = W_dec^T, zero moments and no dead latents', () => {
    const data = Float32Array.from({ length: 40 }, (_, i) => i % 7);
    const state = initialState(data, 10, {
      dModel: 4,
      nLatents: 6,
      encoderFromDecoder: true,
      biasInit: 'mean',
      rng: new Rng(2),
    });
    for (let i = 0; i < 6; i++) {
      assert.ok(Math.abs(Math.hypot(...state.params.wDecT.subarray(i * 4, i * 4 + 4)) - 1) < 1e-6);
    }
    assert.deepEqual(state.params.wEnc, state.params.wDecT);
    assert.deepEqual(Array.from(state.params.bDec), Array.from(meanOf(data, 10, 4), Math.fround));
    assert.ok(state.adamM.wEnc.every((v) => v === 0) && state.sinceFired.every((v) => v === 0));
    const random = initialState(data, 10, {
      dModel: 4,
      nLatents: 6,
      encoderFromDecoder: false,
      biasInit: 'zero',
      rng: new Rng(2),
    });
    assert.notDeepEqual(random.params.wEnc, random.params.wDecT);
    assert.ok(
      random.params.wEnc.every((v) => Math.abs(v) <= 0.5) && random.params.bDec.every((v) => v === 0),
    );
  });
});
