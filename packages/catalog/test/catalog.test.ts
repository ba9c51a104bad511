import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSae, readSaeManifest } from '@steer/sae';
import { buildCatalog, CatalogError, emptyCatalog, openCatalog } from '../src/index.js';
import { hashEmbedder, plantedCorpus, TOPICS, writePlantedSae } from './helpers/planted.js';

async function builtCatalog(t: { after(fn: () => unknown): void }) {
  const { dir, weights } = await writePlantedSae();
  t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));
  const sae = await loadSae(dir);
  t.after(() => sae.dispose());
  const embedder = hashEmbedder();
  // NOTE: 24 documents a topic, so that a topic word is in more documents than concept search's 10 feedback documents.
  await buildCatalog({ saeDir: dir, sae, embedder, documents: plantedCorpus(24), evidence: false });
  return { dir, sae, embedder, weights };
}

test('concept search ranks the planted feature of a topic word first, by every scoring path', async (t) => {
  const { dir, embedder } = await builtCatalog(t);
  const catalog = await openCatalog(dir, { embedder });
  t.after(() => catalog.dispose());
  const topics = Object.keys(TOPICS);
  for (const [index, topic] of topics.entries()) {
    // NOTE: two topic words: one word of the 64-dim hash embedder is too close to other topics' words for the
    // 10 feedback documents to be of its topic alone.
    const word = TOPICS[topic]!.slice(1, 3).join(' ');
    const results = await catalog.searchFeatures(word, 3);
    assert.ok(
      results.slice(0, 3).some((r) => r.id === index),
      `'${word}' -> ${JSON.stringify(results.map((r) => r.id))}`,
    );
    assert.equal(results[0]!.id, index, `'${word}' ranks feature ${index} first`);
    assert.ok(
      results[0]!.components.activation > 0 &&
        results[0]!.components.cosine > 0 &&
        results[0]!.components.lexical > 0,
    );
  }
  // The grammar's interface returns FeatureInfo with labels.
  const [first] = await catalog.searchConcept('galaxy', 1);
  assert.equal(first!.feature.id, 2);
  assert.match(first!.feature.label!, /galaxy/);
  // A prefix of a keyword already finds the feature (completion while typing).
  const prefix = await catalog.searchFeaturesByVector('gala', undefined, 3);
  assert.equal(prefix[0]!.id, 2);
});

test('an empty catalog still searches by SAE activation and decoder cosine', async (t) => {
  const { dir, sae, embedder } = await builtCatalog(t);
  const manifest = await readSaeManifest(dir);
  for (const source of [dir, sae]) {
    const catalog = emptyCatalog(manifest, source, { embedder });
    const results = await catalog.searchFeatures('telescope comet', 3);
    assert.equal(results[0]!.id, 2);
    assert.equal(results[0]!.components.lexical, 0);
    assert.equal(catalog.get(2)!.label, undefined);
    assert.equal(catalog.get(manifest.nLatents), undefined);
    await catalog.dispose();
  }
});

test('the scan over candidates agrees with the exact encode of the SAE runtime', async (t) => {
  const { dir, sae, embedder, weights } = await builtCatalog(t);
  // candidates < nLatents forces the onnxruntime scan path even on this tiny SAE.
  const catalog = await openCatalog(dir, { embedder, weights, candidates: 8 });
  t.after(() => catalog.dispose());
  for (const concept of ['career salary', 'oven garlic', 'striker league referee']) {
    const vector = await embedder.embed([concept]);
    const latents = await sae.encode(vector, 1);
    const results = await catalog.searchFeaturesByVector(concept, vector, 5);
    const top = latents.indices[0]!;
    const hit = results.find((r) => r.id === top)!;
    assert.ok(hit, `the SAE's strongest feature ${top} is found for '${concept}'`);
    assert.ok(Math.abs(hit.components.activation - 1) < 1e-6);
    const cosineExpected = (() => {
      const d = sae.decoderDirection(top);
      let dot = 0;
      let norm = 0;
      for (let i = 0; i < d.length; i++) {
        dot += d[i]! * vector[i]!;
        norm += d[i]! * d[i]!;
      }
      return dot / Math.sqrt(norm);
    })();
    assert.ok(
      Math.abs(hit.components.cosine - cosineExpected) < 0.01,
      `cosine ${hit.components.cosine} vs ${cosineExpected}`,
    );
  }
});

test('aliases are saved beside the catalog, searchable, removable and survive re-labelling', async (t) => {
  const { dir, sae, embedder } = await builtCatalog(t);
  const catalog = await openCatalog(dir, { embedder });
  await catalog.setAlias('@stargazing', 2);
  await catalog.setAlias('jobs_talk', 0);
  assert.deepEqual(
    catalog.byAliasOrLabel('@stargazing').map((f) => f.id),
    [2],
  );
  assert.deepEqual(catalog.get(2)!.aliases, ['stargazing']);
  const results = await catalog.searchFeatures('stargazing', 3);
  assert.equal(results[0]!.id, 2);
  assert.equal(results[0]!.components.alias, true);
  assert.deepEqual(results[0]!.aliases, ['stargazing']);
  await assert.rejects(
    catalog.setAlias('2bad name', 1),
    (e: unknown) => e instanceof CatalogError && e.code === 'alias_invalid',
  );
  await assert.rejects(
    catalog.setAlias('ok', 999),
    (e: unknown) => e instanceof CatalogError && e.code === 'feature_unknown',
  );
  await catalog.dispose();

  // Re-label (a smaller corpus): the aliases stay.
  await buildCatalog({ saeDir: dir, sae, embedder, documents: plantedCorpus(6, 11), evidence: false });
  const relabelled = await openCatalog(dir, { embedder });
  t.after(() => relabelled.dispose());
  assert.deepEqual(
    relabelled.byAliasOrLabel('stargazing').map((f) => f.id),
    [2],
  );
  assert.deepEqual([...relabelled.aliases()].sort(), [
    ['jobs_talk', 0],
    ['stargazing', 2],
  ]);
  assert.equal(await relabelled.removeAlias('stargazing'), true);
  assert.equal(await relabelled.removeAlias('stargazing'), false);
  const onDisk = JSON.parse(await readFile(join(dir, 'catalog', 'aliases.json'), 'utf8'));
  assert.deepEqual(onDisk, { saeId: relabelled.saeId, aliases: { jobs_talk: 0 } });
});

test('byAliasOrLabel finds features by label head word; a torn catalog is refused', async (t) => {
  const { dir, embedder } = await builtCatalog(t);
  const catalog = await openCatalog(dir, { embedder });
  const label = catalog.get(1)!.label!;
  assert.deepEqual(
    catalog.byAliasOrLabel(label.split(', ')[0]!).map((f) => f.id),
    [1],
  );
  assert.deepEqual(
    catalog.byAliasOrLabel(label).map((f) => f.id),
    [1],
  );
  assert.deepEqual(catalog.byAliasOrLabel('nothing-like-this'), []);
  await catalog.dispose();
  const { appendFile } = await import('node:fs/promises');
  await appendFile(join(dir, 'catalog', 'labels.jsonl'), '{"id": 3}\n');
  await assert.rejects(
    openCatalog(dir),
    (e: unknown) =>
      e instanceof CatalogError && e.code === 'catalog_invalid' && /partly written/.test(e.message),
  );
});

test('a concept direction: the best matches, weighted so that their decoder columns sum to unit length', async (t) => {
  const { dir, embedder, weights } = await builtCatalog(t);
  const catalog = await openCatalog(dir, { embedder });
  t.after(() => catalog.dispose());
  const check = (features: Array<{ id: number; weight: number }>) => {
    const n = weights.nLatents;
    let norm = 0;
    for (let i = 0; i < weights.dModel; i++) {
      let sum = 0;
      for (const { id, weight } of features) sum += weight * weights.W_dec[i * n + id]!;
      norm += sum * sum;
    }
    assert.ok(Math.abs(Math.sqrt(norm) - 1) < 0.02, `|direction| = ${Math.sqrt(norm)}`);
  };
  const direction = await catalog.conceptDirection('telescope comet galaxy');
  assert.equal(direction.features[0]!.id, 2);
  assert.ok(direction.features.length >= 1 && direction.features.length <= 3);
  assert.ok(direction.features.every((f) => f.score >= 0.7 * direction.features[0]!.score));
  check(direction.features);
  // An explicit count takes at most that many features: those with a positive score (here the planted one, and
  // a second only when the feedback documents lift another feature).
  const two = await catalog.conceptDirection('telescope comet galaxy', 2);
  assert.ok(two.features.length >= 1 && two.features.length <= 2);
  assert.equal(two.features[0]!.id, 2);
  if (two.features.length === 2) assert.ok(two.features[0]!.weight > two.features[1]!.weight);
  check(two.features);
  const resolved = await catalog.resolveConcept('telescope comet galaxy', 2);
  assert.deepEqual(
    resolved.map((r) => [r.feature.id, r.weight]),
    two.features.map((f) => [f.id, f.weight]),
  );
});

test("the catalog calibrates strengths and ranks by the similarity to a feature's top documents", async (t) => {
  const { dir, embedder } = await builtCatalog(t);
  const catalog = await openCatalog(dir, { embedder });
  t.after(() => catalog.dispose());
  const calibration = catalog.strengthCalibration()!;
  assert.ok(calibration.scale > 0 && Number.isFinite(calibration.scale));
  assert.ok(calibration.typicalQueryNorm! > 0);
  assert.equal(catalog.header!.files['centroids.bin'], 16 + 4 * 16 + 16 * 64);
  const [best] = await catalog.searchFeatures('goalkeeper striker stadium', 1);
  assert.equal(best!.id, 4);
  assert.equal(best!.components.documents, 1, 'the planted feature has the most similar top documents');
});
