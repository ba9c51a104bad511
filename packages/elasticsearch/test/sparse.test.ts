// Latents <-> sparse_vector values and the per-feature explanation of a sparse score.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  explainLatentScore,
  FLOAT32_MIN_NORMAL,
  latentsToSparseVector,
  sparseVectorToFeatures,
} from '../src/index.js';

describe('latentsToSparseVector', () => {
  it('keys features as f<id> and keeps positive activations only', () => {
    const vector = latentsToSparseVector({
      indices: Int32Array.from([3, 17, 5]),
      values: Float32Array.from([0.5, 0, -1]),
    });
    assert.deepEqual(vector, { f3: 0.5 });
    assert.deepEqual(
      [...sparseVectorToFeatures({ f3: 0.5, other: 2, f9: 1 })],
      [
        [3, 0.5],
        [9, 1],
      ],
    );
  });

  it('refuses mismatched lengths and non-finite activations', () => {
    assert.throws(
      () => latentsToSparseVector({ indices: [1, 2], values: [1] }),
      /2 feature ids but 1 activations/,
    );
    assert.throws(() => latentsToSparseVector({ indices: [1], values: [Number.NaN] }), /activations finite/);
    assert.throws(() => latentsToSparseVector({ indices: [1], values: [1e39] }), /finite float32/);
  });

  it('drops activations below float32 MIN_NORMAL, which Lucene feature fields refuse', () => {
    const vector = latentsToSparseVector({
      indices: [1, 2, 3, 4],
      values: [1e-39, FLOAT32_MIN_NORMAL, 1e-45, 2e-38],
    });
    assert.deepEqual(vector, { f2: FLOAT32_MIN_NORMAL, f4: 2e-38 });
  });
});

describe('explainLatentScore', () => {
  it('ranks shared features by query weight × document weight, which sum to the sparse score', () => {
    const query = { f1: 2, f2: 1, f3: 0.5 };
    const doc = { f1: 0.25, f3: 4, f9: 10 };
    const contributions = explainLatentScore(query, doc);
    assert.deepEqual(contributions, [
      { feature: 3, queryActivation: 0.5, documentActivation: 4, contribution: 2 },
      { feature: 1, queryActivation: 2, documentActivation: 0.25, contribution: 0.5 },
    ]);
    const score = contributions.reduce((s, c) => s + c.contribution, 0);
    assert.equal(score, 2 * 0.25 + 0.5 * 4);
    assert.equal(explainLatentScore(query, doc, 1).length, 1);
    assert.deepEqual(explainLatentScore(query, undefined), []);
  });
});
