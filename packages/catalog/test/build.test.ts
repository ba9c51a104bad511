import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSae, writeSae } from '@steer/sae';
import { buildCatalog, openCatalog, CatalogError } from '../src/index.js';
import {
  hashEmbedder,
  normalize,
  plantedCorpus,
  plantedWeights,
  TOPICS,
  writePlantedSae,
} from './helpers/planted.js';

test('buildCatalog labels planted features with their topic words and records statistics', async (t) => {
  const { dir } = await writePlantedSae();
  t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));
  const sae = await loadSae(dir);
  t.after(() => sae.dispose());
  const embedder = hashEmbedder();
  const docs = plantedCorpus();
  const stages = new Set<string>();
  const summary = await buildCatalog({
    saeDir: dir,
    sae,
    embedder,
    documents: docs,
    evidence: { features: 5, documents: 1, prefixSteps: 4, ablateWords: 8 },
    onProgress: (stage) => stages.add(stage),
  });
  assert.deepEqual([...stages], ['embed', 'encode', 'label', 'evidence', 'write']);
  assert.equal(summary.documents, docs.length);
  const catalog = await openCatalog(dir, { embedder });
  t.after(() => catalog.dispose());
  const topics = Object.keys(TOPICS);
  for (let id = 0; id < topics.length; id++) {
    const description = await catalog.describe(id);
    const vocabulary = TOPICS[topics[id]!]!;
    assert.ok(
      description.keywords.length >= 3 && description.keywords.length <= 6,
      `feature ${id}: ${description.keywords}`,
    );
    const topical = description.keywords.filter((k) => vocabulary.includes(k));
    assert.ok(
      topical.length >= 3,
      `feature ${id} (${topics[id]}) label '${description.label}' should hold topic words`,
    );
    assert.ok(description.topDocuments.length > 0);
    for (const top of description.topDocuments.slice(0, 5))
      assert.ok(top.id.startsWith(`${topics[id]}-`), `${top.id} for ${topics[id]}`);
    assert.ok(description.stats!.frequency > 0 && description.stats!.frequency <= 1);
    assert.ok(description.stats!.p99Activation >= description.stats!.typicalActivation);
    assert.equal(catalog.get(id)!.typicalActivation, description.stats!.typicalActivation);
    assert.equal(catalog.get(id)!.label, description.label);
  }
  // Independent check of the statistics of feature 0 against the runtime's own encode.
  const vectors = await embedder.embed(docs.map((d) => (d.title ? `${d.title}. ${d.text}` : d.text)));
  const codes = await sae.encode(vectors, docs.length);
  const active: number[] = [];
  for (let i = 0; i < codes.batch * codes.k; i++)
    if (codes.indices[i] === 0 && codes.values[i]! > 0) active.push(codes.values[i]!);
  const stats = (await catalog.describe(0)).stats!;
  assert.equal(stats.count, active.length);
  assert.ok(Math.abs(stats.meanActivation - active.reduce((a, b) => a + b, 0) / active.length) < 1e-5);
  assert.ok(Math.abs(stats.p99Activation - Math.max(...active)) < 0.02 * Math.max(...active));
});

test('evidence finds the topic words that drive a planted feature', async (t) => {
  const { dir } = await writePlantedSae();
  t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));
  const sae = await loadSae(dir);
  t.after(() => sae.dispose());
  const embedder = hashEmbedder();
  await buildCatalog({
    saeDir: dir,
    sae,
    embedder,
    documents: plantedCorpus(),
    evidence: { features: 16, documents: 2 },
  });
  const catalog = await openCatalog(dir, { embedder });
  const evidence = (await catalog.describe(2)).evidence; // astronomy
  assert.ok(evidence.length > 0, 'the astronomy feature has evidence');
  for (const doc of evidence) {
    assert.ok(doc.ablations.length > 0);
    assert.ok(
      TOPICS.astronomy!.includes(doc.ablations[0]!.word),
      `strongest ablation '${doc.ablations[0]!.word}'`,
    );
    assert.equal(doc.prefixes.at(-1)!.activation, doc.activation);
    assert.ok(TOPICS.astronomy!.includes(doc.trigger!), `trigger '${doc.trigger}' is an astronomy word`);
    const words = doc.prefixes.map((p) => p.words);
    assert.deepEqual(
      words,
      [...words].sort((a, b) => a - b),
    );
  }
});

test('a catalog of another SAE is refused, replaced only with force, and keeps aliases aside', async (t) => {
  const first = await writePlantedSae();
  const second = await writePlantedSae({ extra: 12 });
  t.after(() => rm(join(first.dir, '..'), { recursive: true, force: true }));
  t.after(() => rm(join(second.dir, '..'), { recursive: true, force: true }));
  const saeA = await loadSae(first.dir);
  const saeB = await loadSae(second.dir);
  t.after(() => saeA.dispose());
  t.after(() => saeB.dispose());
  const embedder = hashEmbedder();
  const documents = plantedCorpus(4);
  await buildCatalog({ saeDir: first.dir, sae: saeA, embedder, documents, evidence: false });
  const catalogA = await openCatalog(first.dir);
  await catalogA.setAlias('careers', 0);
  // Building SAE B's catalog into SAE A's folder: refused with a clear error.
  await assert.rejects(
    buildCatalog({ saeDir: first.dir, sae: saeB, embedder, documents, evidence: false }),
    (error: unknown) =>
      error instanceof CatalogError && error.code === 'sae_mismatch' && /--force/.test(error.message),
  );
  await buildCatalog({ saeDir: first.dir, sae: saeB, embedder, documents, evidence: false, force: true });
  const kept = JSON.parse(
    await readFile(join(first.dir, 'catalog', `aliases.${saeA.manifest.id}.json`), 'utf8'),
  );
  assert.equal(kept.aliases.careers, 0);
  // Opening a catalog from a folder of the other SAE: refused.
  await assert.rejects(
    openCatalog(first.dir),
    (error: unknown) => error instanceof CatalogError && error.code === 'sae_mismatch',
  );
});

test('bad corpus input and a wrong embedder get clear errors', async (t) => {
  const { dir } = await writePlantedSae();
  t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));
  const sae = await loadSae(dir);
  t.after(() => sae.dispose());
  const embedder = hashEmbedder();
  await assert.rejects(
    buildCatalog({ saeDir: dir, sae, embedder, documents: [{ id: '', text: 'x' }], evidence: false }),
    (error: unknown) =>
      error instanceof CatalogError && error.code === 'corpus_invalid' && /"_id"/.test(error.message),
  );
  await assert.rejects(
    buildCatalog({
      saeDir: dir,
      sae,
      embedder,
      documents: [
        { id: 'a', text: 'x' },
        { id: 'a', text: 'y' },
      ],
      evidence: false,
    }),
    (error: unknown) => error instanceof CatalogError && /twice/.test(error.message),
  );
  await assert.rejects(
    buildCatalog({
      saeDir: dir,
      sae,
      embedder: hashEmbedder(64, 'other-model'),
      documents: plantedCorpus(2),
      evidence: false,
    }),
    (error: unknown) => error instanceof CatalogError && error.code === 'embedder_mismatch',
  );
  await assert.rejects(
    openCatalog(dir),
    (error: unknown) => error instanceof CatalogError && error.code === 'catalog_missing',
  );
});

const WAR = [
  'The war began in the spring, and the army crossed the river before the harvest.',
  'After the war the soldiers came home to ruined farms and empty villages.',
  'Historians still argue about why the war lasted four winters.',
  'The war memorial lists the names of every soldier from the valley.',
  'During the war the army rationed bread, sugar and coal.',
];
const GERMAN = [
  'Der Rhein fließt durch Deutschland und die Niederlande, bevor er in die Nordsee mündet.',
  'Die meisten Schiffe auf dem Rhein fahren nach Rotterdam, bevor sie zurück nach Deutschland kommen.',
  'In Deutschland sind die meisten Flüsse im Winter kalt, bevor der Frühling kommt.',
  'Die meisten Brücken über den Rhein wurden nach dem Krieg in Deutschland neu gebaut.',
  'Bevor der Rhein Basel erreicht, fließt er durch den Bodensee, den die meisten Besucher kennen.',
];
const FRENCH = [
  'La plupart des trains partent de Lyon avant le lever du soleil, lorsque la gare est calme.',
  'Avant la grève, la plupart des voyageurs prenaient le train pour Lyon chaque matin.',
  'Lorsque le train arrive à la gare de Lyon, la plupart des voyageurs sont déjà fatigués.',
  'La gare de Lyon ne ferme jamais avant minuit, et la plupart des trains y passent.',
  'Avant les travaux, la plupart des trains de Lyon étaient en retard, lorsque la neige tombait.',
];
const EVERYDAY = [
  'Tomatoes grow best in a sunny garden with regular watering.',
  'The bakery on the corner sells fresh bread every morning.',
  'A good pair of running shoes makes long runs more comfortable.',
  'The library opens a new reading room for children this autumn.',
  'Our cat sleeps on the windowsill whenever the sun comes out.',
  'The museum shows paintings of the coast by local artists.',
  'Cyclists ride along the canal path to reach the market.',
  'The orchestra rehearses the symphony twice a week in the hall.',
  'Fresh basil and olive oil make a simple pasta sauce.',
  'The hikers reached the mountain hut just after sunset.',
  'The school garden grows beans, peas and pumpkins.',
  'A new bus line connects the airport with the harbour.',
];

test('labels of a corpus with German and French passages hold no function word of either; English keeps war', async (t) => {
  const dims = 64;
  const embedder = hashEmbedder(dims);
  const groups = [WAR, GERMAN, FRENCH];
  const centroids = await Promise.all(
    groups.map(async (texts) => {
      const vectors = await embedder.embed(texts);
      const sum = new Float32Array(dims);
      for (let i = 0; i < vectors.length; i++) sum[i % dims] += vectors[i]!;
      return normalize(sum);
    }),
  );
  const dir = join(await mkdtemp(join(tmpdir(), 'steer-catalog-')), 'sae');
  t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));
  await writeSae(dir, plantedWeights(centroids, dims, 9), {
    k: 3,
    embedding: { model: embedder.id, dims, normalized: true },
    training: { note: 'planted test SAE: war, German, French' },
  });
  const sae = await loadSae(dir);
  t.after(() => sae.dispose());
  const texts = [...WAR, ...GERMAN, ...FRENCH, ...EVERYDAY, ...EVERYDAY.map((text) => `Today: ${text}`)];
  const documents = texts.map((text, i) => ({ id: `d${i}`, text }));
  await buildCatalog({ saeDir: dir, sae, embedder, documents, evidence: false });
  const catalog = await openCatalog(dir, { embedder });
  t.after(() => catalog.dispose());
  assert.deepEqual(catalog.header!.languages, ['eng', 'deu', 'fra']);
  const keywordsOf = async (id: number): Promise<string[]> =>
    (await catalog.describe(id)).keywords.flatMap((term) => term.split(' '));
  const war = await keywordsOf(0);
  assert.ok(war.includes('war'), `the war feature keeps 'war': ${war}`);
  const german = await keywordsOf(1);
  assert.ok(
    german.some((word) => ['rhein', 'deutschland'].includes(word)),
    `German feature: ${german}`,
  );
  const french = await keywordsOf(2);
  assert.ok(
    french.some((word) => ['lyon', 'gare', 'trains'].includes(word)),
    `French feature: ${french}`,
  );
  const functionWords = [
    'bevor',
    'meisten',
    'die',
    'der',
    'nach',
    'avant',
    'plupart',
    'lorsque',
    'jamais',
    'des',
  ];
  for (let id = 0; id < catalog.header!.nLatents; id++) {
    const label = catalog.get(id)?.label;
    if (label === undefined) continue;
    for (const word of label.split(/[ ,]+/))
      assert.ok(
        !functionWords.includes(word),
        `feature ${id} label '${label}' holds the function word '${word}'`,
      );
  }
  assert.equal((await catalog.searchFeatures('war', 3))[0]?.id, 0, 'the concept `war` finds the war feature');
});
