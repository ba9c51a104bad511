// Tests of the crossover strength (the per-query meaning of `1x` for amplifying edits) on a feedback pool.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossoverStrength } from '../src/crossover.js';
import { feedbackPool } from '../src/feedback.js';
import type { SparseCodes } from '../src/stats.js';
import { seeded } from './helpers/planted.js';

const [documents, dModel] = [300, 24];

/** A pool of random unit vectors (codes do not matter for the crossover). */
function unitPool(seed: number) {
  const random = seeded(seed);
  const vectors = new Float32Array(documents * dModel);
  for (let r = 0; r < documents; r++) {
    let norm = 0;
    for (let i = 0; i < dModel; i++) norm += (vectors[r * dModel + i] = random() * 2 - 1) ** 2;
    for (let i = 0; i < dModel; i++) vectors[r * dModel + i]! /= Math.sqrt(norm);
  }
  const codes: SparseCodes = {
    batch: documents,
    k: 1,
    indices: new Int32Array(documents),
    values: new Float32Array(documents),
  };
  return { vectors, pool: feedbackPool(vectors, codes, dModel) };
}

/** Mean score under `score` of the 10 documents ranked best by `rank` (float vectors, exact). */
function meanOfTop(vectors: Float32Array, rank: Float32Array, score: Float32Array): number {
  const dot = (r: number, v: Float32Array) => v.reduce((a, x, i) => a + x * vectors[r * dModel + i]!, 0);
  const order = Array.from({ length: documents }, (_, r) => r).sort((a, b) => dot(b, rank) - dot(a, rank));
  return order.slice(0, 10).reduce((a, r) => a + dot(r, score), 0) / 10;
}

test("at the crossover the direction's top documents score as high as the query's on the steered query", () => {
  const { vectors, pool } = unitPool(3);
  const query = vectors.slice(0, dModel);
  const direction = vectors.slice(7 * dModel, 8 * dModel).map((x) => 0.8 * x);
  const v = crossoverStrength(pool, query, direction);
  assert.ok(v !== undefined && v > 0, `crossover ${v}`);
  const steered = query.map((x, i) => x + v * direction[i]!);
  // Independent float computation: the two top-10 sets, each scored on the steered query.
  const queryTop = meanOfTop(vectors, query, steered);
  const directionTop = meanOfTop(vectors, direction, steered);
  assert.ok(
    Math.abs(queryTop - directionTop) < 0.02,
    `query side ${queryTop}, direction side ${directionTop}`,
  );
  // Before the crossover the query's documents lead, after it the direction's do.
  const at = (w: number) => query.map((x, i) => x + w * direction[i]!);
  assert.ok(meanOfTop(vectors, query, at(0.5 * v)) > meanOfTop(vectors, direction, at(0.5 * v)));
  assert.ok(meanOfTop(vectors, query, at(2 * v)) < meanOfTop(vectors, direction, at(2 * v)));
  // The strength is in units of the direction: a direction twice as long crosses at half the strength.
  const double = crossoverStrength(
    pool,
    query,
    direction.map((x) => 2 * x),
  )!;
  assert.ok(Math.abs(double - v / 2) < 1e-6 * v);
});

test('no crossover: a zero direction, the query itself, or a pool smaller than two top lists', () => {
  const { vectors, pool } = unitPool(4);
  const query = vectors.slice(0, dModel);
  assert.equal(crossoverStrength(pool, query, new Float32Array(dModel)), undefined);
  // Steering a query toward itself: its own documents already lead on the direction.
  assert.equal(crossoverStrength(pool, query, query), undefined);
  const small = feedbackPool(
    vectors.slice(0, 19 * dModel),
    { batch: 19, k: 1, indices: new Int32Array(19), values: new Float32Array(19) },
    dModel,
  );
  assert.equal(crossoverStrength(small, query, vectors.slice(dModel, 2 * dModel)), undefined);
});

test('a vector of the wrong size is refused with a message that names both sizes', () => {
  const { pool } = unitPool(5);
  assert.throws(
    () => crossoverStrength(pool, new Float32Array(dModel + 1), new Float32Array(dModel)),
    /crossover needs 24-dim vectors, got a query of 25 and a direction of 24/,
  );
});
