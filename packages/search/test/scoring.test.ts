import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lanceDistanceToScore, scoreVectors, SearchError } from '../src/index.js';

test('scoreVectors follows the Elasticsearch score definitions', () => {
  const a = [1, 0, 0];
  const b = [0.6, 0.8, 0];
  assert.equal(scoreVectors('cosine', a, a), 1);
  assert.ok(Math.abs(scoreVectors('cosine', a, b) - (1 + 0.6) / 2) < 1e-12);
  assert.ok(Math.abs(scoreVectors('cosine', a, [-2, 0, 0]) - 0) < 1e-12);
  assert.ok(Math.abs(scoreVectors('dot_product', a, b) - 0.8) < 1e-12);
  // l2: |a-b|^2 = 0.16 + 0.64 = 0.8
  assert.ok(Math.abs(scoreVectors('l2_norm', a, b) - 1 / 1.8) < 1e-12);
  assert.equal(scoreVectors('l2_norm', b, b), 1);
});

test('scoreVectors is magnitude-free under cosine only', () => {
  const q = [0.3, -0.2, 0.9];
  const v = [1, 2, 3];
  const scaled = v.map((x) => x * 7);
  assert.ok(Math.abs(scoreVectors('cosine', q, v) - scoreVectors('cosine', q, scaled)) < 1e-12);
  assert.notEqual(scoreVectors('l2_norm', q, v), scoreVectors('l2_norm', q, scaled));
});

test('scoreVectors rejects mismatched lengths and zero vectors under cosine', () => {
  assert.throws(
    () => scoreVectors('cosine', [1, 2], [1, 2, 3]),
    (e: unknown) => e instanceof SearchError && e.code === 'dims_mismatch',
  );
  assert.throws(
    () => scoreVectors('cosine', [0, 0], [1, 2]),
    (e: unknown) => e instanceof SearchError && e.code === 'invalid_vector',
  );
});

test('lanceDistanceToScore inverts LanceDB distances (cosine 1-cos, dot 1-dot, l2 squared)', () => {
  assert.equal(lanceDistanceToScore('cosine', 1 - 0.6), 0.8);
  assert.equal(lanceDistanceToScore('dot_product', 0), 1);
  assert.equal(lanceDistanceToScore('l2_norm', 0.8), 1 / 1.8);
});
