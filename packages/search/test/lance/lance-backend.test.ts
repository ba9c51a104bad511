import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  openLanceBackend,
  scoreVectors,
  SearchError,
  type Filter,
  type IndexedDocument,
  type SearchBackend,
  type Similarity,
} from '../../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'steer-search-lance-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = () => join(root, `data-${dirCount++}`);

/** Deterministic uniform numbers in [-0.5, 0.5) (Park-Miller). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 16807) % 2147483647;
    return state / 2147483647 - 0.5;
  };
}

function randomVector(next: () => number, dims: number, unit: boolean): Float32Array {
  const v = Float32Array.from({ length: dims }, next);
  if (unit) {
    const norm = Math.hypot(...v);
    for (let i = 0; i < dims; i++) v[i]! /= norm;
  }
  return v;
}

const LANGS = ['en', 'fr', "it's"];

function corpus(count: number, dims: number, unit: boolean, seed = 7): IndexedDocument[] {
  const next = random(seed);
  return Array.from({ length: count }, (_, i) => ({
    id: `doc-${i}`,
    text: `text of document ${i}`,
    metadata: {
      lang: LANGS[i % 3]!,
      year: 2000 + (i % 10),
      even: i % 2 === 0,
      ...(i % 5 === 0 ? { note: null } : {}),
    },
    vector: randomVector(next, dims, unit),
  }));
}

/** Independent reference: Elasticsearch scores computed in float64, straight from their definitions. */
function referenceScore(similarity: Similarity, q: Float32Array, v: Float32Array): number {
  let dot = 0;
  let qq = 0;
  let vv = 0;
  let d2 = 0;
  q.forEach((x, i) => {
    const y = v[i]!;
    dot += x * y;
    qq += x * x;
    vv += y * y;
    d2 += (x - y) ** 2;
  });
  if (similarity === 'cosine') return (1 + dot / Math.sqrt(qq) / Math.sqrt(vv)) / 2;
  if (similarity === 'dot_product') return (1 + dot) / 2;
  return 1 / (1 + d2);
}

function bruteForce(
  docs: IndexedDocument[],
  similarity: Similarity,
  q: Float32Array,
  k: number,
  keep = (_d: IndexedDocument) => true,
) {
  return docs
    .filter(keep)
    .map((d) => ({ id: d.id, score: referenceScore(similarity, q, d.vector) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof SearchError, `expected SearchError but got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (pattern !== undefined) assert.match(e.message, pattern);
    return true;
  });
}

async function withBackend(
  work: (backend: SearchBackend, dir: string) => Promise<void>,
  dir = freshDir(),
): Promise<void> {
  const backend = await openLanceBackend(dir);
  try {
    await work(backend, dir);
  } finally {
    await backend.close();
  }
}

test('round trip: create, describe, add, search, delete documents, delete index', () =>
  withBackend(async (backend, dir) => {
    const info = await backend.createIndex('docs', {
      dims: 8,
      similarity: 'cosine',
      embeddingModel: 'test-model',
    });
    assert.deepEqual(info, {
      name: 'docs',
      dims: 8,
      similarity: 'cosine',
      embeddingModel: 'test-model',
      count: 0,
    });
    assert.ok(existsSync(join(dir, 'lancedb', 'docs.lance')));
    assert.deepEqual(await backend.listIndexes(), ['docs']);

    const docs = corpus(50, 8, false);
    assert.deepEqual(await backend.addDocuments('docs', docs), { added: 50 });
    assert.equal((await backend.describeIndex('docs')).count, 50);

    const hits = await backend.knnSearch('docs', { vector: docs[3]!.vector, k: 5 });
    assert.equal(hits.length, 5);
    assert.equal(hits[0]!.id, 'doc-3');
    assert.ok(Math.abs(hits[0]!.score - 1) < 1e-5);
    assert.equal(hits[0]!.text, 'text of document 3');
    assert.deepEqual(hits[0]!.metadata, { lang: 'en', year: 2003, even: false });
    assert.deepEqual((await backend.knnSearch('docs', { vector: docs[0]!.vector, k: 1 }))[0]!.metadata, {
      lang: 'en',
      year: 2000,
      even: true,
      note: null,
    });

    assert.deepEqual(await backend.deleteDocuments('docs', ['doc-3', 'doc-4', 'no-such-doc', 'doc-3']), {
      deleted: 2,
    });
    assert.equal((await backend.describeIndex('docs')).count, 48);
    const after = await backend.knnSearch('docs', { vector: docs[3]!.vector, k: 48 });
    assert.equal(after.length, 48);
    assert.ok(!after.some((h) => h.id === 'doc-3' || h.id === 'doc-4'));

    await backend.deleteIndex('docs');
    assert.deepEqual(await backend.listIndexes(), []);
    assert.ok(!existsSync(join(dir, 'lancedb', 'docs.lance')));
    await rejectsWith(backend.deleteIndex('docs'), 'index_not_found');
  }));

for (const similarity of ['cosine', 'dot_product', 'l2_norm'] as const) {
  test(`${similarity}: scores and order match an exact brute-force reference (1e-4)`, () =>
    withBackend(async (backend) => {
      const dims = 16;
      const unit = similarity === 'dot_product';
      const docs = corpus(300, dims, unit, 11);
      await backend.createIndex('scores', { dims, similarity });
      await backend.addDocuments('scores', docs);
      const next = random(99);
      for (let trial = 0; trial < 5; trial++) {
        const q = randomVector(next, dims, unit);
        const hits = await backend.knnSearch('scores', { vector: q, k: 10 });
        const expected = bruteForce(docs, similarity, q, 10);
        assert.deepEqual(
          hits.map((h) => h.id),
          expected.map((h) => h.id),
        );
        hits.forEach((hit, i) => {
          assert.ok(
            Math.abs(hit.score - expected[i]!.score) < 1e-4,
            `${hit.id}: ${hit.score} vs ${expected[i]!.score}`,
          );
          const doc = docs.find((d) => d.id === hit.id)!;
          assert.ok(Math.abs(scoreVectors(similarity, q, doc.vector) - expected[i]!.score) < 1e-9);
          if (i > 0) assert.ok(hits[i - 1]!.score >= hit.score);
        });
      }
    }));
}

test('filters (eq/in/range/and/or/not) prefilter exactly like the reference, injection-looking values included', () =>
  withBackend(async (backend) => {
    const docs = corpus(120, 8, false, 3);
    await backend.createIndex('filtered', { dims: 8, similarity: 'cosine' });
    await backend.addDocuments('filtered', docs);
    const meta = (d: IndexedDocument) => d.metadata as { lang: string; year: number; even: boolean };
    const cases: Array<[Filter, (d: IndexedDocument) => boolean]> = [
      [{ op: 'eq', field: 'lang', value: 'fr' }, (d) => meta(d).lang === 'fr'],
      [{ op: 'eq', field: 'lang', value: "it's" }, (d) => meta(d).lang === "it's"],
      [{ op: 'eq', field: 'even', value: true }, (d) => meta(d).even],
      [{ op: 'in', field: 'year', values: [2001, 2007] }, (d) => [2001, 2007].includes(meta(d).year)],
      [
        { op: 'range', field: 'year', gt: 2002, lte: 2005 },
        (d) => meta(d).year > 2002 && meta(d).year <= 2005,
      ],
      [
        {
          op: 'and',
          filters: [
            {
              op: 'or',
              filters: [
                { op: 'eq', field: 'lang', value: 'en' },
                { op: 'range', field: 'year', gte: 2008 },
              ],
            },
            { op: 'not', filter: { op: 'eq', field: 'even', value: true } },
          ],
        },
        (d) => (meta(d).lang === 'en' || meta(d).year >= 2008) && !meta(d).even,
      ],
      [{ op: 'eq', field: 'lang', value: "en' OR '1'='1" }, () => false],
      [{ op: 'in', field: 'lang', values: ["x') OR TRUE OR ('"] }, () => false],
      [{ op: 'eq', field: 'never-seen', value: 'x' }, () => false],
      [{ op: 'not', filter: { op: 'eq', field: 'never-seen', value: 'x' } }, () => true],
      // A document without a value for the key is kept by `not`, as Elasticsearch's must_not keeps it.
      [{ op: 'not', filter: { op: 'eq', field: 'note', value: 'x' } }, () => true],
    ];
    const q = randomVector(random(5), 8, false);
    for (const [filter, keep] of cases) {
      const hits = await backend.knnSearch('filtered', { vector: q, k: 200, filter });
      const expected = bruteForce(docs, 'cosine', q, 200, keep);
      assert.deepEqual(
        hits.map((h) => h.id),
        expected.map((h) => h.id),
        JSON.stringify(filter),
      );
    }
    assert.equal((await backend.describeIndex('filtered')).count, 120);
    await rejectsWith(
      backend.knnSearch('filtered', { vector: q, k: 3, filter: { op: 'range', field: 'lang', gt: 1 } }),
      'invalid_filter',
      /'lang' holds string values/,
    );
  }));

test('bulk add reports progress per batch of 1,000 and replaces duplicate ids', () =>
  withBackend(async (backend) => {
    await backend.createIndex('bulk', { dims: 4, similarity: 'l2_norm' });
    const docs = corpus(2500, 4, false, 21);
    const progress: Array<{ done: number; total: number }> = [];
    async function* stream() {
      yield* docs;
    }
    const result = await backend.addDocuments('bulk', stream(), {
      total: 2500,
      onProgress: (p) => progress.push(p),
    });
    assert.deepEqual(result, { added: 2500 });
    assert.deepEqual(progress, [
      { done: 1000, total: 2500 },
      { done: 2000, total: 2500 },
      { done: 2500, total: 2500 },
    ]);

    const replacement = {
      ...docs[7]!,
      text: 'replaced',
      metadata: { lang: 'de' },
      vector: Float32Array.from([9, 9, 9, 9]),
    };
    const unknownTotal: Array<{ done: number; total: number }> = [];
    await backend.addDocuments('bulk', new Set([replacement]), { onProgress: (p) => unknownTotal.push(p) });
    assert.deepEqual(unknownTotal, [{ done: 1, total: 1 }]);
    assert.equal((await backend.describeIndex('bulk')).count, 2500);
    const [hit] = await backend.knnSearch('bulk', { vector: Float32Array.from([9, 9, 9, 9]), k: 1 });
    assert.deepEqual(hit, { id: 'doc-7', score: 1, text: 'replaced', metadata: { lang: 'de' } });

    // Within one batch the last duplicate wins.
    await backend.addDocuments('bulk', [
      { id: 'dup', text: 'first', vector: Float32Array.from([5, 5, 5, 5]) },
      { id: 'dup', text: 'second', vector: Float32Array.from([5, 5, 5, 5]) },
    ]);
    assert.equal((await backend.describeIndex('bulk')).count, 2501);
    assert.equal(
      (await backend.knnSearch('bulk', { vector: Float32Array.from([5, 5, 5, 5]), k: 1 }))[0]!.text,
      'second',
    );
    assert.deepEqual(await backend.addDocuments('bulk', []), { added: 0 });
  }));

test('bad documents are rejected by id and the whole bulk add is rolled back', () =>
  withBackend(async (backend) => {
    await backend.createIndex('strict', { dims: 4, similarity: 'cosine', embeddingModel: 'm4' });
    const good = corpus(1500, 4, false, 2);
    const bad = (vector: Float32Array) => [...good, { id: 'bad-doc', text: 'x', vector }];
    await rejectsWith(
      backend.addDocuments('strict', bad(new Float32Array(5).fill(1))),
      'dims_mismatch',
      /'bad-doc' has 5 dims but index 'strict' expects 4 \(m4\)/,
    );
    await rejectsWith(
      backend.addDocuments('strict', bad(Float32Array.from([1, Number.NaN, 0, 0]))),
      'invalid_vector',
      /'bad-doc' has NaN at position 1/,
    );
    await rejectsWith(
      backend.addDocuments('strict', bad(new Float32Array(4))),
      'invalid_vector',
      /all zeros/,
    );
    await rejectsWith(
      backend.addDocuments('strict', [
        ...good,
        { id: 'typed', text: 'x', metadata: { year: 'MMXX' }, vector: good[0]!.vector },
      ]),
      'metadata_type_mismatch',
      /'typed' has metadata 'year'.*stores number values/,
    );
    await rejectsWith(
      backend.addDocuments('strict', [{ id: '', text: 'x', vector: good[0]!.vector }]),
      'invalid_document',
    );
    async function* failing() {
      yield* good.slice(0, 1200);
      throw new Error('embedder crashed');
    }
    await assert.rejects(backend.addDocuments('strict', failing()), /embedder crashed/);
    assert.equal((await backend.describeIndex('strict')).count, 0);
    await rejectsWith(
      backend.knnSearch('strict', { vector: good[0]!.vector, k: 1 }),
      'empty_index',
      /'strict' holds no documents/,
    );

    await backend.addDocuments('strict', good);
    await rejectsWith(
      backend.knnSearch('strict', { vector: new Float32Array(3).fill(1), k: 1 }),
      'dims_mismatch',
      /query vector has 3 dims/,
    );
    await rejectsWith(backend.knnSearch('strict', { vector: good[0]!.vector, k: 0 }), 'invalid_query');
    await rejectsWith(
      backend.knnSearch('strict', { vector: good[0]!.vector, k: 5, numCandidates: 2 }),
      'invalid_query',
    );
  }));

test('dot_product indexes need unit vectors, as Elasticsearch does', () =>
  withBackend(async (backend) => {
    await backend.createIndex('dot', { dims: 2, similarity: 'dot_product' });
    await rejectsWith(
      backend.addDocuments('dot', [{ id: 'a', text: 'a', vector: Float32Array.from([3, 4]) }]),
      'invalid_vector',
      /magnitude 5\.0000.*normalize/,
    );
  }));

test('missing, existing and badly named indexes give clear errors', () =>
  withBackend(async (backend, dir) => {
    const q = Float32Array.from([1, 0]);
    await rejectsWith(
      backend.describeIndex('nope'),
      'index_not_found',
      new RegExp(`no index 'nope' in ${join(dir, 'lancedb')}`),
    );
    await rejectsWith(backend.knnSearch('nope', { vector: q, k: 1 }), 'index_not_found');
    await rejectsWith(backend.addDocuments('nope', []), 'index_not_found');
    await rejectsWith(backend.deleteDocuments('nope', ['a']), 'index_not_found');
    await rejectsWith(
      backend.createIndex('../escape', { dims: 2, similarity: 'cosine' }),
      'invalid_index_name',
    );
    await rejectsWith(backend.createIndex('x', { dims: 0, similarity: 'cosine' }), 'invalid_index_options');
    await rejectsWith(
      backend.createIndex('x', { dims: 2, similarity: 'hamming' as Similarity }),
      'invalid_index_options',
    );

    await backend.createIndex('twice', { dims: 2, similarity: 'cosine' });
    await backend.addDocuments('twice', [{ id: 'a', text: 'a', vector: q }]);
    await rejectsWith(
      backend.createIndex('twice', { dims: 2, similarity: 'cosine' }),
      'index_exists',
      /overwrite/,
    );
    const replaced = await backend.createIndex('twice', { dims: 3, similarity: 'l2_norm', overwrite: true });
    assert.deepEqual(replaced, { name: 'twice', dims: 3, similarity: 'l2_norm', count: 0 });
    assert.equal((await backend.describeIndex('twice')).dims, 3);
  }));

test('an unwritable data dir fails with data_dir_unwritable and leaves no files', async () => {
  const file = join(root, 'not-a-dir');
  writeFileSync(file, 'x');
  const before = readdirSync(root).sort();
  await rejectsWith(
    openLanceBackend(join(file, 'sub')),
    'data_dir_unwritable',
    /not-a-dir\/sub.*is a file.*writable --data-dir/,
  );
  assert.deepEqual(readdirSync(root).sort(), before);
});

test('indexes persist: close, reopen, search again; closed backends refuse work', async () => {
  const dir = freshDir();
  const docs = corpus(40, 6, false, 17);
  const q = randomVector(random(8), 6, false);
  const first = await openLanceBackend(dir);
  await first.createIndex('kept', { dims: 6, similarity: 'l2_norm', embeddingModel: 'model-x' });
  await first.addDocuments('kept', docs);
  const firstHits = await first.knnSearch('kept', {
    vector: q,
    k: 7,
    filter: { op: 'eq', field: 'lang', value: 'fr' },
  });
  await first.close();
  await first.close();
  await rejectsWith(first.knnSearch('kept', { vector: q, k: 1 }), 'backend_closed');

  await withBackend(async (second) => {
    assert.deepEqual(await second.listIndexes(), ['kept']);
    assert.deepEqual(await second.describeIndex('kept'), {
      name: 'kept',
      dims: 6,
      similarity: 'l2_norm',
      embeddingModel: 'model-x',
      count: 40,
    });
    const again = await second.knnSearch('kept', {
      vector: q,
      k: 7,
      filter: { op: 'eq', field: 'lang', value: 'fr' },
    });
    assert.deepEqual(again, firstHits);
    assert.equal(again.length, 7);
  }, dir);
});

test('past annThreshold an IVF_HNSW_SQ index is built and hits keep exact scores', async () => {
  const dir = freshDir();
  const dims = 16;
  const docs = corpus(1200, dims, false, 31);
  const backend = await openLanceBackend(dir, { annThreshold: 1000 });
  try {
    await backend.createIndex('ann', { dims, similarity: 'cosine' });
    await backend.addDocuments('ann', docs);
    assert.ok(
      readdirSync(join(dir, 'lancedb', 'ann.lance', '_indices')).length > 0,
      'a vector index was written',
    );
    // Rows added after the build are still found (searched exactly until compaction folds them in).
    const late = { id: 'late', text: 'late', vector: randomVector(random(77), dims, false) };
    await backend.addDocuments('ann', [late]);
    assert.equal((await backend.knnSearch('ann', { vector: late.vector, k: 1 }))[0]!.id, 'late');

    const next = random(1234);
    let found = 0;
    for (let trial = 0; trial < 5; trial++) {
      const q = randomVector(next, dims, false);
      const hits = await backend.knnSearch('ann', { vector: q, k: 10, numCandidates: 100 });
      const expected = bruteForce([...docs, late], 'cosine', q, 10);
      assert.equal(hits.length, 10);
      for (const hit of hits) {
        const doc = hit.id === 'late' ? late : docs.find((d) => d.id === hit.id)!;
        assert.ok(
          Math.abs(hit.score - referenceScore('cosine', q, doc.vector)) < 1e-4,
          'refined scores are exact',
        );
      }
      found += hits.filter((h) => expected.some((e) => e.id === h.id)).length;
    }
    assert.ok(found / 50 >= 0.9, `recall@10 ${found / 50}`);
  } finally {
    await backend.close();
  }
});

test('the embedded store declares dense search only: search(dense) is kNN, sparse and hybrid are refused', () =>
  withBackend(async (backend) => {
    assert.deepEqual(backend.capabilities, { dense: true, sparse: false, hybrid: false, explain: false });
    await backend.createIndex('docs', { dims: 8, similarity: 'cosine' });
    const docs = corpus(20, 8, false);
    await backend.addDocuments('docs', docs);
    const query = { vector: docs[2]!.vector, k: 4 };
    assert.deepEqual(
      await backend.search('docs', { ...query, mode: 'dense' }),
      await backend.knnSearch('docs', query),
    );
    for (const mode of ['sparse', 'hybrid'] as const) {
      await rejectsWith(
        backend.search('docs', { ...query, mode, latents: { indices: [1], values: [0.5] } }),
        'invalid_query',
        new RegExp(`mode=${mode} needs SAE latents stored in the index`),
      );
    }
  }));
