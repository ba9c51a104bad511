// Query groups of the KL loss: nearest documents, judged documents first, pseudo-queries, batch layout.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assembleBatch, buildGroups, type TrainingRows } from '../../src/data/groups.js';
import { memorySource } from '../../src/data/source.js';
import { Rng } from '../../src/rng.js';

// Documents on a circle: neighbours by dot product are the adjacent angles.
function circle(count: number): Float32Array {
  return Float32Array.from({ length: count * 2 }, (_, j) =>
    (j % 2 === 0 ? Math.cos : Math.sin)((2 * Math.PI * Math.floor(j / 2)) / count),
  );
}

/** Training rows over documents and queries in memory. */
function rowsOf(docs: Float32Array, queries: Float32Array | null, dModel: number): TrainingRows {
  const docSource = memorySource(docs, dModel);
  const querySource = queries ? memorySource(queries, dModel) : null;
  const all = memorySource(Float32Array.from([...docs, ...(queries ?? [])]), dModel);
  return {
    all,
    docs: docSource,
    queries: querySource,
    dModel,
    nDocs: docSource.rows,
    nQueries: querySource?.rows ?? 0,
  };
}

describe('buildGroups', () => {
  it('uses documents as pseudo-queries with their nearest other documents', async () => {
    const rows = rowsOf(circle(12), null, 2);
    const groups = await buildGroups(rows, { neighbours: 2, pseudoQueries: 'auto', rng: new Rng(1) });
    assert.equal(groups.pseudoQueries, true);
    assert.equal(groups.queryRow.length, 12);
    assert.deepEqual(new Set(groups.docRows.subarray(0, 2)), new Set([1, 11]));
  });

  it('puts judged documents first, then fills with nearest neighbours', async () => {
    const docs = circle(12);
    const query = Float32Array.from([1, 0]); // nearest: documents 0, 1, 11
    const rows = rowsOf(docs, query, 2);
    const groups = await buildGroups(rows, {
      neighbours: 3,
      pseudoQueries: 'off',
      relevant: [[6]],
      rng: new Rng(1),
    });
    assert.equal(groups.pseudoQueries, false);
    assert.deepEqual(Array.from(groups.queryRow), [12]);
    assert.equal(groups.docRows[0], 6);
    assert.equal(new Set(groups.docRows).size, 3);
    assert.ok(Array.from(groups.docRows.subarray(1)).every((doc) => [0, 1, 11].includes(doc)));
  });

  it('gives real queries their nearest documents by IVF at scale and reports the measured recall', async () => {
    // 3,000 documents in 30 tight clusters on the unit sphere, 300 queries near them.
    const rng = new Rng(9);
    const d = 12;
    const centres = Array.from({ length: 30 }, () => Float32Array.from({ length: d }, () => rng.normal()));
    const around = (count: number): Float32Array => {
      const out = new Float32Array(count * d);
      for (let r = 0; r < count; r++) {
        const centre = centres[rng.int(30)]!;
        let norm = 0;
        for (let c = 0; c < d; c++) norm += (out[r * d + c] = centre[c]! + 0.3 * rng.normal()) ** 2;
        for (let c = 0; c < d; c++) out[r * d + c]! /= Math.sqrt(norm);
      }
      return out;
    };
    const docs = around(3000);
    const queries = around(300);
    const groups = await buildGroups(rowsOf(docs, queries, d), {
      neighbours: 8,
      pseudoQueries: 'off',
      rng: new Rng(1),
      search: { method: 'ivf', recallTarget: 0.95, seed: 2 },
    });
    const [how] = groups.search!;
    assert.equal(how!.method, 'ivf');
    assert.ok(how!.recall! >= 0.9, `recall@8 ${how!.recall}`);
    assert.equal(how!.sample, 300);
    assert.deepEqual(Array.from(groups.queryRow.subarray(0, 3)), [3000, 3001, 3002]);
    // Every query's documents are distinct documents.
    for (let q = 0; q < 300; q++) {
      const chosen = groups.docRows.subarray(q * 8, q * 8 + 8);
      assert.equal(new Set(chosen).size, 8);
      assert.ok(chosen.every((doc) => doc >= 0 && doc < 3000));
    }
  });

  it('refuses more neighbours than documents, and off without queries', async () => {
    const rows = rowsOf(circle(3), null, 2);
    await assert.rejects(buildGroups(rows, { neighbours: 3, pseudoQueries: 'auto', rng: new Rng(1) }), {
      code: 'bad_config',
    });
    await assert.rejects(buildGroups(rows, { neighbours: 1, pseudoQueries: 'off', rng: new Rng(1) }), {
      code: 'bad_input',
    });
  });

  it('lays a batch out as queries first, then each query’s documents', () => {
    const rows = rowsOf(Float32Array.from([0, 1, 2, 3, 4]), null, 1);
    const groups = {
      queryRow: Int32Array.from([0, 1]),
      docRows: Int32Array.from([2, 3, 4, 2]),
      neighbours: 2,
      pseudoQueries: true,
    };
    const x = assembleBatch(rows, groups, Int32Array.from([1, 0]), 0, 2);
    assert.deepEqual(Array.from(x), [1, 0, 4, 2, 2, 3]);
  });
});
