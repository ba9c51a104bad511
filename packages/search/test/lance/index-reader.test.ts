// Reading an embedded-store index's vectors and texts by slices from a pinned version, and the errors of bad fields.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { SearchError } from '../../src/index.js';
import { openLanceBackend, openLanceIndexReader, type IndexReader } from '../../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'steer-search-reader-'));
after(() => rmSync(root, { recursive: true, force: true }));
const dims = 3;
const vectorOf = (i: number): Float32Array => Float32Array.from([i, i + 0.5, -i]);

before(async () => {
  const backend = await openLanceBackend(root, { batchSize: 7 });
  try {
    await backend.createIndex('docs', { dims, similarity: 'l2_norm' });
    await backend.addDocuments(
      'docs',
      Array.from({ length: 25 }, (_, i) => ({
        id: `d${i}`,
        text: `text ${i}`,
        metadata: { body: i % 5 === 4 ? null : `body ${i}`, n: i },
        vector: vectorOf(i),
      })),
    );
  } finally {
    await backend.close();
  }
});

/** Reads every slice of `reader` in pages of `size`. */
async function readAll(
  reader: IndexReader,
  size: number,
): Promise<{ ids: string[]; vectors: number[]; texts: string[] }> {
  const out = { ids: [] as string[], vectors: [] as number[], texts: [] as string[] };
  for (let slice = 0; slice < reader.slices; slice++) {
    let cursor: unknown = null;
    for (;;) {
      const next = await reader.read(slice, cursor as null, size);
      if (next === null) break;
      out.ids.push(...next.page.ids);
      out.vectors.push(...next.page.vectors);
      out.texts.push(...(next.page.texts ?? []));
      cursor = next.cursor;
    }
  }
  return out;
}

test('reads every stored vector and text once, in slices and pages, without re-embedding', async () => {
  const reader = await openLanceIndexReader(root, 'docs', { textField: 'text', slices: 3 });
  try {
    assert.equal(reader.total, 25);
    assert.equal(reader.dims, dims);
    assert.equal(reader.slices, 3);
    assert.match(reader.snapshot, /^lancedb:docs@\d+$/);
    const all = await readAll(reader, 4);
    assert.equal(all.ids.length, 25);
    assert.equal(new Set(all.ids).size, 25);
    all.ids.forEach((id, row) => {
      const i = Number(id.slice(1));
      assert.deepEqual(all.vectors.slice(row * dims, row * dims + dims), Array.from(vectorOf(i)));
      assert.equal(all.texts[row], `text ${i}`);
    });
  } finally {
    await reader.close();
  }
});

test('a read resumed from a cursor on the saved version continues where it stopped, even after writes', async () => {
  const first = await openLanceIndexReader(root, 'docs');
  const version = Number(first.snapshot.split('@')[1]);
  const start = await first.read(0, null, 10);
  await first.close();
  const backend = await openLanceBackend(root);
  await backend.addDocuments('docs', [{ id: 'late', text: 'late', vector: vectorOf(99) }]);
  await backend.close();
  const resumed = await openLanceIndexReader(root, 'docs', { version });
  try {
    assert.equal(resumed.total, 25, 'the pinned version does not see the later write');
    const rest = await resumed.read(0, start!.cursor, 100);
    assert.equal(rest!.page.ids.length, 15);
    assert.equal(new Set([...start!.page.ids, ...rest!.page.ids]).size, 25);
    assert.equal(await resumed.read(0, rest!.cursor, 100), null);
  } finally {
    await resumed.close();
  }
  const latest = await openLanceIndexReader(root, 'docs');
  assert.equal(latest.total, 26);
  await latest.close();
});

test('a metadata text field missing on some documents, a field that is not the vector, and a missing index', async () => {
  await assert.rejects(openLanceIndexReader(root, 'docs', { textField: 'body' }), (e: SearchError) => {
    assert.equal(e.code, 'index_invalid');
    // d4, d9, .., d24 and the one added by the previous test.
    assert.match(
      e.message,
      /text field 'body' is missing on 6 documents of index 'docs' \(e\.g\. 'd4', 'd9'/,
    );
    return true;
  });
  await assert.rejects(openLanceIndexReader(root, 'docs', { vectorField: 'n' }), (e: SearchError) => {
    assert.match(e.message, /field 'n' of index 'docs' is a Float64 column, not a vector field/);
    return true;
  });
  await assert.rejects(openLanceIndexReader(root, 'docs', { textField: 'n' }), /no text field 'n'/);
  await assert.rejects(openLanceIndexReader(root, 'nope'), { code: 'index_not_found' });
});
