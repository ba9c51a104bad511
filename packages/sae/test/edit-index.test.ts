// The edit index for fast set/zero edits: its decisions agree with the full encoder (active or not exactly, the
// activation within float32 rounding: its product runs over other rows than the encoder's, which can change the last
// bit), on structured and on random weights; steering through it equals steering through the encoder; it is cached
// beside the SAE and rebuilt when damaged, and it stays out of the way when it cannot help.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildModel } from '@steer/onnx';
import { readSaeHeader } from '../src/artifact.js';
import { EditIndex } from '../src/edit-index.js';
import { loadSae, readSaeManifest, writeSae, type FeatureEdit, type SaeManifest } from '../src/index.js';

const d = 32;
const n = 4096;
const k = 16;
const rank = 6;
/** Relative difference allowed between the sketch's exact rescoring and the encoder (a few float32 ulps). */
const ROUNDING = 1e-6;

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, what);
  let scale = 0;
  for (let j = 0; j < expected.length; j++) scale = Math.max(scale, Math.abs(expected[j]!));
  for (let j = 0; j < expected.length; j++) {
    assert.ok(
      Math.abs(actual[j]! - expected[j]!) <= ROUNDING * scale,
      `${what}: [${j}] ${actual[j]} vs ${expected[j]}`,
    );
  }
}

/** xorshift32 in [0, 1). */
function generator(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

/**
 * A trained-like SAE: unit decoder directions that mostly lie in a `rank`-dimensional subspace (as embeddings' do),
 * the encoder tied to the decoder (the trainer's start, which TopK SAEs stay near), and queries that are sparse
 * mixes of a few features.
 */
function structuredSae(): {
  W_enc: Float32Array;
  b_enc: Float32Array;
  W_dec: Float32Array;
  b_dec: Float32Array;
} {
  const random = generator(7);
  const normal = (): number => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const basis = Float64Array.from({ length: d * rank }, normal);
  const W_enc = new Float32Array(n * d);
  const W_dec = new Float32Array(d * n);
  for (let i = 0; i < n; i++) {
    const row = new Float64Array(d);
    for (let r = 0; r < rank; r++) {
      const g = normal() / (r + 1);
      for (let c = 0; c < d; c++) row[c]! += g * basis[c * rank + r]!;
    }
    for (let c = 0; c < d; c++) row[c]! += 0.05 * normal();
    const norm = Math.hypot(...row);
    for (let c = 0; c < d; c++) {
      W_enc[i * d + c] = row[c]! / norm;
      W_dec[c * n + i] = row[c]! / norm;
    }
  }
  const b_enc = Float32Array.from({ length: n }, () => 0.01 * normal());
  const b_dec = Float32Array.from({ length: d }, () => 0.01 * normal());
  return { W_enc, b_enc, W_dec, b_dec };
}

function queries(sae: ReturnType<typeof structuredSae>, count: number): Float32Array[] {
  const random = generator(99);
  return Array.from({ length: count }, () => {
    const x = Float32Array.from(sae.b_dec);
    for (let t = 0; t < 4; t++) {
      const feature = Math.floor(random() * n);
      const a = 1 + random();
      for (let c = 0; c < d; c++) x[c]! += a * sae.W_dec[c * n + feature]!;
    }
    return x;
  });
}

/** An SAE with independent uniform weights (no dominant directions: the hardest case for any shortcut). */
function randomSae(): ReturnType<typeof structuredSae> {
  const random = generator(3);
  const uniform = (length: number, scale: number): Float32Array =>
    Float32Array.from({ length }, () => (random() * 2 - 1) * scale);
  return {
    W_enc: uniform(n * d, 1 / Math.sqrt(d)),
    b_enc: uniform(n, 0.01),
    W_dec: uniform(d * n, 1 / Math.sqrt(d)),
    b_dec: uniform(d, 0.01),
  };
}

describe('edit index', () => {
  let root: string;
  let dir: string;
  let manifest: SaeManifest;
  const weights = structuredSae();
  const testQueries = queries(weights, 24);
  const randomWeights = randomSae();
  const randomQueries = Array.from({ length: 24 }, (_, q) => {
    const random = generator(500 + q);
    return Float32Array.from({ length: d }, () => random() * 2 - 1);
  });
  const setups: Record<
    'structured' | 'random',
    { dir: string; manifest: SaeManifest; weights: typeof weights; queries: Float32Array[] }
  > = {} as never;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'steer-edit-sketch-'));
    dir = join(root, 'sae');
    manifest = await writeSae(
      dir,
      { ...weights, dModel: d, nLatents: n },
      { k, embedding: { model: 'structured-test', dims: d, normalized: false } },
    );
    setups.structured = { dir, manifest, weights, queries: testQueries };
    const randomDir = join(root, 'random');
    setups.random = {
      dir: randomDir,
      manifest: await writeSae(
        randomDir,
        { ...randomWeights, dModel: d, nLatents: n },
        { k, embedding: { model: 'random-test', dims: d, normalized: false } },
      ),
      weights: randomWeights,
      queries: randomQueries,
    };
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  for (const kind of ['structured', 'random'] as const) {
    it(`decides active and inactive features exactly as the full encoder does (${kind} weights)`, async () => {
      const setup = setups[kind];
      const header = await readSaeHeader(setup.dir, setup.manifest);
      const index = await EditIndex.open(setup.dir, setup.manifest, header, setup.weights.b_dec, {
        probes: 256,
      });
      assert.ok(index !== undefined, 'the index is built in a writable folder');
      const sae = await loadSae(setup.dir, { editIndex: false });
      const counts = { active: 0, inactive: 0, undecided: 0, scanned: 0 };
      try {
        for (const [q, x] of setup.queries.entries()) {
          const exact = await sae.encode(x, 1);
          const h = new Map<number, number>();
          for (let t = 0; t < k; t++) h.set(exact.indices[t]!, exact.values[t]!);
          const features = [exact.indices[0]!, exact.indices[k - 1]!, (q * 7919) % n, exact.indices[k / 2]!];
          const found = await index!.activations(x, features);
          if (found.stage === 2) counts.scanned++;
          features.forEach((feature, j) => {
            if (!found.decided[j]) {
              counts.undecided++;
              return;
            }
            const want = Math.max(0, h.get(feature) ?? 0);
            assert.equal(found.values[j]! > 0, want > 0, `query ${q} feature ${feature}: active or not`);
            assertClose([found.values[j]!], [want], `query ${q} feature ${feature}`);
            if (want > 0) counts.active++;
            else counts.inactive++;
          });
        }
      } finally {
        await sae.dispose();
        await index!.dispose();
      }
      assert.ok(counts.scanned > 0, 'the int8 scan ran');
      assert.equal(counts.undecided, 0, 'nothing tied, so every edit is decided');
      assert.ok(counts.active >= 3 * 24 && counts.inactive >= 12, JSON.stringify(counts));
    });
  }

  it('steers set and zero edits as the full encoder does, and caches the index', async () => {
    const fast = await loadSae(dir);
    const exact = await loadSae(dir, { editIndex: false });
    try {
      for (const [q, x] of testQueries.entries()) {
        const top = (await exact.encode(x, 1)).indices;
        const edits: FeatureEdit[] = [
          { feature: top[0]!, op: 'zero' },
          { feature: top[3]!, op: 'set', value: 0.5 },
          { feature: (q * 104729) % n, op: 'set', value: 1.5 },
          { feature: (q * 7919) % n, op: 'add', value: 0.25 },
        ];
        const viaSketch = await fast.steer(x, edits, { returnLatents: false });
        const viaEncoder = await exact.steer(x, edits, { returnLatents: false });
        assertClose(viaSketch.vector, viaEncoder.vector, `query ${q}`);
        assert.equal(viaSketch.latents.k, 0);
      }
    } finally {
      await fast.dispose();
      await exact.dispose();
    }
    // The defaults' files (the first test built others, with its own sizes).
    const files = (await readdir(dir)).filter((f) => /-edits-v2-(probe-p1024|scan-q64)\.onnx$/.test(f));
    assert.equal(files.length, 2, `probe and sketch models beside the SAE: ${files.join(', ')}`);
    const before = await Promise.all(files.map((f) => stat(join(dir, f))));
    const again = await loadSae(dir);
    try {
      await again.steer(testQueries[0]!, [{ feature: 1, op: 'zero' }], { returnLatents: false });
    } finally {
      await again.dispose();
    }
    const afterStat = await Promise.all(files.map((f) => stat(join(dir, f))));
    assert.deepEqual(
      afterStat.map((s) => s.mtimeMs),
      before.map((s) => s.mtimeMs),
      'a second load reuses the cached sketch',
    );
  });

  it('steers a query it encoded a moment ago from the remembered latents, exactly as the encoder would', async () => {
    const sae = await loadSae(dir, { editIndex: false });
    try {
      const x = testQueries[5]!;
      const encoded = await sae.encode(x, 1);
      const edits: FeatureEdit[] = [{ feature: encoded.indices[0]!, op: 'zero' }];
      const recalled = await sae.steer(x, edits, { returnLatents: false });
      const exact = await sae.steer(x, edits, { returnLatents: false, exactEdits: true });
      assert.deepEqual(recalled.vector, exact.vector);
      assert.deepEqual(recalled.latents.indices, encoded.indices);
      // The remembered latents are copies: changing a result does not change the next one.
      recalled.latents.values.fill(0);
      assert.deepEqual((await sae.encode(x, 1)).values, encoded.values);
    } finally {
      await sae.dispose();
    }
  });

  it('rebuilds a damaged index file', async () => {
    const files = (await readdir(dir)).filter((f) => f.includes('-probe-p'));
    await writeFile(join(dir, files[0]!), 'not an onnx model');
    const header = await readSaeHeader(dir, await readSaeManifest(dir));
    const index = await EditIndex.open(dir, manifest, header, weights.b_dec);
    assert.ok(index !== undefined);
    try {
      const found = await index!.activations(testQueries[0]!, [0]);
      assert.equal(found.decided.length, 1);
    } finally {
      await index!.dispose();
    }
  });

  it('falls back to the encoder, with one warning, when its model fails at run time', async () => {
    const scanFile = (await readdir(dir)).find((f) => /-edits-v2-scan-q64\.onnx$/.test(f))!;
    // A valid model with other inputs: it loads, then fails on the first query.
    await writeFile(
      join(dir, scanFile),
      buildModel({
        inputs: [{ name: 'y', type: 'float32', shape: [1] }],
        outputs: [{ name: 'z', type: 'float32', shape: [1] }],
        nodes: [{ op: 'Relu', inputs: ['y'], outputs: ['z'] }],
      }),
    );
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.message);
    process.on('warning', onWarning);
    const fast = await loadSae(dir);
    const exact = await loadSae(dir, { editIndex: false });
    try {
      for (const x of [setups.random.queries[0]!, testQueries[1]!, testQueries[2]!]) {
        const top = (await exact.encode(x, 1)).indices[0]!;
        const edits: FeatureEdit[] = [{ feature: top, op: 'zero' }];
        const viaIndex = await fast.steer(x, edits, { returnLatents: false });
        const viaEncoder = await exact.steer(x, edits, { returnLatents: false, exactEdits: true });
        assertClose(viaIndex.vector, viaEncoder.vector, 'fallback');
      }
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(warnings.filter((w) => /edit index .* failed/.test(w)).length, 1, warnings.join('; '));
    } finally {
      process.off('warning', onWarning);
      await fast.dispose();
      await exact.dispose();
      await rm(join(dir, scanFile), { force: true });
    }
  });

  it('is not built for an SAE small enough that the encoder is as cheap', async () => {
    const small = join(root, 'small');
    const m = await writeSae(
      small,
      {
        W_enc: weights.W_enc.slice(0, 512 * d),
        b_enc: weights.b_enc.slice(0, 512),
        W_dec: Float32Array.from(
          { length: d * 512 },
          (_, j) => weights.W_dec[Math.floor(j / 512) * n + (j % 512)]!,
        ),
        b_dec: weights.b_dec,
        dModel: d,
        nLatents: 512,
      },
      { k, embedding: { model: 'structured-test', dims: d, normalized: false } },
    );
    assert.equal(await EditIndex.open(small, m, await readSaeHeader(small, m), weights.b_dec), undefined);
  });
});
