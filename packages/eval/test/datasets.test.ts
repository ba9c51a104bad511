// Dataset loaders on small fixtures of both layouts, including Cranfield's query numbering quirk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBeirDataset, loadCranfieldDataset, loadDataset } from '../src/datasets.js';
import { EvalError } from '../src/errors.js';

async function fixture(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'steer-eval-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

test('BEIR layout: corpus, queries and graded qrels with TREC DL binarisation', async () => {
  const dir = await fixture({
    'corpus.jsonl': '{"_id": "d1", "title": "T", "text": "one"}\n{"_id": "d2", "text": "two"}\n',
    'queries.jsonl': '{"_id": "q1", "text": "first"}\n',
    'qrels.tsv': 'q1\td1\t3\nq1\td2\t1\n',
  });
  const ds = await loadBeirDataset(dir);
  assert.equal(ds.layout, 'beir');
  assert.deepEqual(ds.documents, [
    { id: 'd1', title: 'T', text: 'one' },
    { id: 'd2', title: undefined, text: 'two' },
  ]);
  assert.equal(ds.qrels.get('q1')?.get('d1'), 3);
  assert.equal(ds.minRelevantGrade, 2);
  assert.equal((await loadDataset(dir)).layout, 'beir');
});

test('BEIR layout: qrels/test.tsv with a header and binary grades', async () => {
  const dir = await fixture({
    'corpus.jsonl': '{"_id": "d1", "text": "one"}\n',
    'queries.jsonl': '{"_id": "q1", "text": "first"}\n',
    'qrels/test.tsv': 'query-id\tcorpus-id\tscore\nq1\td1\t1\n',
  });
  const ds = await loadBeirDataset(dir);
  assert.equal(ds.qrels.get('q1')?.get('d1'), 1);
  assert.equal(ds.minRelevantGrade, 1);
});

test('Cranfield: queries are numbered by position, not by their .I value; codes become grades', async () => {
  const dir = await fixture({
    'cran.all.1400':
      '.I 1\n.T\nwing flow .\n.A\nsmith\n.W\nwing flow .\n  lift at high speed .\n.I 2\n.T\nheat .\n.W\nheat transfer .\n',
    'cran.qry': '.I 001\n.W\nwhat is lift .\n.I 004\n.W\nwhat about heat\ntransfer .\n',
    cranqrel: '1 1 2\n2 2 1\n2 1 -1\n2 1 4 \n',
  });
  const ds = await loadCranfieldDataset(dir);
  assert.deepEqual(
    ds.queries.map((q) => q.id),
    ['1', '2'],
  );
  assert.equal(ds.queries[1]!.text, 'what about heat transfer');
  assert.equal(ds.documents[0]!.text, 'wing flow . lift at high speed .');
  assert.equal(ds.qrels.get('1')?.get('1'), 3); // code 2 -> grade 3
  assert.equal(ds.qrels.get('2')?.get('2'), 4); // code 1 -> grade 4
  assert.equal(ds.minRelevantGrade, 2); // codes 1..3
  assert.equal((await loadDataset(dir)).layout, 'cranfield');
});

test('a folder of neither layout, or a malformed line, is a clear EvalError', async () => {
  const empty = await fixture({ 'notes.txt': 'x' });
  await assert.rejects(
    loadDataset(empty),
    (e: unknown) => e instanceof EvalError && /neither BEIR/.test(e.message),
  );
  const bad = await fixture({
    'corpus.jsonl': '{"_id": "d1", "text": "one"}\n{oops\n',
    'queries.jsonl': '',
    'qrels.tsv': '',
  });
  await assert.rejects(
    loadBeirDataset(bad),
    (e: unknown) => e instanceof EvalError && /corpus.jsonl:2/.test(e.message),
  );
});
