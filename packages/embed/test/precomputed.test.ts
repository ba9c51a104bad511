// Tests of loadPrecomputedEmbeddings: .npy with ids files, JSONL with texts, lookups and bad files.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadPrecomputedEmbeddings, writeNpy } from '@steer/embed';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'steer-embed-pre-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a .npy matrix takes its ids from <name>.ids.txt, or numbers its rows', async () => {
  const data = Float32Array.from([1, 0, 0, 1, 0.6, 0.8]);
  await writeNpy(join(dir, 'vectors.npy'), data, [3, 2]);
  const numbered = await loadPrecomputedEmbeddings(join(dir, 'vectors.npy'));
  assert.deepEqual(numbered.ids, ['0', '1', '2']);
  await writeFile(join(dir, 'vectors.ids.txt'), 'doc-a\ndoc-b\ndoc-c\n');
  const loaded = await loadPrecomputedEmbeddings(join(dir, 'vectors.npy'));
  assert.deepEqual(loaded.ids, ['doc-a', 'doc-b', 'doc-c']);
  assert.equal(loaded.count, 3);
  assert.equal(loaded.dims, 2);
  assert.deepEqual([...loaded.vectors], [...data]);
  const embedder = loaded.embedderFor('some-model');
  assert.equal(embedder.normalized, true);
  await assert.rejects(embedder.embed(['x']), { code: 'text_not_precomputed', message: /stores no texts/ });
  await writeFile(join(dir, 'vectors.ids.txt'), 'doc-a\ndoc-b\n');
  await assert.rejects(loadPrecomputedEmbeddings(join(dir, 'vectors.npy')), { code: 'dims_mismatch' });
});

test('JSONL rows with texts answer embed() by exact text', async () => {
  const path = join(dir, 'rows.jsonl');
  await writeFile(
    path,
    [
      { id: 'q1', vector: [1, 2, 2], text: 'first text' },
      { id: 7, vector: [0, 3, 4], text: 'second text' },
      { id: 'q3', vector: [1, 1, 1] },
    ]
      .map((row) => JSON.stringify(row))
      .join('\n') + '\n\n',
  );
  const loaded = await loadPrecomputedEmbeddings(path);
  assert.deepEqual(loaded.ids, ['q1', '7', 'q3']);
  assert.equal(loaded.dims, 3);
  const embedder = loaded.embedderFor('bge-base-en-v1.5');
  assert.equal(embedder.id, 'bge-base-en-v1.5');
  assert.equal(embedder.dims, 3);
  assert.equal(embedder.normalized, false);
  assert.deepEqual([...(await embedder.embed(['second text', 'first text']))], [0, 3, 4, 1, 2, 2]);
  await assert.rejects(embedder.embed(['First text']), {
    code: 'text_not_precomputed',
    message: /"First text"/,
  });
  await assert.rejects(embedder.embed([]), { code: 'empty_input' });
});

test('rows of unequal length, malformed lines and missing files are EmbedErrors naming the line', async () => {
  const path = join(dir, 'bad.jsonl');
  await writeFile(path, '{"id":"a","vector":[1,2]}\n{"id":"b","vector":[1,2,3]}\n');
  await assert.rejects(loadPrecomputedEmbeddings(path), {
    code: 'dims_mismatch',
    message: /line 2 .*3 dims.*2/,
  });
  await writeFile(path, '{"id":"a","vector":[1,2]}\n{"id":"b",\n');
  await assert.rejects(loadPrecomputedEmbeddings(path), { code: 'invalid_file', message: /line 2/ });
  await writeFile(path, '{"id":"a","vector":[1,"x"]}\n');
  await assert.rejects(loadPrecomputedEmbeddings(path), { code: 'invalid_file', message: /finite numbers/ });
  await assert.rejects(loadPrecomputedEmbeddings(join(dir, 'missing.jsonl')), { code: 'file_unreadable' });
  await writeNpy(join(dir, 'cube.npy'), new Float32Array(8), [2, 2, 2]);
  await assert.rejects(loadPrecomputedEmbeddings(join(dir, 'cube.npy')), {
    code: 'dims_mismatch',
    message: /2-D/,
  });
});
