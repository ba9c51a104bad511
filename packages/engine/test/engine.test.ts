// The steering pipeline on a tiny SAE, precomputed query vectors and a real LanceDB store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPrecomputedEmbeddings } from '@steer/embed';
import { loadSae, writeSae } from '@steer/sae';
import { openLanceBackend } from '@steer/search';
import type { SteerConfig } from '../src/config.js';
import { contributions, SteerEngine } from '../src/engine.js';
import { SteerQueryError } from '../src/types.js';

const d = 4;
const n = 6;
let engine: SteerEngine;
let parts: ConstructorParameters<typeof SteerEngine>[0];

/** Unit vector along axis `i` of a d-dimensional space. */
function axis(i: number): number[] {
  return Array.from({ length: d }, (_, j) => (j === i ? 1 : 0));
}

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'steer-engine-'));
  // An SAE whose latent i (i < 4) reads and writes axis i; latents 4 and 5 mix axes.
  const W_enc = new Float32Array(n * d);
  const W_dec = new Float32Array(d * n);
  for (let i = 0; i < d; i++) {
    W_enc[i * d + i] = 1;
    W_dec[i * n + i] = 1;
  }
  for (const [latent, axes] of [
    [4, [0, 1]],
    [5, [2, 3]],
  ] as const) {
    for (const a of axes) {
      W_enc[latent * d + a] = Math.SQRT1_2;
      W_dec[a * n + latent] = Math.SQRT1_2;
    }
  }
  const sae = join(dir, 'sae');
  await writeSae(
    sae,
    { W_enc, b_enc: new Float32Array(n), W_dec, b_dec: new Float32Array(d), dModel: d, nLatents: n },
    { k: 2, embedding: { model: 'tiny-4', dims: d, normalized: true } },
  );
  const vectors = join(dir, 'vectors.jsonl');
  const rows = [
    { id: 'q1', text: 'first axis', vector: axis(0) },
    { id: 'q2', text: 'second axis', vector: axis(1) },
    { id: 'q3', text: 'slanted', vector: [0.6, 0.8, 0, 0] },
  ];
  await writeFile(vectors, rows.map((r) => JSON.stringify(r)).join('\n'));
  const embedder = (await loadPrecomputedEmbeddings(vectors)).embedderFor('tiny-4');
  const backend = await openLanceBackend(join(dir, 'data'));
  await backend.createIndex('docs', { dims: d, similarity: 'dot_product', embeddingModel: 'tiny-4' });
  await backend.addDocuments(
    'docs',
    [0, 1, 2, 3].map((i) => ({
      id: `d${i}`,
      text: `axis ${i}`,
      metadata: { axis: i },
      vector: Float32Array.from(axis(i)),
    })),
  );
  parts = { embedder, backend, sae: await loadSae(sae) };
  engine = new SteerEngine(parts);
});

after(() => engine.close());

test('a query without edits searches with the embedding itself, bit for bit', async () => {
  const resolved = await engine.resolve('"first axis" k=2');
  assert.deepEqual(Array.from(resolved.vector), axis(0));
  assert.equal(resolved.vector, resolved.baseVector);
  const { hits } = await engine.search('"first axis" k=2', { index: 'docs' });
  assert.equal(hits[0]!.id, 'd0');
});

test('an amplify edit adds the decoder direction (residual mode) and normalises for a unit-vector index', async () => {
  const resolved = await engine.resolve('"first axis" +f2*1');
  // q + 1 * W_dec[:, 2] = (1, 0, 1, 0), normalised.
  assert.deepEqual(
    Array.from(resolved.vector).map((x) => Number(x.toFixed(6))),
    [Math.SQRT1_2, 0, Math.SQRT1_2, 0].map((x) => Number(x.toFixed(6))),
  );
  const { hits, baseline } = await engine.search('"first axis" +f2*3 k=2', { index: 'docs', compare: true });
  assert.equal(hits[0]!.id, 'd2');
  assert.equal(baseline![0]!.id, 'd0');
});

test('steer=reconstructed pursues the query by default (code=auto); code=encoder and the config choose the encoder', async () => {
  const rounded = (v: Float32Array) => Array.from(v).map((x) => Number(x.toFixed(5)));
  // The encoder's top 2 are latents 4 (0.99) and 1 (0.8), whose decoding (0.7, 1.5, 0, 0) overshoots axis 1;
  // pursuit refits latents 4 and 1 to reproduce the query.
  const byEncoder = await engine.resolve('"slanted" -f3 steer=reconstructed code=encoder');
  assert.deepEqual(rounded(byEncoder.vector), [0.42289, 0.90618, 0, 0]);
  const byPursuit = await engine.resolve('"slanted" -f3 steer=reconstructed code=pursuit');
  assert.deepEqual(rounded(byPursuit.vector), [0.6, 0.8, 0, 0]);
  for (const query of ['"slanted" -f3 steer=reconstructed', '"slanted" -f3 steer=reconstructed code=auto']) {
    const resolved = await engine.resolve(query);
    assert.deepEqual(rounded(resolved.vector), [0.6, 0.8, 0, 0], `${query} pursues`);
    assert.deepEqual(resolved.steering, { mode: 'reconstructed', code: 'pursuit' }, 'and says so');
  }
  assert.deepEqual((await engine.resolve('"slanted" -f3')).steering, { mode: 'residual', code: 'encoder' });
  assert.equal((await engine.resolve('"slanted"')).steering, undefined, 'no steering, nothing to report');
  // Without edits too: steer=reconstructed searches with what the SAE keeps of the query.
  assert.deepEqual(
    rounded((await engine.resolve('"slanted" steer=reconstructed code=encoder')).vector),
    rounded(byEncoder.vector),
  );
  assert.deepEqual(rounded((await engine.resolve('"slanted" steer=reconstructed')).vector), [0.6, 0.8, 0, 0]);
  // Residual steering keeps the encoder under code=auto: `-f4` (zero) reads the encoder's activation of latent 4 (0.99).
  const setByEncoder = await engine.resolve('"slanted" -f4 code=encoder');
  assert.deepEqual(
    rounded((await engine.resolve('"slanted" -f4')).vector),
    rounded(setByEncoder.vector),
    'residual steering codes by the encoder under code=auto',
  );
  assert.notDeepEqual(
    rounded((await engine.resolve('"slanted" -f4 code=pursuit')).vector),
    rounded(setByEncoder.vector),
    'code=pursuit changes what a residual zero edit reads',
  );
  const withoutSae = new SteerEngine({ ...parts, sae: undefined });
  await assert.rejects(
    withoutSae.resolve('"slanted" steer=reconstructed'),
    /steer=reconstructed needs an SAE/,
  );
  assert.deepEqual(rounded((await withoutSae.resolve('"slanted"')).vector), [0.6, 0.8, 0, 0]);
  const removed = await engine.resolve('"slanted" -f4 steer=reconstructed code=pursuit');
  assert.deepEqual(rounded(removed.vector), [0, 1, 0, 0], 'without latent 4 only latent 1 is left');
  const configured = new SteerEngine(parts, { queryCode: 'encoder' } as SteerConfig);
  assert.deepEqual(
    rounded((await configured.resolve('"slanted" -f3 steer=reconstructed')).vector),
    [0.42289, 0.90618, 0, 0],
  );
  const overridden = await configured.resolve('"slanted" -f3 steer=reconstructed code=pursuit');
  assert.deepEqual(rounded(overridden.vector), [0.6, 0.8, 0, 0]);
  // A configured default steering mode resolves code=auto the same way as the query's own option.
  const reconstructing = new SteerEngine(parts, { steerMode: 'reconstructed' } as SteerConfig);
  assert.deepEqual(rounded((await reconstructing.resolve('"slanted" -f3')).vector), [0.6, 0.8, 0, 0]);
});

test('weighted texts are mixed and normalised', async () => {
  const resolved = await engine.resolve('"first axis" "second axis"^1');
  assert.deepEqual(
    Array.from(resolved.vector).map((x) => Number(x.toFixed(6))),
    [Math.SQRT1_2, Math.SQRT1_2, 0, 0].map((x) => Number(x.toFixed(6))),
  );
});

test('bad queries are SteerQueryErrors with diagnostics; sparse mode needs an index with latents', async () => {
  await assert.rejects(
    engine.resolve('"first axis" +f99*1'),
    (e: unknown) => e instanceof SteerQueryError && e.diagnostics.length > 0,
  );
  await assert.rejects(engine.resolve('"first axis" +f2*'), SteerQueryError);
  await assert.rejects(
    engine.search('"first axis" mode=sparse', { index: 'docs' }),
    /mode=sparse needs SAE latents/,
  );
});

test('contributions rank features shared by query and document by the product of activations', () => {
  const ranked = contributions(
    { indices: Int32Array.from([1, 4, 2]), values: Float32Array.from([0.9, 0.5, 0.1]) },
    { indices: Int32Array.from([2, 4]), values: Float32Array.from([0.8, 0.4]) },
  );
  assert.deepEqual(
    ranked.map((c) => [c.feature, Number(c.contribution.toFixed(4))]),
    [
      [4, 0.2],
      [2, 0.08],
    ],
  );
});

test('explain weighs document latents as the backend stores them for sparse and hybrid searches, raw for dense', async () => {
  // A backend that records unit-normalised latents (as Elasticsearch does after `steer index --latents`).
  const calls: string[] = [];
  const backend = Object.create(parts.backend, {
    latentNorm: {
      value: async (index: string) => {
        calls.push(index);
        return 'l2';
      },
    },
  }) as typeof parts.backend;
  const withNorm = new SteerEngine({ ...parts, backend });
  const hit = { id: 'd0', text: 'first axis', score: 1 };
  const query = Float32Array.from(axis(0));
  // The document "first axis" has latents 0 (1) and 4 (1/sqrt 2): raw contributions 1 and 0.5, norm sqrt(1.5).
  const [sparse] = await withNorm.explain(query, [hit], 5, { mode: 'sparse', index: 'docs' });
  assert.deepEqual(
    sparse!.features.map((f) => [f.feature, Number(f.contribution.toFixed(4)), f.documentNorm]),
    [
      [0, Number((1 / Math.sqrt(1.5)).toFixed(4)), 'l2'],
      [4, Number((0.5 / Math.sqrt(1.5)).toFixed(4)), 'l2'],
    ],
  );
  const [dense] = await withNorm.explain(query, [hit], 5, { mode: 'dense', index: 'docs' });
  assert.deepEqual(
    dense!.features.map((f) => [f.feature, Number(f.contribution.toFixed(4)), f.documentNorm]),
    [
      [0, 1, undefined],
      [4, 0.5, undefined],
    ],
  );
  assert.deepEqual(calls, ['docs']);
});
