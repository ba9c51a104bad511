// Integration tests with the real default embedder (USE lite) on the demo corpus and on MS MARCO passages.
// The SAEs here are a test construction: their decoder (and encoder) directions are planted from the
// embedder's embeddings of topic phrases, plus random features; they are not trained.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { loadDefaultEmbedder, withCache, type Embedder } from '@steer/embed';
import { loadSae, writeSae } from '@steer/sae';
import { buildCatalog, openCatalog, type CorpusDocument } from '../src/index.js';
import { plantedWeights } from './helpers/planted.js';

const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
const demoCorpus = join(packageRoot, '..', 'cli', 'demo', 'corpus.jsonl');
const msmarcoCorpus = join(packageRoot, '..', '..', '..', 'shared', 'datasets', 'msmarco-5k', 'corpus.jsonl');

let embedder: Embedder;
const temps: string[] = [];
before(async () => {
  // NOTE: a cache shared between runs keeps reruns fast on a busy machine; it is keyed by model and text.
  embedder = withCache(await loadDefaultEmbedder(), join(tmpdir(), 'steer-catalog-test-cache'));
});
after(async () => {
  await embedder?.dispose();
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

async function readJsonl(path: string, limit: number): Promise<CorpusDocument[]> {
  const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  return lines.slice(0, limit).map((line) => {
    const raw = JSON.parse(line) as { _id?: string; id?: string; title?: string; text: string };
    return { id: String(raw._id ?? raw.id), title: raw.title || undefined, text: raw.text };
  });
}

/** Writes an SAE whose first features are the embeddings of `topics`, then `extra` random features. */
async function plantedSae(topics: string[], extra: number, k: number): Promise<string> {
  const vectors = await embedder.embed(topics);
  const directions = topics.map((_, i) => vectors.slice(i * embedder.dims, (i + 1) * embedder.dims));
  const dir = join(await mkdtemp(join(tmpdir(), 'steer-catalog-real-')), 'sae');
  temps.push(join(dir, '..'));
  await writeSae(dir, plantedWeights(directions, embedder.dims, extra), {
    k,
    embedding: { model: embedder.id, dims: embedder.dims, normalized: true },
    training: { note: 'test construction: planted topic directions' },
  });
  return dir;
}

async function check(
  corpus: CorpusDocument[],
  topics: Array<{ phrase: string; concept: string; words: RegExp }>,
): Promise<void> {
  const dir = await plantedSae(
    topics.map((t) => t.phrase),
    27,
    4,
  );
  const sae = await loadSae(dir);
  try {
    await buildCatalog({
      saeDir: dir,
      sae,
      embedder,
      documents: corpus,
      evidence: { features: 2, documents: 1, ablateWords: 8, prefixSteps: 4 },
    });
  } finally {
    await sae.dispose();
  }
  const catalog = await openCatalog(dir, { embedder });
  try {
    for (const [id, topic] of topics.entries()) {
      const description = await catalog.describe(id);
      assert.ok(
        description.keywords.length >= 3,
        `feature ${id} (${topic.phrase}) has keywords: ${description.label}`,
      );
      assert.ok(
        description.keywords.some((k) => topic.words.test(k)),
        `feature ${id} (${topic.phrase}) label '${description.label}' holds a topical word`,
      );
      // Every keyword (word or phrase) really occurs in the corpus, apostrophes and whitespace aside.
      const texts = description.topDocuments.map((d) => d.snippet.toLowerCase());
      const flat = (text: string) => text.toLowerCase().replace(/['’]/g, '').replace(/\s+/g, ' ');
      const missing = description.keywords.filter(
        (k) => !corpus.some((doc) => flat(doc.text).includes(k) || flat(doc.title ?? '').includes(k)),
      );
      assert.deepEqual(missing, [], `keywords of feature ${id} missing from the corpus`);
      assert.ok(texts.length > 0);
      const results = await catalog.searchFeatures(topic.concept, 3);
      assert.ok(
        results.some((r) => r.id === id),
        `search '${topic.concept}' ranks feature ${id} in the top 3: ${JSON.stringify(results.map((r) => [r.id, r.label, r.score.toFixed(3)]))}`,
      );
    }
  } finally {
    await catalog.dispose();
  }
}

test('demo corpus: planted topic features get topical labels and are found by concept', async (t) => {
  if (!existsSync(demoCorpus)) {
    t.skip(`demo corpus ${demoCorpus} is absent`);
    return;
  }
  // Every second document keeps all five topics at half the embedding cost.
  await check(
    (await readJsonl(demoCorpus, 400)).filter((_, i) => i % 2 === 0),
    [
      { phrase: 'coffee', concept: 'coffee', words: /coffee|espresso|caffeine|beans|brew|roast|cafe/ },
      {
        phrase: 'electric cars',
        concept: 'electric vehicles',
        words: /electric|battery|charging|cars?|vehicles?|ev|evs/,
      },
      { phrase: 'city parks', concept: 'parks', words: /parks?|green|trees|urban|city/ },
      {
        phrase: 'remote work from home',
        concept: 'remote work',
        words: /remote|home|office|work|commute|employees/,
      },
    ],
  );
});

test('MS MARCO (first 200 passages): planted topic features get topical labels and are found by concept', async (t) => {
  if (!existsSync(msmarcoCorpus)) {
    t.skip(`MS MARCO corpus ${msmarcoCorpus} is absent (../shared/datasets); skipping`);
    return;
  }
  await check(await readJsonl(msmarcoCorpus, 200), [
    {
      phrase: 'medical symptoms of a disease',
      concept: 'symptoms',
      words: /symptoms?|disease|pain|infection|blood|medical|cause/,
    },
    {
      phrase: 'cooking food recipes',
      concept: 'cooking',
      words: /cook|food|recipe|ingredient|bake|oven|minutes|chicken|meat|fish|heat/,
    },
    { phrase: 'price and cost in dollars', concept: 'cost', words: /cost|price|dollars?|pay|average|per|\$/ },
  ]);
});
