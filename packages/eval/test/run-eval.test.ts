// Exact in-memory retrieval of the SAE's methods: dot product and cosine rankings against a brute-force sort,
// and sparse retrieval over TopK latents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@steer/train';
import { denseSearch, sparseSearch } from '../src/run-eval.js';

test('denseSearch returns the top documents by dot product or cosine, ties by document order', () => {
  const rng = new Rng(5);
  const dims = 6;
  const docs = Float32Array.from({ length: 50 * dims }, () => rng.normal() * (1 + rng.next()));
  const queries = Float32Array.from({ length: 4 * dims }, () => rng.normal());
  for (const similarity of ['dot', 'cosine'] as const) {
    const found = denseSearch(docs, queries, dims, 10, similarity);
    for (let q = 0; q < 4; q++) {
      const score = (d: number) => {
        let dot = 0;
        let norm = 0;
        for (let c = 0; c < dims; c++) {
          dot += queries[q * dims + c]! * docs[d * dims + c]!;
          norm += docs[d * dims + c]! ** 2;
        }
        return similarity === 'dot' ? dot : dot / Math.sqrt(norm);
      };
      const expected = Array.from({ length: 50 }, (_, d) => d)
        .sort((a, b) => score(b) - score(a) || a - b)
        .slice(0, 10);
      assert.deepEqual(found[q], expected, `${similarity} query ${q}`);
    }
  }
  assert.notDeepEqual(
    denseSearch(docs, queries, dims, 10, 'dot'),
    denseSearch(docs, queries, dims, 10, 'cosine'),
  );
  const ties = denseSearch(new Float32Array([1, 0, 1, 0, 0, 1]), new Float32Array([1, 0]), 2, 3, 'dot');
  assert.deepEqual(ties, [[0, 1, 2]]);
});

test('sparseSearch scores shared latents only', () => {
  const docs = {
    indices: Int32Array.from([0, 1, 2, 3, 0, 3]),
    values: Float32Array.from([1, 1, 1, 1, 2, 1]),
    batch: 3,
    k: 2,
  };
  const queries = { indices: Int32Array.from([0, 5]), values: Float32Array.from([1, 1]), batch: 1, k: 2 };
  assert.deepEqual(sparseSearch(docs, queries, 10, 'none'), [[2, 0]]);
  assert.deepEqual(sparseSearch(docs, queries, 10, 'l2'), [[2, 0]]); // 2/sqrt(5) > 1/sqrt(2)
});

test('sparseSearch ranks by the raw code dot product or by the unit-normalised document code', () => {
  // Documents (k = 2): d0 {0:3, 1:4} |d| = 5; d1 {0:1} |d| = 1; d2 {0:2, 5:2} |d| = sqrt(8);
  // d3 has no positive latent (zero norm); d4 {0:1} |d| = 1, a tie with d1.
  const docs = {
    indices: Int32Array.from([0, 1, 0, 9, 0, 5, 0, 1, 0, 7]),
    values: Float32Array.from([3, 4, 1, 0, 2, 2, 0, 0, 1, 0]),
    batch: 5,
    k: 2,
  };
  // q0 {0:1} (its latent 1 is inactive); q1 {1:2, 5:1}; q2 has no positive latent.
  const queries = {
    indices: Int32Array.from([0, 1, 1, 5, 3, 4]),
    values: Float32Array.from([1, 0, 2, 1, 0, 0]),
    batch: 3,
    k: 2,
  };
  // Dot: q0 -> d0 3, d2 2, d1 1, d4 1; q1 -> d0 8, d2 2.
  assert.deepEqual(sparseSearch(docs, queries, 10, 'none'), [[0, 2, 1, 4], [0, 2], []]);
  // Cosine over codes: q0 -> d1 1, d4 1 (tie, document order), d2 2/sqrt(8) = 0.707, d0 3/5 = 0.6;
  // q1 -> d0 8/5 = 1.6, d2 2/sqrt(8) = 0.707.
  assert.deepEqual(sparseSearch(docs, queries, 10, 'l2'), [[1, 4, 2, 0], [0, 2], []]);
  assert.deepEqual(sparseSearch(docs, queries, 3, 'l2'), [[1, 4, 2], [0, 2], []]);
});
