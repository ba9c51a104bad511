// The seeded generator: deterministic streams, resumable state, unbiased shuffles.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, deriveSeed } from '../src/rng.js';

describe('Rng', () => {
  it('repeats a stream from a seed and resumes it from its state', () => {
    const a = new Rng(42);
    const first = [a.next(), a.next()];
    const state = a.state;
    const rest = [a.next(), a.next()];
    assert.deepEqual([new Rng(42).next(), new Rng(42).next()], [first[0], first[0]]);
    const resumed = new Rng(state);
    assert.deepEqual([resumed.next(), resumed.next()], rest);
    assert.notEqual(new Rng(43).next(), first[0]);
  });

  it('shuffles into a permutation with roughly uniform positions', () => {
    const rng = new Rng(1);
    const counts = new Array(4).fill(0);
    for (let trial = 0; trial < 4000; trial++) {
      const order = rng.shuffle([0, 1, 2, 3]);
      assert.deepEqual([...order].sort(), [0, 1, 2, 3]);
      counts[order.indexOf(0)]++;
    }
    for (const c of counts) assert.ok(c > 850 && c < 1150, `position counts ${counts}`);
  });

  it('gives standard normal samples and distinct derived seeds', () => {
    const rng = new Rng(9);
    const samples = Array.from({ length: 20000 }, () => rng.normal());
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) / samples.length;
    assert.ok(Math.abs(mean) < 0.03 && Math.abs(variance - 1) < 0.05, `mean ${mean} variance ${variance}`);
    assert.notEqual(deriveSeed(1, 1000), deriveSeed(1, 1001));
    assert.equal(deriveSeed(1, 1000), deriveSeed(1, 1000));
  });
});
