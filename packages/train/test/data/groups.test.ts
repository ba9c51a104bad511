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
