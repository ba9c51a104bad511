// The resumable local copy of an index (`--from-index`), on a real embedded store: a copy that dies midway resumes
// to exactly the rows of an uninterrupted one, parts a dead copy wrote but never recorded are dropped, and a copy of
// another index, an unfinished copy without --resume or a changed snapshot are refused.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readNpy } from '@steer/embed';
import { openLanceBackend, openLanceIndexReader, type IndexReader } from '@steer/search';
import type { UsageError } from '../src/command.js';
import { copyIndex, savedCopyState, type IndexCopy } from '../src/index-copy.js';

let root: string;
const DIMS = 4;
const ROWS = 53;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'steer-index-copy-'));
  const backend = await openLanceBackend(join(root, 'data'));
  await backend.createIndex('docs', { dims: DIMS, similarity: 'l2_norm' });
  await backend.addDocuments(
    'docs',
    Array.from({ length: ROWS }, (_, i) => ({
      id: `d${i}`,
      text: `text ${i}`,
      vector: Float32Array.from([i, -i, i / 2, 1]),
    })),
  );
  await backend.close();
});
after(() => rm(root, { recursive: true, force: true }));

/** The rows of a finished copy: vectors, ids and texts in order. */
async function contents(copy: IndexCopy): Promise<{ vectors: number[]; ids: string[]; texts: string[] }> {
  const vectors: number[] = [];
  for (const part of copy.parts) vectors.push(...(await readNpy(part)).data);
  return { vectors, ids: await copy.ids(), texts: await copy.texts() };
}

/** `reader` whose `read` throws after `pages` successful pages, as a killed process stops. */
function dyingAfter(reader: IndexReader, pages: number): IndexReader {
  let left = pages;
  return {
    ...reader,
    index: reader.index,
    vectorField: reader.vectorField,
    ...(reader.textField ? { textField: reader.textField } : {}),
    dims: reader.dims,
    total: reader.total,
    snapshot: reader.snapshot,
    slices: reader.slices,
    read: async (slice, cursor, size) => {
      if (left-- <= 0) throw new Error('killed');
      return reader.read(slice, cursor, size);
    },
    close: () => reader.close(),
  };
}

test('a copy that dies midway resumes to exactly the rows of an uninterrupted copy', async () => {
  const options = { resume: false, resumeState: null, pageSize: 4, partRows: 8 };
  const whole = await openLanceIndexReader(join(root, 'data'), 'docs', { textField: 'text', slices: 2 });
  const expected = await contents(await copyIndex(whole, join(root, 'whole'), options));
  await whole.close();
  assert.equal(expected.ids.length, ROWS);

  const dir = join(root, 'resumed');
  const first = await openLanceIndexReader(join(root, 'data'), 'docs', { textField: 'text', slices: 2 });
  const version = Number(first.snapshot.split('@')[1]);
  await assert.rejects(copyIndex(dyingAfter(first, 7), dir, { ...options, resumeState: version }), /killed/);
  await first.close();
  // A part the dead copy wrote after its last recorded one.
  await writeFile(join(dir, 'slice-0-part-9.npy'), 'half');
  assert.deepEqual(await savedCopyState(dir), { snapshot: first.snapshot, resume: version });

  const again = await openLanceIndexReader(join(root, 'data'), 'docs', {
    textField: 'text',
    slices: 2,
    version,
  });
  await assert.rejects(copyIndex(again, dir, options), (e: UsageError) => /pass --resume/.test(e.message));
  const resumed = await copyIndex(again, dir, { ...options, resume: true });
  await again.close();
  assert.deepEqual(await contents(resumed), expected);
  assert.ok(!(await readdir(dir)).includes('slice-0-part-9.npy'), 'the unrecorded part is removed');
});

test('a copy of another field, or an unfinished copy of a changed index, is refused', async () => {
  const dir = join(root, 'other');
  const vectorsOnly = await openLanceIndexReader(join(root, 'data'), 'docs');
  await copyIndex(vectorsOnly, dir, { resume: false, resumeState: null });
  await vectorsOnly.close();
  const withText = await openLanceIndexReader(join(root, 'data'), 'docs', { textField: 'text' });
  await assert.rejects(
    copyIndex(withText, dir, { resume: true, resumeState: null }),
    /holds a copy of index 'docs' field 'vector', not of index 'docs' field 'vector' text 'text'/,
  );
  await withText.close();

  const unfinished = join(root, 'unfinished');
  const before = await openLanceIndexReader(join(root, 'data'), 'docs');
  await assert.rejects(
    copyIndex(dyingAfter(before, 1), unfinished, { resume: false, resumeState: null, pageSize: 5 }),
    /killed/,
  );
  await before.close();
  const backend = await openLanceBackend(join(root, 'data'));
  await backend.addDocuments('docs', [{ id: 'late', text: 'late', vector: Float32Array.from([0, 0, 0, 1]) }]);
  await backend.close();
  const changed = await openLanceIndexReader(join(root, 'data'), 'docs');
  await assert.rejects(
    copyIndex(changed, unfinished, { resume: true, resumeState: null }),
    /changed since the copy/,
  );
  await changed.close();
});
