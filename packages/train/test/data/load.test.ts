// Opening vectors (.npy by offset, shard folders, JSONL) and reading qrels, and the errors bad files get.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpy } from '@steer/embed';
import { loadQrels, openVectors, parseVectorJsonl } from '../../src/data/load.js';
import { scanSource } from '../../src/data/source.js';
import type { TrainError } from '../../src/errors.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'steer-train-load-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('openVectors', () => {
  it('reads a float32 .npy [N, d] file and a folder holding embeddings.npy by offset', () =>
    withDir(async (dir) => {
      const data = Float32Array.from({ length: 12 }, (_, i) => i / 10);
      await writeNpy(join(dir, 'embeddings.npy'), data, [4, 3]);
      for (const path of [join(dir, 'embeddings.npy'), dir]) {
        const { source, ids } = await openVectors(path);
        assert.equal(source.rows, 4);
        assert.equal(source.dims, 3);
        assert.deepEqual(Array.from(source.readRange(0, 4)), Array.from(data));
        const picked = new Float32Array(6);
        source.readRows([3, 1], picked);
        assert.deepEqual(Array.from(picked), Array.from(data.subarray(9, 12)).concat(...data.subarray(3, 6)));
        assert.equal(ids, undefined);
        source.close();
      }
    }));

  it('reads a folder of .npy shards in name order as one matrix, and refuses shards of different widths', () =>
    withDir(async (dir) => {
      await mkdir(join(dir, 'shards'));
      await writeNpy(join(dir, 'shards', 'part-10.npy'), Float32Array.from([5, 6]), [1, 2]);
      await writeNpy(join(dir, 'shards', 'part-2.npy'), Float32Array.from([1, 2, 3, 4]), [2, 2]);
      const { source } = await openVectors(join(dir, 'shards'));
      assert.equal(source.rows, 3);
      assert.deepEqual(Array.from(source.readRange(1, 2)), [3, 4, 5, 6]);
      const picked = new Float32Array(4);
      source.readRows([2, 0], picked);
      assert.deepEqual(Array.from(picked), [5, 6, 1, 2]);
      source.close();
      await writeNpy(join(dir, 'shards', 'part-3.npy'), Float32Array.from([1, 2, 3]), [1, 3]);
      await assert.rejects(
        openVectors(join(dir, 'shards')),
        (e: TrainError) =>
          e.code === 'bad_input' && /part-3.npy .* has 3 dims but part-2.npy has 2/.test(e.message),
      );
    }));

  it('reads float64 .npy files as float32', () =>
    withDir(async (dir) => {
      const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
      const padded = header + ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
      const prefix = Buffer.alloc(10);
      Buffer.from('\x93NUMPY\x01\x00', 'latin1').copy(prefix);
      prefix.writeUInt16LE(padded.length, 8);
      const body = Buffer.alloc(32);
      [1.5, -2.25, 3, 4].forEach((v, i) => body.writeDoubleLE(v, 8 * i));
      await writeFile(join(dir, 'f8.npy'), Buffer.concat([prefix, Buffer.from(padded, 'latin1'), body]));
      const { source } = await openVectors(join(dir, 'f8.npy'));
      const picked = new Float32Array(2);
      source.readRows([1], picked);
      assert.deepEqual(Array.from(picked), [3, 4]);
      assert.deepEqual(Array.from(source.readRange(0, 2)), [1.5, -2.25, 3, 4]);
    }));

  it('rejects a .npy that is not 2-D, and one with NaN', () =>
    withDir(async (dir) => {
      await writeNpy(join(dir, 'a.npy'), new Float32Array(6), [6]);
      await assert.rejects(
        openVectors(join(dir, 'a.npy')),
        (e: TrainError) => e.code === 'bad_input' && /2-D/.test(e.message),
      );
      await writeNpy(join(dir, 'b.npy'), Float32Array.from([1, 2, Number.NaN, 4]), [2, 2]);
      const { source } = await openVectors(join(dir, 'b.npy'));
      assert.throws(
        () => scanSource(source, join(dir, 'b.npy')),
        (e: TrainError) => e.code === 'bad_input' && /b.npy row 1 has a non-finite value/.test(e.message),
      );
    }));

  it('reads JSONL with a vector field and ids', () =>
    withDir(async (dir) => {
      await writeFile(join(dir, 'v.jsonl'), '{"id":"a","vector":[1,2]}\n\n{"_id":"b","vector":[3,4]}\n');
      const { source, ids } = await openVectors(join(dir, 'v.jsonl'));
      assert.deepEqual(ids, ['a', 'b']);
      assert.deepEqual(Array.from(source.readRange(0, 2)), [1, 2, 3, 4]);
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
        openVectors(join(dir, 'two')),
        (e: TrainError) => e.code === 'bad_input' && /several/.test(e.message),
      );
      await assert.rejects(openVectors(join(dir, 'missing.npy')), { code: 'file_unreadable' });
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
