// Benchmarks of @steer/catalog: catalog build time per 1,000 documents, and concept-search latency at 32,768
// and 196,608 features over random SAE weights written to a temp dir (embedding excluded and included), and the
// feedback step of concept search and the amplify crossover over a 20,000-document pool.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDefaultEmbedder, type Embedder } from '@steer/embed';
import { loadSae, readSaeManifest, writeSae, type SaeWeights } from '@steer/sae';
import {
  buildCatalog,
  catalogDir,
  emptyCatalog,
  openCatalog,
  type Catalog,
  type CorpusDocument,
} from '../src/index.js';
import { CONCEPT_INDEX_FILE } from '../src/concept-index-file.js';
import { crossoverStrength } from '../src/crossover.js';
import { FEEDBACK_POOL_DOCUMENTS, FeedbackScorer, feedbackPool } from '../src/feedback.js';
import {
  CATALOG_FORMAT,
  encodeCentroids,
  writeCatalogFiles,
  type FeatureRecord,
  type LabelRecord,
} from '../src/storage.js';
import { seeded } from '../test/helpers/planted.js';

/** One benchmark figure, as `npm run bench` prints it. */
export interface Figure {
  figure: string;
  value: number;
  unit: string;
  vs?: { figure: string; value: number; ratio: number };
}

function randomWeights(dModel: number, nLatents: number, seed: number): SaeWeights {
  const random = seeded(seed);
  const fill = (length: number, scale: number): Float32Array => {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) out[i] = random() * scale;
    return out;
  };
  return {
    W_enc: fill(nLatents * dModel, 0.2),
    b_enc: fill(nLatents, 0.02),
    W_dec: fill(dModel * nLatents, 0.2),
    b_dec: fill(dModel, 0.02),
    dModel,
    nLatents,
  };
}

function unitVectors(count: number, dims: number, seed: number): Float32Array[] {
  const random = seeded(seed);
  return Array.from({ length: count }, () => {
    const v = Float32Array.from({ length: dims }, () => random());
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** Exact (a)+(b) over all features in plain JS, float32: the baseline the index is compared with. */
function bruteForce(weights: SaeWeights, k: number, x: Float32Array): { top: number[]; ms: number } {
  const started = performance.now();
  const { W_enc, b_enc, W_dec, b_dec, dModel: d, nLatents: n } = weights;
  const pre = new Float32Array(n);
  const cosine = new Float32Array(n);
  const centered = x.map((v, i) => v - b_dec[i]!);
  for (let j = 0; j < n; j++) {
    let dot = b_enc[j]!;
    for (let i = 0; i < d; i++) dot += W_enc[j * d + i]! * centered[i]!;
    pre[j] = dot;
  }
  const norm = new Float32Array(n);
  for (let i = 0; i < d; i++) {
    const xi = x[i]!;
    for (let j = 0; j < n; j++) {
      const w = W_dec[i * n + j]!;
      cosine[j] = cosine[j]! + w * xi;
      norm[j] = norm[j]! + w * w;
    }
  }
  const top = Array.from(pre.keys())
    .sort((a, b) => pre[b]! - pre[a]!)
    .slice(0, k);
  return { top, ms: performance.now() - started };
}

/** A bag-of-words embedder (hashed word vectors): cheap, so build figures measure the catalog, not the model. */
function hashEmbedder(dims: number, id: string): Embedder {
  const cache = new Map<string, Float32Array>();
  const wordVector = (word: string): Float32Array => {
    let v = cache.get(word);
    if (!v) {
      let h = 2166136261;
      for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619);
      v = unitVectors(1, dims, h >>> 0)[0]!;
      cache.set(word, v);
    }
    return v;
  };
  return {
    id,
    dims,
    normalized: true,
    async embed(texts) {
      const out = new Float32Array(texts.length * dims);
      texts.forEach((text, t) => {
        for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
          const v = wordVector(word);
          for (let i = 0; i < dims; i++) out[t * dims + i] += v[i]!;
        }
        let norm = 0;
        for (let i = 0; i < dims; i++) norm += out[t * dims + i]! ** 2;
        norm = Math.sqrt(norm) || 1;
        for (let i = 0; i < dims; i++) out[t * dims + i]! /= norm;
      });
      return out;
    },
    async dispose() {},
  };
}

async function benchBuild(report: (figure: Figure) => void, temp: string): Promise<void> {
  const dims = 512;
  const nLatents = 4096;
  const documents = 2000;
  const random = seeded(11);
  const vocabulary = Array.from({ length: 3000 }, (_, i) =>
    `w${i.toString(36)}x`.replace(/\d/g, (d) => 'abcdefghij'[Number(d)]!),
  );
  const docs: CorpusDocument[] = Array.from({ length: documents }, (_, i) => ({
    id: `doc-${i}`,
    text: Array.from(
      { length: 60 },
      () => vocabulary[Math.floor((random() + 0.5) ** 3 * vocabulary.length)]!,
    ).join(' '),
  }));
  const dir = join(temp, 'sae-build');
  const embedder = hashEmbedder(dims, 'bench-bow-512');
  await writeSae(dir, randomWeights(dims, nLatents, 5), {
    k: 32,
    embedding: { model: embedder.id, dims, normalized: true },
  });
  const sae = await loadSae(dir);
  try {
    const vectors = await embedder.embed(docs.map((d) => d.text));
    let started = performance.now();
    await sae.encodeBatches(vectors, documents, { batchSize: 64 });
    const encodeMs = performance.now() - started;
    started = performance.now();
    const summary = await buildCatalog({ saeDir: dir, sae, embedder, documents: docs, evidence: false });
    const buildMs = performance.now() - started;
    const perThousand = (buildMs / documents) * 1000;
    const encodePerThousand = (encodeMs / documents) * 1000;
    report({
      figure: `catalog build per 1,000 docs (SAE 4,096 x 512, k=32, bag-of-words embedder, no evidence; ${summary.alive} live features)`,
      value: Math.round(perThousand),
      unit: 'ms',
      vs: {
        figure: 'SAE encode alone per 1,000 docs',
        value: Math.round(encodePerThousand),
        ratio: perThousand / encodePerThousand,
      },
    });
    // Token evidence costs embeddings: measured per document with the same embedder.
    started = performance.now();
    const withEvidence = await buildCatalog({
      saeDir: dir,
      sae,
      embedder,
      documents: docs.slice(0, 200),
      evidence: { features: 10, documents: 2 },
    });
    const evidenceMs = performance.now() - started;
    report({
      figure: `catalog build of 200 docs with token evidence (${withEvidence.evidenceDocuments} evidence docs, 8 prefixes + 24 ablations each)`,
      value: Math.round(evidenceMs),
      unit: 'ms',
    });
  } finally {
    await sae.dispose();
  }
}

async function benchSearch(
  report: (figure: Figure) => void,
  temp: string,
  nLatents: number,
  useEmbedder?: Embedder,
): Promise<void> {
  const dims = 512;
  const k = 64;
  const dir = join(temp, `sae-${nLatents}`);
  let weights: SaeWeights | undefined = randomWeights(dims, nLatents, nLatents);
  await writeSae(dir, weights, { k, embedding: { model: 'use-lite-512', dims, normalized: true } });
  const manifest = await readSaeManifest(dir);
  const queries = unitVectors(100, dims, 99);
  // Baseline: exact brute force in JS (3 queries; it is slow) and the agreement of the index's top k with it.
  const baseline: number[] = [];
  const exactTops: number[][] = [];
  for (const q of queries.slice(0, 3)) {
    const { top, ms } = bruteForce(weights, k, q);
    baseline.push(ms);
    exactTops.push(top);
  }
  weights = undefined; // the catalog reads the weights from the temp dir, as in the editor
  const catalog = emptyCatalog(manifest, dir, { embedder: useEmbedder });
  try {
    let started = performance.now();
    await catalog.warmUp();
    const openMs = performance.now() - started;
    for (const q of queries.slice(0, 5)) await catalog.searchFeaturesByVector('', q, 10); // JIT warm-up
    const times: number[] = [];
    const cpuBefore = process.cpuUsage();
    for (const q of queries) {
      started = performance.now();
      await catalog.searchFeaturesByVector('', q, 10);
      times.push(performance.now() - started);
    }
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000 / queries.length;
    let agree = 0;
    for (let i = 0; i < 3; i++) {
      const results = await catalog.searchFeaturesByVector('', queries[i]!, 1000);
      const active = new Set(results.filter((r) => r.components.activation > 0).map((r) => r.id));
      agree += exactTops[i]!.filter((id) => active.has(id)).length / k;
    }
    const sorted = times.sort((a, b) => a - b);
    const base = baseline.reduce((a, b) => a + b, 0) / baseline.length;
    const size = nLatents.toLocaleString('en-US');
    report({
      figure: `concept search p50 at ${size} features (embedding excluded)`,
      value: percentile(sorted, 0.5),
      unit: 'ms',
      vs: {
        figure: 'exact brute-force JS scan (mean of 3)',
        value: base,
        ratio: percentile(sorted, 0.5) / base,
      },
    });
    report({
      figure: `concept search p99 at ${size} features (embedding excluded)`,
      value: percentile(sorted, 0.99),
      unit: 'ms',
    });
    report({
      figure: `concept search CPU time per query at ${size} features (all threads; wall time minus waiting on a busy machine)`,
      value: cpuMs,
      unit: 'ms',
    });
    report({
      figure: `concept index build at ${size} features (read weights + quantize + session)`,
      value: Math.round(openMs),
      unit: 'ms',
    });
    report({
      figure: `share of the SAE's exact top-${k} found by the candidate scan at ${size} features (random weights)`,
      value: agree / 3,
      unit: 'fraction',
    });
    if (useEmbedder) await benchEmbeddedSearch(report, catalog, useEmbedder, size);
  } finally {
    await catalog.dispose();
  }
}

/** Concept search with the embedding included: a new concept (embedded), then the same concept again (cached). */
async function benchEmbeddedSearch(
  report: (figure: Figure) => void,
  catalog: Catalog,
  embedder: Embedder,
  size: string,
): Promise<void> {
  let started: number;
  const concepts = Array.from(
    { length: 30 },
    (_, i) => `concept number ${i} about ${['jobs', 'coffee', 'parks', 'cars', 'learning'][i % 5]}`,
  );
  const full: number[] = [];
  const embedOnly: number[] = [];
  for (const concept of concepts) {
    started = performance.now();
    await embedder.embed([concept + ' (warm-up)'], { kind: 'query' });
    embedOnly.push(performance.now() - started);
    started = performance.now();
    await catalog.searchFeatures(concept, 10);
    full.push(performance.now() - started);
  }
  const cached: number[] = [];
  for (const concept of concepts) {
    started = performance.now();
    await catalog.searchFeatures(concept, 10);
    cached.push(performance.now() - started);
  }
  const s = (list: number[]) => list.slice(3).sort((a, b) => a - b);
  report({
    figure: 'USE lite embedding of a new concept p50',
    value: percentile(s(embedOnly), 0.5),
    unit: 'ms',
  });
  report({
    figure: `concept search p50 at ${size} features, new concept (embedding included)`,
    value: percentile(s(full), 0.5),
    unit: 'ms',
  });
  report({
    figure: `concept search p99 at ${size} features, new concept (embedding included)`,
    value: percentile(s(full), 0.99),
    unit: 'ms',
  });
  report({
    figure: `concept search p99 at ${size} features, repeated concept (embedding cached)`,
    value: percentile(s(cached), 0.99),
    unit: 'ms',
  });
}

/**
 * Issue 15.4: a catalog of `nLatents` random features (labels, 24 concept-search terms each, random top-document
 * profiles) over random SAE weights; the first concept search builds and saves the index, a second open loads it.
 */
export async function benchSavedIndex(
  report: (figure: Figure) => void,
  temp: string,
  nLatents: number,
): Promise<void> {
  const dims = 512;
  const k = 64;
  const dir = join(temp, `sae-saved-${nLatents}`);
  await writeSae(dir, randomWeights(dims, nLatents, 7), {
    k,
    embedding: { model: 'bench-random', dims, normalized: true },
  });
  const manifest = await readSaeManifest(dir);
  const random = seeded(21);
  const word = () => `w${Math.floor(random() * 50000).toString(36)}`;
  const labels: LabelRecord[] = [];
  const features: FeatureRecord[] = [];
  for (let id = 0; id < nLatents; id++) {
    const keywords = [word(), word(), word()];
    labels.push({ id, label: keywords.join(', '), keywords, keywordZ: [9, 6, 4] });
    features.push({
      id,
      top: [[0, 1]],
      terms: Array.from({ length: 24 }, (_, i) => [word(), Math.round((12 - i * 0.4) * 100) / 100]),
    });
  }
  const profiles = new Int8Array(nLatents * dims);
  for (let i = 0; i < profiles.length; i++) profiles[i] = Math.floor(random() * 255) - 127;
  const count = new Uint32Array(nLatents).fill(1);
  const zeros = () => new Float32Array(nLatents).fill(0.1);
  await writeCatalogFiles(catalogDir(dir), {
    header: {
      format: CATALOG_FORMAT,
      saeId: manifest.id,
      nLatents,
      dModel: dims,
      k,
      embedding: manifest.embedding,
      createdAt: '2026-12-01T00:00:00.000Z',
      corpus: { sha256: 'bench', documents: 1 },
      labeler: 'keywords',
      options: {},
    },
    stats: {
      nLatents,
      documents: 1,
      count,
      frequency: zeros(),
      meanActivation: zeros(),
      p99Activation: zeros(),
      typicalActivation: zeros(),
    },
    labels,
    features,
    docs: [{ id: 'doc-0', snippet: 'bench' }],
    terms: { documents: 1, documentFrequency: [1], top: [['bench', 1]] },
    centroids: encodeCentroids(
      { q: profiles, scale: new Float32Array(nLatents).fill(0.001) },
      nLatents,
      dims,
    ),
  });
  const queries = unitVectors(5, dims, 5);
  const concepts = Array.from({ length: queries.length }, () => `${word()} ${word()}`);
  const measure = async () => {
    const catalog = await openCatalog(dir);
    try {
      const started = performance.now();
      await catalog.warmUp();
      const ms = performance.now() - started;
      const answers = [];
      for (const [i, q] of queries.entries())
        answers.push((await catalog.searchFeaturesByVector(concepts[i]!, q, 10)).map((m) => m.id));
      return { ms, answers };
    } finally {
      await catalog.dispose();
    }
  };
  const built = await measure();
  const { size } = await stat(join(catalogDir(dir), CONCEPT_INDEX_FILE));
  const loaded = await measure();
  const again = await measure();
  const loadMs = Math.min(loaded.ms, again.ms);
  const label = nLatents.toLocaleString('en-US');
  report({
    figure: `concept index load from disk at ${label} features, second run (best of 2; ${(size / 2 ** 20).toFixed(0)} MiB file; same results: ${JSON.stringify(loaded.answers.map((a) => a.slice(0, 3))) === JSON.stringify(built.answers.map((a) => a.slice(0, 3))) ? 'yes' : 'NO'})`,
    value: Math.round(loadMs),
    unit: 'ms',
    vs: {
      figure: 'first run: build from the SAE weights and catalog, and save',
      value: Math.round(built.ms),
      ratio: loadMs / built.ms,
    },
  });
}

/**
 * The feedback step of concept search at the largest pool `steer label` keeps (20,000 documents, 512-d, k = 64 of
 * 32,768 latents, random): nearest pool documents by int8 dot product, then each feature's lift. Against it, a
 * float32 dot-product scan of the same vectors (the nearest-document step alone, unquantized), side by side.
 */
export async function benchFeedback(report: (figure: Figure) => void): Promise<void> {
  const dims = 512;
  const k = 64;
  const nLatents = 32_768;
  const m = FEEDBACK_POOL_DOCUMENTS;
  const random = seeded(7);
  const vectors = new Float32Array(m * dims);
  unitVectors(m, dims, 5).forEach((v, r) => vectors.set(v, r * dims));
  const indices = Int32Array.from({ length: m * k }, () => Math.floor(random() * nLatents));
  const values = Float32Array.from({ length: m * k }, () => random());
  const scorer = new FeedbackScorer(feedbackPool(vectors, { indices, values, k, batch: m }, dims), nLatents);
  const queries = unitVectors(60, dims, 11);
  for (const q of queries.slice(0, 5)) scorer.score(q); // JIT warm-up
  const timed = (fn: (q: Float32Array) => void): number[] =>
    queries
      .map((q) => {
        const started = performance.now();
        fn(q);
        return performance.now() - started;
      })
      .sort((a, b) => a - b);
  let sink = 0;
  const scan = (q: Float32Array): void => {
    for (let r = 0; r < m; r++) {
      let dot = 0;
      for (let i = 0; i < dims; i++) dot += vectors[r * dims + i]! * q[i]!;
      if (dot > sink) sink = dot;
    }
  };
  for (const q of queries.slice(0, 5)) scan(q);
  const feedback = timed((q) => scorer.score(q));
  const baseline = timed(scan);
  report({
    figure: `concept search feedback step p50, ${m.toLocaleString('en-US')}-document pool (embedding excluded)`,
    value: percentile(feedback, 0.5),
    unit: 'ms',
    vs: {
      figure: 'float32 dot-product scan of the same pool, p50',
      value: percentile(baseline, 0.5),
      ratio: percentile(feedback, 0.5) / percentile(baseline, 0.5),
    },
  });
  report({
    figure: `concept search feedback step p99, ${m.toLocaleString('en-US')}-document pool (embedding excluded)`,
    value: percentile(feedback, 0.99),
    unit: 'ms',
  });
  // The crossover (1x of an amplifying edit): two int8 scans of the same pool and two top-10 means, per edit.
  const directions = unitVectors(60, dims, 13);
  let at = 0;
  const crossover = timed((q) => {
    sink += crossoverStrength(scorer.pool, q, directions[at++ % directions.length]!) ?? 0;
  });
  report({
    figure: `amplify 1x crossover p50, ${m.toLocaleString('en-US')}-document pool (per edit, embedding excluded)`,
    value: percentile(crossover, 0.5),
    unit: 'ms',
    vs: {
      figure: 'float32 dot-product scan of the same pool, p50',
      value: percentile(baseline, 0.5),
      ratio: percentile(crossover, 0.5) / percentile(baseline, 0.5),
    },
  });
}

/** Runs the catalog benchmarks (about two minutes; needs ~3 GB of memory and ~2 GB of temp disk). */
export async function run(report: (figure: Figure) => void): Promise<void> {
  const temp = await mkdtemp(join(tmpdir(), 'steer-catalog-bench-'));
  let embedder: Embedder | undefined;
  try {
    await benchBuild(report, temp);
    await benchSearch(report, temp, 32_768);
    await benchFeedback(report);
    embedder = await loadDefaultEmbedder().catch(() => undefined);
    await benchSearch(report, temp, 196_608, embedder);
    await rm(join(temp, 'sae-196608'), { recursive: true, force: true });
    await benchSavedIndex(report, temp, 196_608);
  } finally {
    await embedder?.dispose();
    await rm(temp, { recursive: true, force: true });
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  await run((f) => console.log(JSON.stringify(f)));
}
