// Elasticsearch backend integration: against the Elasticsearch TEST DOUBLE (always), and a real cluster when ES_URL is set.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { openElasticsearchBackend, writeLatents } from '@steer/elasticsearch';
import type { ElasticsearchBackend } from '@steer/elasticsearch';
import type { Filter, Similarity } from '@steer/search';
import { DOUBLE_MATRIX, startEsDouble } from '../../src/index.js';
import type { EsDoubleVersion } from '../../src/index.js';

interface Target {
  url: string;
  auth?: { username: string; password: string };
  close(): Promise<void>;
  /** Text -> vector of the cluster-side "model", when the target has one (the double does). */
  modelId?: string;
  /** sparse_vector stores weights lossily in Lucene (about 9 significant bits), and the double does the same. */
  sparseTolerance: number;
  /** The release line, when known (the double's); version-specific checks run only then. */
  version?: EsDoubleVersion;
}

const toyModel = (text: string): number[] => {
  const v = [0, 0, 0, 0];
  for (const ch of text) v[ch.charCodeAt(0) % 4]! += 1;
  const n = Math.hypot(...v) || 1;
  return v.map((x) => x / n);
};

function unit(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const CORPUS = [
  {
    id: 'a',
    text: 'river banks and fishing',
    vector: unit([1, 0.1, 0, 0]),
    metadata: { genre: 'nature', year: 1999, open: true },
    latents: { indices: [1, 2], values: [0.9, 0.3] },
  },
  {
    id: 'b',
    text: 'bank loans and interest',
    vector: unit([0.2, 1, 0, 0.1]),
    metadata: { genre: 'finance', year: 2005, open: false },
    latents: { indices: [2, 3], values: [0.8, 0.5] },
  },
  {
    id: 'c',
    text: 'mountain streams',
    vector: unit([0.9, 0, 0.4, 0]),
    metadata: { genre: 'nature', year: 2012, open: true },
    latents: { indices: [1, 4], values: [0.7, 0.2] },
  },
  {
    id: 'd',
    text: 'stock markets',
    vector: unit([0, 0.7, 0.1, 0.7]),
    metadata: { genre: 'finance', year: 2020, open: true },
    latents: { indices: [3, 5], values: [1.2, 0.1] },
  },
  {
    id: 'e',
    text: 'lakes in winter',
    vector: unit([0.5, 0, 0.8, 0.3]),
    metadata: { genre: 'nature', year: 2021, open: false },
    latents: { indices: [4, 1], values: [0.6, 0.05] },
  },
];

/** Yields the first `n` documents, then fails as a source that dies mid-run does. */
async function* interruptedAfter<T>(docs: T[], n: number): AsyncGenerator<T> {
  yield* docs.slice(0, n);
  throw new Error('source interrupted');
}

function reference(similarity: Similarity, q: number[], v: number[]): number {
  const dot = q.reduce((s, x, i) => s + x * v[i]!, 0);
  if (similarity === 'cosine') return (1 + dot / (Math.hypot(...q) * Math.hypot(...v))) / 2;
  if (similarity === 'dot_product') return (1 + dot) / 2;
  return 1 / (1 + q.reduce((s, x, i) => s + (x - v[i]!) ** 2, 0));
}

function backendSuite(label: string, start: () => Promise<Target>, skip: string | false): void {
  describe(`Elasticsearch backend integration (${label})`, { skip }, () => {
    let target: Target;
    let client: ElasticsearchBackend['client'];
    let backend: ElasticsearchBackend;
    const prefix = `steer-test-${randomUUID().slice(0, 8)}`;
    const indexOf = (s: string) => `${prefix}-${s.replace('_', '-')}`;

    /** Creates the 4-d index `name` and adds CORPUS without its latents. */
    async function createWithCorpus(name: string): Promise<void> {
      await backend.createIndex(name, { dims: 4, similarity: 'cosine', embeddingModel: 'toy-4d' });
      await backend.addDocuments(
        name,
        CORPUS.map(({ latents: _latents, ...doc }) => ({ ...doc, vector: Float32Array.from(doc.vector) })),
      );
    }

    /** `_meta.steer.latents` of `name`. */
    async function latentsMeta(name: string): Promise<unknown> {
      const mappings = Object.values(await client.indices.getMapping({ index: name }))[0]!.mappings;
      return mappings._meta?.steer?.latents;
    }

    before(async () => {
      target = await start();
      // Unquantized HNSW, so a real cluster's scores are exact like the double's.
      backend = await openElasticsearchBackend(
        {
          url: target.url,
          ...target.auth,
          queryModelId: target.modelId,
          denseIndexOptions: { type: 'hnsw' },
        },
        { env: {} },
      );
      client = backend.client;
      for (const similarity of ['cosine', 'dot_product', 'l2_norm'] as const) {
        await backend.createIndex(indexOf(similarity), { dims: 4, similarity, embeddingModel: 'toy-4d' });
        await backend.addDocuments(
          indexOf(similarity),
          CORPUS.map(({ latents: _latents, ...doc }) => ({ ...doc, vector: Float32Array.from(doc.vector) })),
        );
      }
    });
    after(async () => {
      if (!client) return;
      for (const name of await backend.listIndexes())
        if (name.startsWith(prefix)) await backend.deleteIndex(name);
      await backend.close();
      await target.close();
    });

    it('creates indexes and describes them from _mapping: dims, similarity, model, count', async () => {
      assert.deepEqual(await backend.describeIndex(indexOf('dot_product')), {
        name: indexOf('dot_product'),
        dims: 4,
        similarity: 'dot_product',
        embeddingModel: 'toy-4d',
        count: 5,
      });
      const names = await backend.listIndexes();
      for (const s of ['cosine', 'dot_product', 'l2_norm'])
        assert.ok(names.includes(indexOf(s)), `listIndexes has ${indexOf(s)}`);
    });

    for (const similarity of ['cosine', 'dot_product', 'l2_norm'] as const) {
      it(`kNN scores follow Elasticsearch's ${similarity} definition and rank accordingly`, async () => {
        const query = unit([0.8, 0.3, 0.2, 0.1]);
        const hits = await backend.knnSearch(indexOf(similarity), {
          vector: Float32Array.from(query),
          k: 3,
          numCandidates: 10,
        });
        const expected = CORPUS.map((d) => ({
          id: d.id,
          score: reference(
            similarity,
            Array.from(Float32Array.from(query)),
            Array.from(Float32Array.from(d.vector)),
          ),
        }))
          .sort((x, y) => y.score - x.score)
          .slice(0, 3);
        assert.deepEqual(
          hits.map((h) => h.id),
          expected.map((e) => e.id),
        );
        hits.forEach((hit, i) =>
          assert.ok(
            Math.abs(hit.score - expected[i]!.score) < 1e-5,
            `${hit.id}: ${hit.score} vs ${expected[i]!.score}`,
          ),
        );
        assert.equal(hits[0]!.text, CORPUS.find((d) => d.id === hits[0]!.id)!.text);
        assert.deepEqual(Object.keys(hits[0]!.metadata ?? {}).sort(), ['genre', 'open', 'year']);
      });
    }

    const filterCases: Array<[string, Filter, string[]]> = [
      ['eq', { op: 'eq', field: 'genre', value: 'finance' }, ['b', 'd']],
      ['in', { op: 'in', field: 'year', values: [1999, 2020] }, ['a', 'd']],
      ['range', { op: 'range', field: 'year', gte: 2005, lt: 2021 }, ['b', 'c', 'd']],
      [
        'and/not',
        {
          op: 'and',
          filters: [
            { op: 'eq', field: 'genre', value: 'nature' },
            { op: 'not', filter: { op: 'eq', field: 'open', value: false } },
          ],
        },
        ['a', 'c'],
      ],
      [
        'or',
        {
          op: 'or',
          filters: [
            { op: 'eq', field: 'genre', value: 'finance' },
            { op: 'range', field: 'year', lt: 2000 },
          ],
        },
        ['a', 'b', 'd'],
      ],
    ];
    for (const [name, filter, ids] of filterCases) {
      it(`filters before the top k are chosen: ${name}`, async () => {
        const hits = await backend.knnSearch(indexOf('cosine'), {
          vector: Float32Array.from(unit([1, 1, 1, 1])),
          k: 5,
          filter,
        });
        assert.deepEqual(hits.map((h) => h.id).sort(), ids);
      });
    }

    it('k bounds the hits; similarity, raw DSL filter and _source filtering are honoured', async () => {
      const query = Float32Array.from(unit([1, 0, 0, 0]));
      assert.equal(
        (await backend.knnSearch(indexOf('cosine'), { vector: query, k: 2, numCandidates: 2 })).length,
        2,
      );
      const close = await backend.search(indexOf('cosine'), { vector: query, k: 5, similarity: 0.85 });
      const expected = CORPUS.filter((d) => d.vector[0]! >= 0.85).map((d) => d.id);
      assert.deepEqual(close.map((h) => h.id).sort(), expected.sort());
      const raw = await backend.search(indexOf('cosine'), {
        vector: query,
        k: 5,
        rawFilter: { terms: { genre: ['finance'] } },
        source: ['text'],
      });
      assert.deepEqual(raw.map((h) => h.id).sort(), ['b', 'd']);
      assert.deepEqual(Object.keys(raw[0]!.source!), ['text']);
    });

    it('discovers the dense_vector field of an existing index and refuses an SAE with other dims', async () => {
      const name = indexOf('existing');
      await client.indices.create({
        index: name,
        mappings: {
          properties: {
            body: { type: 'text' },
            emb: { type: 'dense_vector', dims: 3, similarity: 'l2_norm', index_options: { type: 'hnsw' } },
          },
        },
      });
      await client.index({ index: name, id: 'x', document: { body: 'hi', emb: [1, 2, 3] }, refresh: true });
      const info = await backend.describeIndex(name);
      assert.deepEqual([info.dims, info.similarity, info.count], [3, 'l2_norm', 1]);
      await assert.rejects(
        backend.assertCompatible(name, { dims: 4, embeddingModel: 'toy-4d' }),
        /holds 3-d vectors .*gives 4-d vectors/,
      );
      const hits = await backend.knnSearch(name, { vector: Float32Array.from([1, 2, 3]), k: 1 });
      assert.equal(hits[0]!.id, 'x');
      assert.ok(Math.abs(hits[0]!.score - 1) < 1e-6);
      await assert.rejects(
        backend.knnSearch(name, { vector: new Float32Array(4), k: 1 }),
        (e: unknown) => (e as { code?: string }).code === 'dims_mismatch',
      );
    });

    it('the cluster can embed the query text (query_vector_builder.text_embedding)', async (t) => {
      if (!target.modelId) {
        t.skip('no model deployed: set ES_QUERY_MODEL to a text_embedding model id deployed in the cluster');
        return;
      }
      const hits = await backend.search(indexOf('cosine'), { text: 'aaaa', k: 1 });
      const expected = CORPUS.map((d) => ({
        id: d.id,
        s: reference('cosine', toyModel('aaaa'), d.vector),
      })).sort((x, y) => y.s - x.s)[0]!;
      assert.equal(hits[0]!.id, expected.id);
    });

    it('latent side field: written through the bulk helper, then sparse and hybrid (RRF) retrieval with explanations', async () => {
      const name = indexOf('cosine');
      const progress: number[] = [];
      const result = await writeLatents(
        client,
        name,
        CORPUS.map((d) => ({ id: d.id, latents: d.latents })),
        { total: 5, onProgress: (p) => progress.push(p.done) },
      );
      assert.deepEqual([result.written, result.failed], [5, 0]);
      assert.equal(progress.at(-1), 5);
      const again = await writeLatents(
        client,
        name,
        CORPUS.map((d) => ({ id: d.id, latents: d.latents })),
        { resume: 'skip-existing' },
      );
      assert.deepEqual([again.written, again.skipped], [0, 5]);

      const queryLatents = { indices: [1, 3], values: [1, 0.5] };
      const sparse = await backend.search(name, {
        mode: 'sparse',
        latents: queryLatents,
        k: 5,
        explain: true,
      });
      // Steer's rule: the query's latents dotted with the document's unit-normalised latents (c, a, d, b, e here;
      // the raw dot product would rank a first).
      const sparseScore = (d: (typeof CORPUS)[number]) =>
        d.latents.indices.reduce(
          (s, f, i) => s + (f === 1 ? 1 : f === 3 ? 0.5 : 0) * d.latents.values[i]!,
          0,
        ) / Math.hypot(...d.latents.values);
      const expected = CORPUS.filter((d) => sparseScore(d) > 0).sort(
        (x, y) => sparseScore(y) - sparseScore(x),
      );
      assert.deepEqual(
        sparse.map((h) => h.id),
        expected.map((d) => d.id),
      );
      for (const hit of sparse) {
        const want = sparseScore(CORPUS.find((d) => d.id === hit.id)!);
        assert.ok(
          Math.abs(hit.score - want) <= target.sparseTolerance * want + 1e-9,
          `${hit.id}: ${hit.score} vs ${want}`,
        );
        const explained = hit.features!.reduce((s, f) => s + f.contribution, 0);
        assert.ok(
          Math.abs(explained - hit.score) <= target.sparseTolerance * want + 1e-6,
          `explanation of ${hit.id} sums to its score`,
        );
        const doc = CORPUS.find((d) => d.id === hit.id)!;
        for (const f of hit.features!) {
          assert.equal(f.documentNorm, 'l2');
          const raw = doc.latents.values[doc.latents.indices.indexOf(f.feature)]!;
          const normalised = raw / Math.hypot(...doc.latents.values);
          assert.ok(
            Math.abs(f.documentActivation - normalised) <= target.sparseTolerance * normalised + 1e-9,
          );
        }
      }
      assert.equal(
        sparse[0]!.source?.steer_latents,
        undefined,
        'the latent field is hidden unless asked for',
      );

      const filtered = await backend.search(name, {
        mode: 'sparse',
        latents: queryLatents,
        k: 5,
        filter: { op: 'eq', field: 'genre', value: 'finance' },
      });
      assert.deepEqual(filtered.map((h) => h.id).sort(), ['b', 'd']);

      // Dense d, b, e, a, c and sparse c, a, d, b, e fuse to d, c, then a tie (b, a) that k = 2 leaves out.
      const vector = Float32Array.from(unit([0, 1, 0, 0.6]));
      const hybrid = await backend.search(name, {
        mode: 'hybrid',
        vector,
        latents: queryLatents,
        k: 2,
        rankWindowSize: 5,
      });
      const dense = await backend.search(name, { vector, k: 5 });
      const rrf = new Map<string, number>();
      dense.forEach((h, r) => rrf.set(h.id, (rrf.get(h.id) ?? 0) + 1 / (60 + r + 1)));
      sparse.forEach((h, r) => rrf.set(h.id, (rrf.get(h.id) ?? 0) + 1 / (60 + r + 1)));
      const fused = [...rrf.entries()].sort((x, y) => y[1] - x[1]).slice(0, 2);
      assert.deepEqual(
        hybrid.map((h) => h.id),
        fused.map(([id]) => id),
      );
      hybrid.forEach((h, i) => assert.ok(Math.abs(h.score - fused[i]![1]) < 1e-6));
    });

    it('sparse scores are the exact dot product where the field prunes query tokens by default (8.19, 9.1+)', async () => {
      const name = indexOf('prune');
      await backend.createIndex(name, { dims: 4, similarity: 'cosine', embeddingModel: 'toy-4d' });
      // Every document holds f0 (so f0 is a frequent token) and one token of its own.
      const docs = Array.from({ length: 12 }, (_, i) => ({
        id: `p${i}`,
        text: `doc ${i}`,
        vector: Float32Array.from(unit([1, i + 1, 0, 0])),
        latents: { indices: [0, 100 + i], values: [1, 1] },
      }));
      await backend.addDocuments(name, docs);
      await writeLatents(client, name, docs);
      const queryLatents = { indices: [0, 101], values: [0.1, 1] };
      const hits = await backend.search(name, { mode: 'sparse', latents: queryLatents, k: 20 });
      const mappings = Object.values(await client.indices.getMapping({ index: name }))[0]!.mappings;
      assert.deepEqual(mappings._meta?.steer?.latents, { steer_latents: { norm: 'l2' } });
      assert.equal(mappings._meta?.steer?.embeddingModel, 'toy-4d', 'the rest of _meta is kept');
      assert.equal(hits.length, 12, 'every document shares f0 with the query');
      assert.equal(hits[0]!.id, 'p1');
      // Each document's latents [1, 1] are written unit-normalised: 1/sqrt(2) each.
      const [top, rest] = [1.1 / Math.SQRT2, 0.1 / Math.SQRT2];
      assert.ok(Math.abs(hits[0]!.score - top) <= top * target.sparseTolerance);
      assert.ok(hits.slice(1).every((h) => Math.abs(h.score - rest) <= rest * target.sparseTolerance));
      if (target.version !== undefined) {
        // The same query without `prune: false`, as another client would send it.
        const raw = await client.search({
          index: name,
          size: 20,
          query: { sparse_vector: { field: 'steer_latents', query_vector: { f0: 0.1, f101: 1 } } },
        });
        const pruned = target.version !== '8.15';
        assert.equal(raw.hits.hits.length, pruned ? 1 : 12, `${target.version} prunes f0: ${pruned}`);
      }
      await backend.deleteIndex(name);
    });

    it('--latent-norm none keeps the raw dot product; unrecorded latents search on with one warning; a resume never mixes norms', async () => {
      const name = indexOf('norm');
      await createWithCorpus(name);
      const docs = CORPUS.map((d) => ({ id: d.id, latents: d.latents }));
      await writeLatents(client, name, docs, { norm: 'none' });
      const warnings: string[] = [];
      const fresh = await openElasticsearchBackend(
        { url: target.url, ...target.auth, onWarning: (m) => warnings.push(m) },
        { env: {} },
      );
      const queryLatents = { indices: [1, 3], values: [1, 0.5] };
      const dot = await fresh.search(name, { mode: 'sparse', latents: queryLatents, k: 5, explain: true });
      // Raw dot products: a 0.9, c 0.7, d 0.6, b 0.25, e 0.05.
      assert.deepEqual(
        dot.map((h) => h.id),
        ['a', 'c', 'd', 'b', 'e'],
      );
      assert.ok(dot.every((h) => h.features!.every((f) => f.documentNorm === 'none')));
      assert.equal(warnings.length, 0, 'a recorded norm, even none, needs no advice');
      await assert.rejects(
        writeLatents(client, name, docs, { resume: 'skip-existing' }),
        (e: unknown) =>
          (e as { esCode?: string }).esCode === 'latent_norm_mismatch' &&
          /written with --latent-norm none.*without --resume/.test((e as Error).message),
      );

      // An index written before Steer recorded the normalisation: its _meta has no latents entry.
      const old = Object.values(await client.indices.getMapping({ index: name }))[0]!.mappings._meta!;
      await client.indices.putMapping({
        index: name,
        _meta: { steer: { embeddingModel: old.steer.embeddingModel } },
      });
      const older = await openElasticsearchBackend(
        { url: target.url, ...target.auth, onWarning: (m) => warnings.push(m) },
        { env: {} },
      );
      for (let i = 0; i < 2; i++) {
        const hits = await older.search(name, { mode: 'sparse', latents: queryLatents, k: 5, explain: true });
        assert.deepEqual(
          hits.map((h) => h.id),
          ['a', 'c', 'd', 'b', 'e'],
        );
        assert.ok(hits.every((h) => h.features!.every((f) => f.documentNorm === 'unrecorded')));
      }
      assert.equal(warnings.length, 1, 'said once per index');
      assert.match(
        warnings[0]!,
        new RegExp(`index '${name}' holds latents .* without a recorded normalisation`),
      );
      assert.match(
        warnings[0]!,
        /steer index <corpus\.jsonl> --index \S+ --latents --latent-norm l2 --sae <dir>/,
      );
      await assert.rejects(
        writeLatents(client, name, docs, { resume: 'skip-existing' }),
        (e: unknown) => (e as { esCode?: string }).esCode === 'latent_norm_mismatch',
      );

      // The rewrite the advice names: every document unit-normalised, recorded, cosine ranking, no more advice.
      await writeLatents(client, name, docs);
      const rewritten = await openElasticsearchBackend(
        { url: target.url, ...target.auth, onWarning: (m) => warnings.push(m) },
        { env: {} },
      );
      const cosine = await rewritten.search(name, { mode: 'sparse', latents: queryLatents, k: 5 });
      assert.deepEqual(
        cosine.map((h) => h.id),
        ['c', 'a', 'd', 'b', 'e'],
      );
      assert.equal(warnings.length, 1);
      await Promise.all([fresh.close(), older.close(), rewritten.close()]);
      await backend.deleteIndex(name);
    });

    it('an interrupted rewrite leaves an incomplete record: searches say once how to finish it, a rerun completes it', async () => {
      const name = indexOf('unfinished');
      await createWithCorpus(name);
      const docs = CORPUS.map((d) => ({ id: d.id, latents: d.latents }));
      await writeLatents(client, name, docs, { norm: 'none' });
      // A full rewrite with l2 whose source dies after two documents (one bulk request per document).
      await assert.rejects(
        writeLatents(client, name, interruptedAfter(docs, 2), { flushBytes: 1, concurrency: 1 }),
        /source interrupted/,
      );
      await client.indices.refresh({ index: name });
      assert.deepEqual(await latentsMeta(name), {
        steer_latents: { norm: 'l2', complete: false, replacing: true },
      });
      const warnings: string[] = [];
      const reader = await openElasticsearchBackend(
        { url: target.url, ...target.auth, onWarning: (m) => warnings.push(m) },
        { env: {} },
      );
      const queryLatents = { indices: [1, 3], values: [1, 0.5] };
      for (let i = 0; i < 2; i++) {
        const hits = await reader.search(name, {
          mode: 'sparse',
          latents: queryLatents,
          k: 5,
          explain: true,
        });
        // a and b unit-normalised (a: 0.9 / |(0.9, 0.3)|), c, d and e still raw: the two kinds mixed.
        const f1 = (id: string) =>
          hits.find((h) => h.id === id)!.features!.find((f) => f.feature === 1)!.documentActivation;
        assert.ok(Math.abs(f1('a') - 0.9 / Math.hypot(0.9, 0.3)) <= target.sparseTolerance);
        assert.ok(Math.abs(f1('c') - 0.7) <= 0.7 * target.sparseTolerance);
        assert.ok(hits.every((h) => h.features!.every((f) => f.documentNorm === 'incomplete')));
      }
      assert.equal(await reader.latentNorm(name), undefined, 'no normalisation is guaranteed');
      assert.equal(warnings.length, 1, 'said once per index');
      assert.match(
        warnings[0]!,
        new RegExp(
          `index '${name}' records that a \`steer index --latents --latent-norm l2\` run .* did not finish`,
        ),
      );
      assert.match(warnings[0]!, /still hold latents of another or no recorded normalisation/);
      assert.match(warnings[0]!, /--latents --latent-norm l2 --sae <dir> --backend elasticsearch --resume`/);
      // Resuming with the other norm would mix them; skip-existing cannot tell rewritten documents from raw ones.
      await assert.rejects(
        writeLatents(client, name, docs, { resume: 'skip-existing', norm: 'none' }),
        /written with --latent-norm l2 \(by a run that did not finish\)/,
      );
      await assert.rejects(
        writeLatents(client, name, docs, { resume: 'skip-existing' }),
        /skip-existing cannot tell the rewritten documents from the others; rerun without --resume/,
      );
      await writeLatents(client, name, docs);
      assert.deepEqual(await latentsMeta(name), { steer_latents: { norm: 'l2' } });
      const rewritten = await openElasticsearchBackend(
        { url: target.url, ...target.auth, onWarning: (m) => warnings.push(m) },
        { env: {} },
      );
      const cosine = await rewritten.search(name, {
        mode: 'sparse',
        latents: queryLatents,
        k: 5,
        explain: true,
      });
      assert.deepEqual(
        cosine.map((h) => h.id),
        ['c', 'a', 'd', 'b', 'e'],
      );
      assert.ok(cosine.every((h) => h.features!.every((f) => f.documentNorm === 'l2')));
      assert.equal(warnings.length, 1);
      await Promise.all([reader.close(), rewritten.close()]);
      await backend.deleteIndex(name);
    });

    it('an interrupted first write: the record stays incomplete until a resume with the same norm finishes it', async () => {
      const name = indexOf('first-write');
      await createWithCorpus(name);
      const docs = CORPUS.map((d) => ({ id: d.id, latents: d.latents }));
      await assert.rejects(
        writeLatents(client, name, interruptedAfter(docs, 2), { flushBytes: 1, concurrency: 1 }),
        /source interrupted/,
      );
      await client.indices.refresh({ index: name });
      assert.deepEqual(await latentsMeta(name), { steer_latents: { norm: 'l2', complete: false } });
      const warnings: string[] = [];
      const reader = await openElasticsearchBackend(
        { url: target.url, ...target.auth, onWarning: (m) => warnings.push(m) },
        { env: {} },
      );
      const hits = await reader.search(name, {
        mode: 'sparse',
        latents: { indices: [1], values: [1] },
        k: 5,
      });
      assert.deepEqual(
        hits.map((h) => h.id),
        ['a'],
        'only the documents written before the interruption hold latents',
      );
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /did not finish, so the documents it did not reach have no latents yet/);
      const resumed = await writeLatents(client, name, docs, { resume: 'skip-existing' });
      // a was confirmed before b was sent (one request at a time); b may or may not have landed.
      assert.ok(resumed.skipped >= 1 && resumed.written + resumed.skipped === 5 && resumed.failed === 0);
      assert.deepEqual(await latentsMeta(name), { steer_latents: { norm: 'l2' } });
      assert.equal(
        await reader.latentNorm(name),
        undefined,
        'the reader cached the mapping before the resume',
      );
      const after = await openElasticsearchBackend({ url: target.url, ...target.auth }, { env: {} });
      assert.equal(await after.latentNorm(name), 'l2');
      await Promise.all([reader.close(), after.close()]);
      await backend.deleteIndex(name);
    });

    it('explains hits from their latents even where 9.2+ leaves vectors out of _source', async () => {
      const name = indexOf('cosine');
      const raw = await client.search<Record<string, unknown>>({
        index: name,
        size: 1,
        query: { ids: { values: ['a'] } },
      });
      const stored = raw.hits.hits[0]!._source!;
      if (target.version !== undefined) {
        const excluded = target.version === '9.2';
        assert.equal('vector' in stored, !excluded, `vector in _source on ${target.version}`);
        assert.equal('steer_latents' in stored, !excluded, `latents in _source on ${target.version}`);
      }
      const hits = await backend.search(name, {
        mode: 'sparse',
        latents: { indices: [1, 3], values: [1, 0.5] },
        k: 5,
        explain: 2,
      });
      assert.ok(hits.length > 0);
      assert.ok(
        hits.every((h) => h.features !== undefined && h.features.length > 0),
        'every hit is explained',
      );
    });

    it('deletes documents and indexes; a missing index is index_not_found', async () => {
      const name = indexOf('l2_norm');
      assert.deepEqual(await backend.deleteDocuments(name, ['a', 'zz']), { deleted: 1 });
      assert.equal((await backend.describeIndex(name)).count, 4);
      await backend.deleteIndex(name);
      await assert.rejects(
        backend.describeIndex(name),
        (e: unknown) => (e as { code?: string }).code === 'index_not_found',
      );
      await assert.rejects(
        backend.knnSearch(name, { vector: new Float32Array(4), k: 1 }),
        /index '.*' does not exist/,
      );
    });
  });
}

for (const { version, licence } of DOUBLE_MATRIX) {
  backendSuite(
    `Elasticsearch TEST DOUBLE ${version}, ${licence} licence`,
    async () => {
      const double = await startEsDouble({ version, licence, models: { 'toy-model': toyModel } });
      return {
        url: double.url,
        close: () => double.close(),
        modelId: 'toy-model',
        sparseTolerance: 2 ** -8,
        version,
      };
    },
    false,
  );
}

const ES_URL = process.env.ES_URL;
backendSuite(
  `real cluster at ${ES_URL ?? '(ES_URL unset)'}`,
  async () => ({
    url: ES_URL!,
    auth: process.env.ES_USERNAME
      ? { username: process.env.ES_USERNAME, password: process.env.ES_PASSWORD ?? '' }
      : undefined,
    close: async () => {},
    modelId: process.env.ES_QUERY_MODEL,
    sparseTolerance: 1e-2,
  }),
  ES_URL
    ? false
    : 'ES_URL is not set; set ES_URL=http://localhost:9200 (and ES_USERNAME/ES_PASSWORD) to run these against a real cluster (Elasticsearch 8.15 or later, any licence)',
);
