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
  assert.deepEqual(sparseSearch(docs, queries, 10), [[2, 0]]);
});
