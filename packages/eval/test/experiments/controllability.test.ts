// The controllability study's parts on a toy collection: held-out queries never enter the collection, intervals
// contain their mean, the label-chosen feature is the enriched latent, and steering toward a topic with concept
// search raises its share of the top 10.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCatalog, openCatalog } from '@steer/catalog';
import type { Embedder } from '@steer/embed';
import { loadSae, writeSae } from '@steer/sae';
import { SEARCH_VARIANTS } from '../../src/experiments/search-variants.js';
import { bootstrapMean } from '../../src/statistics.js';
import {
  holdOutQueries,
  labelChosenFeature,
  loadTopicCorpus,
  loadTopics,
  renderControllability,
  runControllability,
  type TopicDocument,
} from '../../src/experiments/controllability.js';

const TOPIC_WORDS: Record<string, string[]> = {
  sport: ['match', 'goal', 'league', 'striker'],
  music: ['album', 'band', 'singer', 'concert'],
  money: ['market', 'shares', 'profit', 'bank'],
};
const topics = Object.keys(TOPIC_WORDS);
const dims = 3;

/** Toy embedder: one coordinate per topic, counted from the topic's words, normalised. */
const embedder: Embedder = {
  id: 'toy-topics',
  dims,
  normalized: true,
  async embed(texts) {
    const out = new Float32Array(texts.length * dims);
    texts.forEach((text, t) => {
      const words = text.toLowerCase().split(/\W+/);
      topics.forEach((topic, i) => {
        out[t * dims + i] = 0.05 + words.filter((w) => TOPIC_WORDS[topic]!.includes(w)).length;
      });
      const norm = Math.hypot(...out.subarray(t * dims, (t + 1) * dims));
      for (let i = 0; i < dims; i++) out[t * dims + i]! /= norm;
    });
    return out;
  },
  async dispose() {},
};

function corpus(): TopicDocument[] {
  const docs: TopicDocument[] = [];
  topics.forEach((topic, i) => {
    for (let n = 0; n < 14; n++) {
      const other = topics[(i + 1 + (n % 2)) % 3]!;
      const own = TOPIC_WORDS[topic]!;
      const words = [own[n % 4]!, own[(n + 1) % 4]!, own[(n + 2) % 4]!, TOPIC_WORDS[other]![n % 4]!];
      docs.push({
        id: `${topic}-${n}`,
        title: `${own[n % 4]} ${TOPIC_WORDS[other]![(n + 1) % 4]}`,
        text: words.join(' '),
        topic,
      });
    }
  });
  return docs;
}

test('held-out queries are per topic, seeded, and never in the collection; intervals hold their mean', () => {
  const docs = corpus();
  const a = holdOutQueries(docs, topics, 3, 1);
  assert.equal(a.queries.length, 9);
  for (const topic of topics) assert.equal(a.queries.filter((q) => q.topic === topic).length, 3);
  assert.equal(a.collection.length, docs.length - 9);
  assert.ok(a.queries.every((q) => !a.collection.some((d) => d.id === q.id)));
  assert.deepEqual(holdOutQueries(docs, topics, 3, 1).queries, a.queries);
  assert.notDeepEqual(holdOutQueries(docs, topics, 3, 2).queries, a.queries);
  assert.throws(() => holdOutQueries(docs, topics, 8, 1), /hold out at most half/);
  const interval = bootstrapMean([0, 1, 1, 0, 1, 1, 1, 0], { resamples: 500, seed: 3 });
  assert.equal(interval.value, 0.625);
  assert.ok(
    interval.low < interval.value &&
      interval.value < interval.high &&
      interval.low >= 0 &&
      interval.high <= 1,
  );
  assert.deepEqual(bootstrapMean([0.4]), { value: 0.4, low: 0.4, high: 0.4 });
});

test('bad topic files and corpora are refused with the file named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'steer-ctrl-'));
  try {
    await writeFile(join(dir, 't.json'), JSON.stringify({ topics: [{ name: 'x' }] }));
    await assert.rejects(loadTopics(join(dir, 't.json')), /t\.json needs "topics"/);
    await writeFile(join(dir, 'c.jsonl'), '{"_id":"a","text":"x","metadata":{}}\n');
    await assert.rejects(loadTopicCorpus(join(dir, 'c.jsonl')), /c\.jsonl:1 needs .* metadata\.label/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('steering held-out headlines toward another topic by concept search raises its share of the top 10', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'steer-ctrl-sae-'));
  // Identity SAE: latent i is topic i's coordinate.
  const eye = Float32Array.from({ length: dims * dims }, (_, i) => (i % (dims + 1) === 0 ? 1 : 0));
  await writeSae(
    join(dir, 'sae'),
    {
      W_enc: eye,
      b_enc: new Float32Array(dims),
      W_dec: eye.slice(),
      b_dec: new Float32Array(dims),
      dModel: dims,
      nLatents: dims,
    },
    { k: 2, embedding: { model: embedder.id, dims, normalized: true } },
  );
  const sae = await loadSae(join(dir, 'sae'));
  try {
    const { collection, queries } = holdOutQueries(corpus(), topics, 2, 0);
    await buildCatalog({ saeDir: join(dir, 'sae'), sae, embedder, documents: collection, evidence: false });
    const catalog = await openCatalog(join(dir, 'sae'), { embedder });
    const specs = topics.map((name) => ({ name, description: TOPIC_WORDS[name]!.join(' ') }));
    assert.equal(
      labelChosenFeature(
        await sae.encodeBatches(await embedder.embed(collection.map((d) => d.text)), collection.length),
        collection,
        'music',
      ),
      1,
    );
    const result = await runControllability({
      seed: 0,
      topics: specs,
      collection,
      collectionVectors: await embedder.embed(collection.map((d) => `${d.title}. ${d.text}`)),
      queries,
      queryVectors: await embedder.embed(
        queries.map((q) => q.title),
        { kind: 'query' },
      ),
      sae,
      catalog,
      strengths: [4],
    });
    await catalog.dispose();
    const byDescription = result.settings.find(
      (s) => s.source === 'description' && s.edit === '+~"<topic>"*4x',
    )!;
    assert.ok(
      byDescription.shareAfter.value > byDescription.shareBefore.value + 0.3,
      JSON.stringify(byDescription),
    );
    assert.ok(byDescription.gained.value >= 0.9);
    const upper = result.settings.find((s) => s.source === 'label-chosen')!;
    assert.ok(upper.shareAfter.value > upper.shareBefore.value);
    for (const p of result.precision.filter((p) => p.source === 'description')) {
      assert.equal(p.features[0]!.id, topics.indexOf(p.topic), `${p.topic}: ${JSON.stringify(p.features)}`);
      assert.equal(p.precisionAt1, 1);
    }
    const md = renderControllability(
      [result],
      'steer experiment controllability --out x',
      new Date(),
      'c.svg',
      'toy',
    );
    // Goal tables for descriptions and names, each with the median 1x (the crossover per pair) in units of |h|.
    assert.match(md, /concept search on the description[^\n]*\n\n\| seed \| SAE \| 1x \(median over pairs/);
    assert.match(md, /concept search on the name[^\n]*\n\n\| seed \| SAE \| 1x \(median over pairs/);
    const defaultDescription = result.settings.find(
      (s) => s.source === 'description' && s.edit === '+~"<topic>"',
    )!;
    assert.ok(defaultDescription.unitScale! > 0, JSON.stringify(defaultDescription));
    assert.ok(upper.unitScale! > 0, 'the label-chosen feature is amplified at 1x too');
    assert.match(md, /\| description \| `\+~"<topic>"\*4x` \|/);
    // Every concept-search variant is measured and listed; the shipped one finds each topic's feature.
    assert.deepEqual(
      [...new Set(result.variants.map((v) => v.name))],
      SEARCH_VARIANTS.map((v) => v.name),
    );
    const shipped = result.variants.find((v) => v.name === 'shipped' && v.source === 'description')!;
    assert.equal(shipped.precisionAt1, 1);
    assert.match(md, /\| shipped \| f \(for a list[^|]*\| [\d. /]+ \| [\d.]+ \| [\d. /]+ \| 1\.00 \|/);
  } finally {
    await sae.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
