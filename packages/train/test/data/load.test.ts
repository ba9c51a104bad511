// Loading vectors (.npy, JSONL, folders) and qrels, and the errors bad files get.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpy } from '@steer/embed';
import { loadQrels, loadVectors, parseVectorJsonl } from '../../src/data/load.js';
import type { TrainError } from '../../src/errors.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'steer-train-load-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('loadVectors', () => {
  it('reads a float32 .npy [N, d] file and a folder holding embeddings.npy', () =>
    withDir(async (dir) => {
      const data = Float32Array.from({ length: 12 }, (_, i) => i / 10);
      await writeNpy(join(dir, 'embeddings.npy'), data, [4, 3]);
      for (const path of [join(dir, 'embeddings.npy'), dir]) {
        const set = await loadVectors(path);
        assert.equal(set.rows, 4);
        assert.equal(set.dims, 3);
        assert.deepEqual(Array.from(set.data), Array.from(data));
        assert.deepEqual(set.ids, ['0', '1', '2', '3']);
      }
    }));

  it('rejects a .npy that is not 2-D, and one with NaN', () =>
    withDir(async (dir) => {
      await writeNpy(join(dir, 'a.npy'), new Float32Array(6), [6]);
      await assert.rejects(
        loadVectors(join(dir, 'a.npy')),
        (e: TrainError) => e.code === 'bad_input' && /2-D/.test(e.message),
      );
      await writeNpy(join(dir, 'b.npy'), Float32Array.from([1, 2, Number.NaN, 4]), [2, 2]);
      await assert.rejects(
        loadVectors(join(dir, 'b.npy')),
        (e: TrainError) => e.code === 'bad_input' && /row 1/.test(e.message),
      );
    }));

  it('reads JSONL with a vector field and ids', () =>
    withDir(async (dir) => {
      await writeFile(join(dir, 'v.jsonl'), '{"id":"a","vector":[1,2]}\n\n{"_id":"b","vector":[3,4]}\n');
      const set = await loadVectors(join(dir, 'v.jsonl'));
      assert.deepEqual(set.ids, ['a', 'b']);
      assert.deepEqual(Array.from(set.data), [1, 2, 3, 4]);
    }));

  it('names the line of ragged, missing or non-JSON vectors', () => {
    assert.throws(
      () => parseVectorJsonl('{"vector":[1,2]}\n{"vector":[1,2,3]}\n', 'x'),
      /line 2 has 3 dims but the first vector has 2/,
    );
    assert.throws(
      () => parseVectorJsonl('{"vector":[1,2]}\n{"vec":[1,2]}\n', 'x'),
      /line 2 has no numeric "vector"/,
    );
    assert.throws(() => parseVectorJsonl('{"vector":[1,2]}\nnot json\n', 'x'), /line 2 is not JSON/);
    assert.throws(() => parseVectorJsonl('\n', 'x'), /empty/);
  });

  it('says when a folder is ambiguous or a path is missing', () =>
    withDir(async (dir) => {
      await mkdir(join(dir, 'two'));
      await writeFile(join(dir, 'two', 'a.jsonl'), '{"vector":[1]}\n');
      await writeFile(join(dir, 'two', 'b.jsonl'), '{"vector":[1]}\n');
      await assert.rejects(
        loadVectors(join(dir, 'two')),
        (e: TrainError) => e.code === 'bad_input' && /several/.test(e.message),
      );
      await assert.rejects(loadVectors(join(dir, 'missing.npy')), { code: 'file_unreadable' });
    }));
});

describe('loadQrels', () => {
  it('reads BEIR (with header) and TREC layouts', () =>
    withDir(async (dir) => {
      await writeFile(join(dir, 'beir.tsv'), 'query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\n');
      assert.deepEqual(await loadQrels(join(dir, 'beir.tsv')), [
        { queryId: 'q1', docId: 'd1', grade: 2 },
        { queryId: 'q1', docId: 'd2', grade: 0 },
      ]);
      await writeFile(join(dir, 'trec.txt'), '1 0 184 2\n1 0 29 -1\n');
      assert.deepEqual(await loadQrels(join(dir, 'trec.txt')), [
        { queryId: '1', docId: '184', grade: 2 },
        { queryId: '1', docId: '29', grade: -1 },
      ]);
      await writeFile(join(dir, 'bad.tsv'), 'q1\td1\t2\nq2\td2\tx\n');
      await assert.rejects(
        loadQrels(join(dir, 'bad.tsv')),
        (e: TrainError) => e.code === 'bad_input' && /line 2/.test(e.message),
      );
    }));
});
