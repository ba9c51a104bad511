// Neighbour mining: exact search against a float64 reference, IVF recall against exact neighbours on clustered data,
// and the rows a file source reads.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mineNeighbours } from '../../src/data/neighbours.js';
import { memorySource } from '../../src/data/source.js';
import { Rng } from '../../src/rng.js';

/** The m best rows of `docs` for each query by a float64 dot product (ties by lower row). */
function referenceNeighbours(
  queries: Float32Array,
  docs: Float32Array,
  d: number,
  m: number,
  excludeSelf: boolean,
  which: number[] = Array.from({ length: queries.length / d }, (_, q) => q),
): number[][] {
  const nd = docs.length / d;
  return which.map((q) => {
    const best: [number, number][] = [];
    for (let r = 0; r < nd; r++) {
      if (excludeSelf && r === q) continue;
      let dot = 0;
      for (let c = 0; c < d; c++) dot += queries[q * d + c]! * docs[r * d + c]!;
      if (best.length === m && dot <= best[m - 1]![0]) continue;
      best.push([dot, r]);
      best.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      if (best.length > m) best.pop();
    }
    return best.map(([, r]) => r);
  });
}

/** `clusters` well separated groups of unit-ish vectors in d dims. */
function clustered(rows: number, d: number, clusters: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const centres = Float32Array.from({ length: clusters * d }, () => rng.normal());
  const data = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const c = rng.int(clusters);
    let norm = 0;
    for (let j = 0; j < d; j++) {
      const v = centres[c * d + j]! + 0.6 * rng.normal();
      data[r * d + j] = v;
      norm += v * v;
    }
    for (let j = 0; j < d; j++) data[r * d + j]! /= Math.sqrt(norm);
  }
  return data;
}

describe('mineNeighbours', () => {
  it('finds nearest neighbours by dot product, excluding the query itself', async () => {
    const docs = Float32Array.from([1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9, 0.7, 0.7]);
    const source = memorySource(docs, 2);
    const result = await mineNeighbours(source, source, { m: 2, excludeSelf: true, method: 'exact' });
    assert.equal(result.method, 'exact');
    assert.deepEqual(Array.from(result.neighbours.subarray(0, 2)), [1, 4]);
    assert.deepEqual(Array.from(result.neighbours.subarray(4, 6)), [3, 4]);
  });

  it('exact search equals a float64 reference on random data, for queries apart from the documents', async () => {
    const rng = new Rng(3);
    const d = 16;
    const docs = Float32Array.from({ length: 300 * d }, () => rng.normal());
    const queries = Float32Array.from({ length: 40 * d }, () => rng.normal());
    const result = await mineNeighbours(memorySource(queries, d), memorySource(docs, d), {
      m: 5,
      excludeSelf: false,
      method: 'exact',
    });
    const expected = referenceNeighbours(queries, docs, d, 5, false);
    for (let q = 0; q < 40; q++) {
      assert.deepEqual(Array.from(result.neighbours.subarray(q * 5, q * 5 + 5)), expected[q], `query ${q}`);
    }
  });

  it('IVF reaches its recall target against exact neighbours, and reports the recall it measured', async () => {
    const d = 24;
    const data = clustered(4000, d, 40, 5);
    const source = memorySource(data, d);
    const ivf = await mineNeighbours(source, source, {
      m: 8,
      excludeSelf: true,
      method: 'ivf',
      recallTarget: 0.9,
      sampleQueries: 400,
      seed: 1,
    });
    assert.equal(ivf.method, 'ivf');
    assert.equal(ivf.lists, 253); // 4 sqrt(4000)
    assert.ok(ivf.probes! >= 1 && ivf.probes! < ivf.lists!, `probes ${ivf.probes} of ${ivf.lists}`);
    // Every 4th query against a float64 reference.
    const checked = Array.from({ length: 1000 }, (_, i) => 4 * i + 3);
    const exact = referenceNeighbours(data, data, d, 8, true, checked);
    let hits = 0;
    checked.forEach((q, i) => {
      const truth = new Set(exact[i]);
      for (const r of ivf.neighbours.subarray(q * 8, q * 8 + 8)) if (truth.has(r)) hits++;
    });
    for (let q = 0; q < 4000; q++) {
      assert.ok(!ivf.neighbours.subarray(q * 8, q * 8 + 8).includes(q), `query ${q} is its own neighbour`);
    }
    const recall = hits / (checked.length * 8);
    assert.ok(recall >= 0.85, `recall@8 ${recall} over 1,000 queries`);
    assert.ok(Math.abs(recall - ivf.recall!) < 0.05, `reported ${ivf.recall}, measured ${recall}`);
    assert.equal(ivf.sample, 400);
  });

  it('auto searches exactly below the pair limit', async () => {
    const d = 4;
    const source = memorySource(clustered(50, d, 3, 2), d);
    const result = await mineNeighbours(source, source, { m: 3, excludeSelf: true });
    assert.equal(result.method, 'exact');
    assert.equal(result.recall, undefined);
  });
});
