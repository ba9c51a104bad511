// Query groups of the KL loss: nearest documents, judged documents first, pseudo-queries, batch layout.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { useBackend } from '../../src/backend/index.js';
import { assembleBatch, buildGroups, type TrainingRows } from '../../src/data/groups.js';
import { Rng } from '../../src/rng.js';

// Documents on a circle: neighbours by dot product are the adjacent angles.
function circle(count: number): Float32Array {
  return Float32Array.from({ length: count * 2 }, (_, j) =>
    (j % 2 === 0 ? Math.cos : Math.sin)((2 * Math.PI * Math.floor(j / 2)) / count),
  );
}

describe('buildGroups', () => {
  before(async () => {
    await useBackend('cpu');
  });

  it('uses documents as pseudo-queries with their nearest other documents', async () => {
    const rows: TrainingRows = { data: circle(12), dModel: 2, nDocs: 12, nQueries: 0 };
    const groups = await buildGroups(rows, { neighbours: 2, pseudoQueries: 'auto', rng: new Rng(1) });
    assert.equal(groups.pseudoQueries, true);
    assert.equal(groups.queryRow.length, 12);
    assert.deepEqual(new Set(groups.docRows.subarray(0, 2)), new Set([1, 11]));
  });

  it('puts judged documents first, then fills with nearest neighbours', async () => {
    const docs = circle(12);
    const query = Float32Array.from([1, 0]); // nearest: documents 0, 1, 11
    const rows: TrainingRows = {
      data: Float32Array.from([...docs, ...query]),
      dModel: 2,
      nDocs: 12,
      nQueries: 1,
    };
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
    const rows: TrainingRows = { data: circle(3), dModel: 2, nDocs: 3, nQueries: 0 };
    await assert.rejects(buildGroups(rows, { neighbours: 3, pseudoQueries: 'auto', rng: new Rng(1) }), {
      code: 'bad_config',
    });
    await assert.rejects(buildGroups(rows, { neighbours: 1, pseudoQueries: 'off', rng: new Rng(1) }), {
      code: 'bad_input',
    });
  });

  it('lays a batch out as queries first, then each query’s documents', () => {
    const rows: TrainingRows = { data: Float32Array.from([0, 1, 2, 3, 4]), dModel: 1, nDocs: 5, nQueries: 0 };
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
