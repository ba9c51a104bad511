import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSae } from '@steer/sae';
import {
  combinedFeedback,
  conceptParts,
  FEEDBACK_DOCUMENTS,
  FeedbackScorer,
  feedbackPool,
} from '../src/feedback.js';
import { buildCatalog, CatalogError, openCatalog } from '../src/index.js';
import { decodeFeedback, encodeFeedback } from '../src/storage.js';
import type { SparseCodes } from '../src/stats.js';
import { hashEmbedder, plantedCorpus, seeded, TOPICS, writePlantedSae } from './helpers/planted.js';

/** Random unit-ish vectors and random sparse codes of `documents` rows. */
function randomCorpus(documents: number, dModel: number, nLatents: number, k: number, seed: number) {
  const random = seeded(seed);
  const vectors = Float32Array.from({ length: documents * dModel }, () => random() * 2 - 1);
  const codes: SparseCodes = {
    batch: documents,
    k,
    indices: Int32Array.from({ length: documents * k }, () => Math.floor(random() * nLatents)),
    values: Float32Array.from({ length: documents * k }, () => (random() < 0.2 ? 0 : random())),
  };
  return { vectors, codes };
}

test('the feedback pool keeps every document of a small corpus and a seeded sample of a large one', () => {
  const { vectors, codes } = randomCorpus(50, 8, 20, 3, 1);
  const all = feedbackPool(vectors, codes, 8);
  assert.equal(all.documents, 50);
  assert.deepEqual([...all.indices], [...codes.indices]);
  const sampled = feedbackPool(vectors, codes, 8, { maxDocuments: 20, seed: 4 });
  const again = feedbackPool(vectors, codes, 8, { maxDocuments: 20, seed: 4 });
  assert.equal(sampled.documents, 20);
  assert.deepEqual([...sampled.indices], [...again.indices]);
  assert.deepEqual([...sampled.vectors.q], [...again.vectors.q]);
});

test('feedback scores equal an independent float computation: mean over the nearest documents minus the pool mean', () => {
  const [documents, dModel, nLatents, k] = [200, 16, 40, 4];
  const { vectors, codes } = randomCorpus(documents, dModel, nLatents, k, 2);
  const pool = feedbackPool(vectors, codes, dModel);
  const scorer = new FeedbackScorer(pool, nLatents);
  const x = Float32Array.from({ length: dModel }, (_, i) => Math.sin(i + 1));
  const found = scorer.score(x);
  // Reference: float dot products with the stored (int8) rows, the 10 best rows, dense activation means.
  const dots = Array.from({ length: documents }, (_, r) => {
    let s = 0;
    for (let i = 0; i < dModel; i++) s += pool.vectors.q[r * dModel + i]! * pool.vectors.scale[r]! * x[i]!;
    return [r, s] as const;
  }).sort((a, b) => b[1] - a[1]);
  const nearest = dots.slice(0, FEEDBACK_DOCUMENTS).map(([r]) => r);
  assert.deepEqual([...found.documents], nearest);
  const dense = (rows: readonly number[]) => {
    const mean = new Float64Array(nLatents);
    for (const r of rows)
      for (let t = 0; t < k; t++) mean[codes.indices[r * k + t]!]! += codes.values[r * k + t]! / rows.length;
    return mean;
  };
  const near = dense(nearest);
  const all = dense(Array.from({ length: documents }, (_, r) => r));
  const expected = new Map<number, number>();
  for (let j = 0; j < nLatents; j++) if (near[j]! - all[j]! > 1e-9) expected.set(j, near[j]! - all[j]!);
  assert.equal(found.features.length, expected.size);
  found.features.forEach((j, c) =>
    assert.ok(Math.abs(found.lift[c]! - expected.get(j)!) < 1e-5, `feature ${j}`),
  );
});

test('feedback.bin round-trips and a damaged one is refused with the file named', () => {
  const { vectors, codes } = randomCorpus(30, 8, 20, 3, 3);
  const pool = feedbackPool(vectors, codes, 8);
  const bytes = encodeFeedback(pool);
  const back = decodeFeedback(bytes, 'feedback.bin', 20, 8);
  assert.deepEqual([...back.indices], [...pool.indices]);
  assert.deepEqual([...back.values], [...pool.values]);
  assert.deepEqual([...back.vectors.q], [...pool.vectors.q]);
  const invalid = (problem: RegExp) => (e: unknown) =>
    e instanceof CatalogError &&
    e.code === 'catalog_invalid' &&
    problem.test(e.message) &&
    /feedback\.bin/.test(e.message);
  assert.throws(
    () => decodeFeedback(bytes.subarray(0, bytes.length - 4), 'feedback.bin', 20, 8),
    invalid(/wrong size/),
  );
  assert.throws(() => decodeFeedback(bytes, 'feedback.bin', 20, 16), invalid(/8-dim vectors/));
  assert.throws(() => decodeFeedback(bytes, 'feedback.bin', 10, 8), invalid(/outside the SAE/));
  const wrongMagic = Uint8Array.from(bytes);
  wrongMagic[0] = 0;
  assert.throws(
    () => decodeFeedback(wrongMagic, 'feedback.bin', 20, 8),
    invalid(/not a steer feedback-pool/),
  );
});

test('concept search ranks by feedback when the catalog has a pool, and falls back to the profile-led score without one', async (t) => {
  const { dir } = await writePlantedSae();
  t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));
  const sae = await loadSae(dir);
  t.after(() => sae.dispose());
  const embedder = hashEmbedder();
  const topics = Object.keys(TOPICS);
  for (const pool of [undefined, 0]) {
    await buildCatalog({
      saeDir: dir,
      sae,
      embedder,
      documents: plantedCorpus(),
      evidence: false,
      ...(pool === undefined ? {} : { feedbackDocuments: pool }),
    });
    const catalog = await openCatalog(dir, { embedder });
    assert.equal(catalog.header!.files['feedback.bin'] !== undefined, pool === undefined);
    for (const [index, topic] of topics.entries()) {
      // Two words of the topic that are not its planted feature's label head: the documents carry the concept.
      const [first] = await catalog.searchFeatures(TOPICS[topic]!.slice(2, 4).join(' '), 1);
      assert.equal(first!.id, index, `${topic} (pool ${pool ?? 'default'})`);
      assert.equal(first!.components.feedback > 0, pool === undefined);
      if (pool === undefined) assert.equal(first!.components.feedback, 1);
    }
    await catalog.dispose();
  }
  await assert.rejects(
    buildCatalog({ saeDir: dir, sae, embedder, documents: plantedCorpus(), feedbackDocuments: -1 }),
    (e: unknown) =>
      e instanceof CatalogError && e.code === 'invalid_option' && /feedbackDocuments/.test(e.message),
  );
  // A damaged pool is reported when concept search first needs it.
  await buildCatalog({ saeDir: dir, sae, embedder, documents: plantedCorpus(), evidence: false });
  const path = join(dir, 'catalog', 'feedback.bin');
  const bytes = await readFile(path);
  bytes[0] = 0;
  await writeFile(path, bytes);
  const damaged = await openCatalog(dir, { embedder });
  t.after(() => damaged.dispose());
  await assert.rejects(
    damaged.searchFeatures('galaxy', 1),
    (e: unknown) => e instanceof CatalogError && e.code === 'catalog_invalid',
  );
});

test('a concept written as a list is read item by item; other text is one concept', () => {
  assert.deepEqual(conceptParts('oil prices, airlines and stock markets'), [
    'oil prices',
    'airlines',
    'stock markets',
  ]);
  assert.deepEqual(conceptParts('tax plans; ministers / elections & the budget or  polls'), [
    'tax plans',
    'ministers',
    'elections',
    'the budget',
    'polls',
  ]);
  // "and" inside a word, a repeated item and punctuation alone do not make items.
  assert.deepEqual(conceptParts('sport'), []);
  assert.deepEqual(conceptParts('brand handling'), []);
  assert.deepEqual(conceptParts('tennis, tennis'), []);
  assert.deepEqual(conceptParts('football , , and'), []);
  assert.deepEqual(conceptParts('Rock AND Roll'), ['Rock', 'Roll']);
});

test('concept search on a list averages the feedback of the whole text and of each item, each relative to its best feature', async (t) => {
  const { dir } = await writePlantedSae();
  t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));
  const sae = await loadSae(dir);
  t.after(() => sae.dispose());
  const embedder = hashEmbedder();
  await buildCatalog({ saeDir: dir, sae, embedder, documents: plantedCorpus(), evidence: false });
  const catalog = await openCatalog(dir, { embedder });
  t.after(() => catalog.dispose());
  const pool = decodeFeedback(
    await readFile(join(dir, 'catalog', 'feedback.bin')),
    'feedback.bin',
    catalog.nLatents,
    64,
  );
  const scorer = new FeedbackScorer(pool, catalog.nLatents);
  const concept = 'oven and flour, planet';
  const texts = [concept, 'oven', 'flour', 'planet'];
  // Independent reference: each text's lift over its own best, summed, divided by the number of texts.
  const expected = new Map<number, number>();
  const wholeExpected = new Map<number, number>();
  for (const [i, text] of texts.entries()) {
    const found = scorer.score(await embedder.embed([text], { kind: 'query' }));
    const best = Math.max(...found.lift);
    found.features.forEach((j, c) => {
      expected.set(j, (expected.get(j) ?? 0) + found.lift[c]! / best / texts.length);
      if (i === 0) wholeExpected.set(j, found.lift[c]! / best);
    });
  }
  const matches = await catalog.searchFeatures(concept, catalog.nLatents);
  for (const match of matches) {
    assert.ok(Math.abs(match.components.feedback - (expected.get(match.id) ?? 0)) < 1e-6, `f${match.id}`);
    assert.ok(Math.abs(match.components.feedbackWhole - (wholeExpected.get(match.id) ?? 0)) < 1e-6);
  }
  assert.ok(matches.some((m) => m.components.feedback !== m.components.feedbackWhole));
  // Two cooking items against one astronomy item: cooking's feature (1) first, astronomy's (2) second.
  assert.deepEqual(
    matches.slice(0, 2).map((m) => m.id),
    [1, 2],
  );
  assert.deepEqual(combinedFeedback([]), new Map());
  // One concept that is not a list: f is the whole text's.
  const [single] = await catalog.searchFeatures('oven flour', 1);
  assert.equal(single!.components.feedback, single!.components.feedbackWhole);
});
