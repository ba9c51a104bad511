// A small real Steer project for tests: an SAE with one planted feature per topic of a tiny corpus (encoder
// row = decoder column = the topic's mean embedding), its catalog built by @steer/catalog with the real
// default embedder, aliases, a saved preset, a steer.config.json and, on request, an indexed corpus.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '@steer/core';
import { buildCatalog, Catalog, openCatalog, type FeatureStats, type LabelRecord } from '@steer/catalog';
import { createEmbedder, type Embedder } from '@steer/embed';
import { openEngine } from '@steer/engine';
import { savePreset } from '@steer/presets';
import { loadSae, writeSae, type SaeManifest, type SaeWeights } from '@steer/sae';
import { normalize, plantedWeights } from '@steer/test-support';

/** Topics of the fixture corpus; feature i of the fixture SAE is topic i and has the topic's name as alias. */
export const FIXTURE_TOPICS: Record<string, string[]> = {
  learning: [
    'Students learn faster with spaced repetition and regular practice tests.',
    'A good teacher explains the lesson and checks that the class understood it.',
    'Online courses let adults study new subjects at their own pace.',
    'Reading every day improves vocabulary and comprehension for young pupils.',
    'University lectures, seminars and homework help students master a subject.',
    'Learning a language takes practice, listening and patient repetition.',
  ],
  career: [
    'Negotiating your salary is an important step when you accept a new job offer.',
    'Recruiters look for experience, skills and a clear resume when hiring.',
    'A promotion often comes with a higher salary and more responsibility at work.',
    'Job interviews ask about your career goals and previous employers.',
    'Many workers change careers to find better pay and job security.',
    'Employers offer benefits such as pensions and paid leave to attract staff.',
  ],
  cooking: [
    'Simmer the tomato sauce with garlic and basil for twenty minutes.',
    'Knead the bread dough, let it rise, then bake it in a hot oven.',
    'A sharp knife makes chopping onions and vegetables much easier.',
    'Roast the chicken with lemon, thyme and olive oil until golden.',
    'Whisk eggs, flour and milk to make a smooth pancake batter.',
    'Season the soup with salt and pepper before serving it hot.',
  ],
  astronomy: [
    'The telescope revealed the rings of Saturn and four moons of Jupiter.',
    'Astronomers measured the distance to a distant galaxy using supernovae.',
    'A comet with a bright tail passed close to the sun this winter.',
    'The planet orbits its star once every three hundred days.',
    'Nebulae are clouds of gas and dust where new stars are born.',
    'The night sky showed the Milky Way and a meteor shower.',
  ],
  medicine: [
    'The doctor prescribed antibiotics to treat the bacterial infection.',
    'Vaccines train the immune system to recognise a virus.',
    'Patients with high blood pressure should reduce salt and exercise.',
    'The nurse checked the symptoms and measured the fever.',
    'Clinical trials test whether a new drug is safe and effective.',
    'A healthy diet and sleep lower the risk of heart disease.',
  ],
};

/** A fixture project on disk. */
export interface FixtureProject {
  /** Project root holding steer.config.json. */
  root: string;
  saeDir: string;
  presetsDir: string;
  configFile: string;
  /** Feature id of each topic (its alias is the topic name). */
  topics: Record<string, number>;
  /** A feature that never fires on the corpus. */
  deadFeature: number;
  nLatents: number;
  saeId: string;
  catalog: Catalog;
  embedder: Embedder;
  /** The corpus documents (ids `<topic>-<n>`). */
  documents: Array<{ id: string; text: string; topic: string }>;
  dispose(): Promise<void>;
}

export interface FixtureOptions {
  /** Extra random features after the planted ones (default 10; the last one is dead). */
  extra?: number;
  /** Index the corpus in the embedded store as index `default` (for `steer/runQuery`). */
  index?: boolean;
  /** An embedder to reuse (default: the real default embedder, USE lite). */
  embedder?: Embedder;
}

/**
 * A real Catalog held in memory (no SAE folder, no dense scorer: concept search is off), for provider tests and
 * benchmarks: the given labels and aliases, and statistics (default: every feature in 5% of 100 documents).
 */
export function inMemoryCatalog(options: {
  nLatents: number;
  labels: LabelRecord[];
  aliases?: Map<string, number>;
  stats?: FeatureStats;
  id?: string;
  dModel?: number;
}): Catalog {
  const { nLatents } = options;
  const stats: FeatureStats = options.stats ?? {
    nLatents,
    documents: 100,
    count: new Uint32Array(nLatents).fill(5),
    frequency: new Float32Array(nLatents).fill(0.05),
    meanActivation: new Float32Array(nLatents).fill(1),
    p99Activation: new Float32Array(nLatents).fill(2),
    typicalActivation: new Float32Array(nLatents).fill(1),
  };
  const dModel = options.dModel ?? 512;
  const manifest: SaeManifest = {
    format: 'steer-sae/1',
    id: options.id ?? `sae-memory-${nLatents}`,
    sha256: '0'.repeat(64),
    k: 32,
    dModel,
    nLatents,
    embedding: { model: 'use-lite-512', dims: dModel, normalized: true },
    createdAt: new Date(0).toISOString(),
  };
  return new Catalog(
    manifest,
    undefined,
    undefined,
    stats,
    options.labels,
    options.aliases ?? new Map(),
    {},
    {},
  );
}

/** A small seeded PRNG (mulberry32), so fixtures and benchmarks are reproducible. */
export function seeded(seed: number): () => number {
  return mulberry32(seed);
}

/**
 * Builds a fixture project in a new temporary folder: SAE, catalog (with aliases = topic names), a saved
 * preset `jobs` (`+@career*0.5`), steer.config.json, and optionally an index of the corpus.
 */
export async function createFixtureProject(options: FixtureOptions = {}): Promise<FixtureProject> {
  const root = await mkdtemp(join(tmpdir(), 'steer-lsp-'));
  const embedder = options.embedder ?? (await createEmbedder('default'));
  const documents = Object.entries(FIXTURE_TOPICS).flatMap(([topic, texts]) =>
    texts.map((text, n) => ({ id: `${topic}-${n}`, text, topic })),
  );
  const dims = embedder.dims;
  const vectors = await embedder.embed(
    documents.map((d) => d.text),
    { kind: 'document' },
  );
  const topicNames = Object.keys(FIXTURE_TOPICS);
  const directions = topicNames.map((topic) => {
    const sum = new Float32Array(dims);
    documents.forEach((doc, row) => {
      if (doc.topic !== topic) return;
      for (let i = 0; i < dims; i++) sum[i] = sum[i]! + vectors[row * dims + i]!;
    });
    return normalize(sum);
  });
  const extra = options.extra ?? 10;
  // Planted features fire on their topic (cosine above ~0.3); random ones rarely, the last one never.
  const weights: SaeWeights = plantedWeights(directions, dims, extra, {
    seed: 11,
    bias: (j, n, planted) => (planted ? -0.3 : j === n - 1 ? -10 : -0.15),
  });
  const saeDir = join(root, 'sae');
  const manifest = await writeSae(saeDir, weights, {
    k: 3,
    embedding: { model: embedder.id, dims, normalized: embedder.normalized },
    training: { note: 'planted language-server test SAE' },
  });
  const sae = await loadSae(saeDir);
  try {
    await buildCatalog({ saeDir, sae, embedder, documents, evidence: false });
  } finally {
    await sae.dispose();
  }
  let catalog = await openCatalog(saeDir, { embedder });
  const topics: Record<string, number> = {};
  for (const [id, topic] of topicNames.entries()) {
    await catalog.setAlias(topic, id);
    topics[topic] = id;
  }
  await catalog.dispose();
  catalog = await openCatalog(saeDir, { embedder });
  const presetsDir = join(root, 'presets');
  await mkdir(presetsDir, { recursive: true });
  await savePreset(presetsDir, 'jobs', '+@career*0.5', { catalog });
  const configFile = join(root, 'steer.config.json');
  await writeFile(
    configFile,
    JSON.stringify(
      { sae: './sae', embedder: 'default', presets: './presets', dataDir: './.steer', index: 'default' },
      null,
      2,
    ),
  );
  if (options.index) {
    const { loadConfig } = await import('@steer/engine');
    // NOTE: the engine closes its embedder; lend it a wrapper so the fixture's embedder stays open.
    const borrowed: Embedder = {
      id: embedder.id,
      dims,
      normalized: embedder.normalized,
      embed: (texts, embedOptions) => embedder.embed(texts, embedOptions),
      dispose: async () => undefined,
    };
    const engine = await openEngine(loadConfig(root, {}), { embedder: borrowed });
    try {
      await engine.backend.createIndex('default', {
        dims,
        similarity: embedder.normalized ? 'dot_product' : 'cosine',
        embeddingModel: embedder.id,
        overwrite: true,
      });
      await engine.backend.addDocuments(
        'default',
        documents.map((doc, row) => ({
          id: doc.id,
          text: doc.text,
          metadata: { topic: doc.topic },
          vector: vectors.slice(row * dims, (row + 1) * dims),
        })),
      );
    } finally {
      await engine.close();
    }
  }
  return {
    root,
    saeDir,
    presetsDir,
    configFile,
    topics,
    deadFeature: weights.nLatents - 1,
    nLatents: weights.nLatents,
    saeId: manifest.id,
    catalog,
    embedder,
    documents,
    async dispose() {
      await catalog.dispose();
      if (!options.embedder) await embedder.dispose();
    },
  };
}
