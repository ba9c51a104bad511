// Reproducibility of the experiments: a small Table 1 trained from nothing twice gives bit-identical SAEs and the
// same metrics; the SAE cache is reused only for the same plan, vectors and trainer code, and retrains otherwise.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Embedder } from '@steer/embed';
import { machineInfo } from '@steer/onnx';
import { openLanceBackend } from '@steer/search';
import type { EvalDataset } from '../../src/datasets.js';
import { prepareTrainer, trainOrReuseSae } from '../../src/experiments/shared.js';
import { runTable1, type Table1Result } from '../../src/experiments/table1.js';

const DIMS = 16;
const TOPICS = ['river fishing boat', 'bank loan interest', 'mountain hiking trail', 'coffee bean roast'];

/** A deterministic hashing bag-of-words embedder (unit vectors), so the test needs no model files. */
const hashingEmbedder: Embedder = {
  id: 'test-hash-16',
  version: 'v1',
  dims: DIMS,
  normalized: true,
  async embed(texts) {
    const out = new Float32Array(texts.length * DIMS);
    texts.forEach((text, i) => {
      for (const word of text.toLowerCase().split(/\W+/).filter(Boolean)) {
        let h = 2166136261;
        for (const c of word) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
        out[i * DIMS + (h % DIMS)]! += 1;
        out[i * DIMS + ((h >>> 8) % DIMS)]! += 0.5;
      }
      let norm = 0;
      for (let j = 0; j < DIMS; j++) norm += out[i * DIMS + j]! ** 2;
      for (let j = 0; j < DIMS; j++) out[i * DIMS + j]! /= Math.sqrt(norm) || 1;
    });
    return out;
  },
  async dispose() {},
};

/** 4,000+ documents skip lead sentences; this corpus is small, so the plan also trains on its lead sentences. */
function dataset(): EvalDataset {
  const documents = Array.from({ length: 48 }, (_, i) => ({
    id: `d${i}`,
    title: `${TOPICS[i % 4]} ${i}`,
    text: `${TOPICS[i % 4]} notes number ${i} about ${TOPICS[(i + 1) % 4].split(' ')[0]} and ${i % 7}`,
  }));
  const queries = TOPICS.map((t, q) => ({ id: `q${q}`, text: t }));
  const qrels = new Map(
    TOPICS.map(
      (_, q) =>
        [
          `q${q}`,
          new Map([
            [`d${q}`, 1],
            [`d${q + 4}`, 1],
          ]),
        ] as const,
    ),
  );
  return {
    name: 'toy',
    layout: 'beir',
    documents,
    queries: [...queries, { id: 'unjudged', text: 'coffee by the river' }],
    qrels,
    minRelevantGrade: 1,
    relevanceNote: 'relevant = grade >= 1',
  };
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'steer-reproducible-'));
  await prepareTrainer();
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function runFromNothing(name: string): Promise<Table1Result> {
  const backend = await openLanceBackend(join(dir, name, 'lance'));
  return runTable1({
    datasets: [dataset()],
    embedder: hashingEmbedder,
    backend,
    cacheDir: join(dir, name),
    ks: [4],
    seeds: [0, 1],
    nLatents: 32,
    epochs: 3,
  });
}

test('a small Table 1 trained twice from nothing gives bit-identical SAE ids and identical metrics', async () => {
  const first = await runFromNothing('first');
  // The default (onnx) backend gives the same bits on any number of threads.
  await prepareTrainer({ threads: 1 });
  const second = await runFromNothing('second').finally(() => prepareTrainer());
  assert.ok(
    first.entries.every((e) => e.key.backend === 'onnx'),
    'experiments train on onnx by default',
  );
  assert.equal(first.entries.length, 2);
  assert.ok(first.entries.every((e) => e.trained) && second.entries.every((e) => e.trained));
  assert.deepEqual(
    second.entries.map((e) => e.result.saeId),
    first.entries.map((e) => e.result.saeId),
  );
  assert.notEqual(
    first.entries[0]!.result.saeId,
    first.entries[1]!.result.saeId,
    'seeds give different SAEs',
  );
  assert.deepEqual(
    second.entries.map((e) => e.result.rows),
    first.entries.map((e) => e.result.rows),
  );
  assert.deepEqual(
    second.entries.map((e) => e.headroom),
    first.entries.map((e) => e.headroom),
  );
  assert.deepEqual(
    second.entries.map((e) => e.alternatives),
    first.entries.map((e) => e.alternatives),
    'the rules not adopted measure the same twice',
  );
  assert.ok(
    first.entries.every((e) => (e.alternatives?.length ?? 0) >= 9),
    'Table 1 measures the rules not adopted on every SAE',
  );
  for (const e of first.entries) {
    const h = e.headroom!;
    const reconstructed = e.result.rows.find((r) => r.method === 'reconstructed')!;
    assert.equal(h.shares[0]!.share, 1);
    assert.deepEqual(
      h.shares[0]!.mrr10,
      reconstructed.perQuery.mrr10,
      'error share 1 is the reconstructed row',
    );
    assert.ok(h.nmse.documents > 0 && Number.isFinite(h.nmse.queries), 'both NMSEs are measured');
    assert.ok(
      h.shares.at(-1)!.overlap10 >= h.shares[0]!.overlap10,
      'a smaller error follows the original ranking at least as closely here',
    );
  }
  assert.equal(first.entries[0]!.result.allQueries, 5, 'the overlap covers the unjudged query too');
  assert.equal(first.entries[0]!.result.queries, 4);
  const manifest = JSON.parse(await readFile(join(first.entries[0]!.saeDir, 'manifest.json'), 'utf8')) as {
    embedding: { model: string; version?: string };
    training: Record<string, unknown>;
  };
  assert.deepEqual(manifest.embedding.version, 'v1');
  assert.deepEqual(manifest.training.cacheKey, first.entries[0]!.key);
  assert.match((manifest.training.code as { trainer: string }).trainer, /^[0-9a-f]{16}$/);
  assert.match((manifest.training.data as { sha256: string }).sha256, /^[0-9a-f]{64}$/);
  assert.equal(manifest.training.seed, 0);
  assert.deepEqual(manifest.training.machine, machineInfo(), 'the SAE records the machine that trained it');
});

test('the SAE cache is reused for the same key, and retrained when the vectors or the code differ', async () => {
  const cacheDir = join(dir, 'cache');
  const docs = Float32Array.from({ length: 40 * DIMS }, (_, i) => Math.sin(i * 0.37));
  const embedding = { model: 'test-hash-16', version: 'v1', dims: DIMS, normalized: false };
  const plan = {
    nLatents: 16,
    k: 2,
    epochs: 2,
    loss: 'scale-free' as const,
    kldWeight: 0.1,
    neighbours: 4,
    seed: 3,
    leadQueries: false,
  };
  const trained = await trainOrReuseSae(cacheDir, 'toy', docs, embedding, plan);
  assert.equal(trained.trained, true);
  const reused = await trainOrReuseSae(cacheDir, 'toy', docs, embedding, plan);
  assert.equal(reused.trained, false);
  assert.equal(reused.manifest.id, trained.manifest.id);

  const otherVectors = Float32Array.from(docs, (v, i) => (i === 0 ? v + 0.5 : v));
  const retrained = await trainOrReuseSae(cacheDir, 'toy', otherVectors, embedding, plan);
  assert.equal(retrained.trained, true, 'other vectors are another cache entry');
  assert.notEqual(retrained.dir, trained.dir);

  // An entry whose manifest says it came from other trainer code is trained again, never reused.
  const manifestPath = join(trained.dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
    training: { cacheKey: { trainerCode: string } };
  };
  manifest.training.cacheKey.trainerCode = '0000000000000000';
  await writeFile(manifestPath, JSON.stringify(manifest));
  const again = await trainOrReuseSae(cacheDir, 'toy', docs, embedding, plan);
  assert.equal(again.trained, true);
  assert.equal(again.manifest.id, trained.manifest.id, 'retraining from nothing gives the same SAE');
  assert.deepEqual(again.manifest.training?.cacheKey, trained.key);
});
