// Tests of the SAE runtime on random tiny SAEs (d=16, n=64, k=4) against the independent float64
// reference in test-support/reference.ts; float results agree within TOLERANCE (1e-5 relative).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { availableProviders } from '@steer/onnx';
import {
  loadSae,
  pursueLatents,
  SaeError,
  writeSae,
  type FeatureEdit,
  type SaeRuntime,
  type SaeWeights,
} from '../src/index.js';
import {
  assertCloseArrays,
  randomVectors,
  randomWeights,
  referenceDecode,
  referenceEdit,
  referenceEncode,
  referenceLatents,
  referenceResidual,
  unit,
} from '../test-support/reference.js';

const d = 16;
const n = 64;
const k = 4;

function hasCode(code: string, pattern?: RegExp) {
  return (error: unknown): boolean =>
    error instanceof SaeError &&
    error.code === code &&
    (pattern === undefined || pattern.test(error.message));
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

describe('SAE runtime', () => {
  let root: string;
  let weights: SaeWeights;
  let sae: SaeRuntime;
  let normalizedSae: SaeRuntime;
  const x = randomVectors(6, d, 11);
  const query = x.subarray(0, d);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'steer-sae-runtime-test-'));
    weights = randomWeights(d, n, 3);
    await writeSae(join(root, 'sae'), weights, {
      k,
      embedding: { model: 'tiny-model', dims: d, normalized: false },
    });
    await writeSae(join(root, 'normalized'), weights, {
      k,
      embedding: { model: 'tiny-unit', dims: d, normalized: true },
    });
    sae = await loadSae(join(root, 'sae'));
    normalizedSae = await loadSae(join(root, 'normalized'), { provider: 'auto' });
  });
  after(async () => {
    await sae.dispose();
    await normalizedSae.dispose();
    await rm(root, { recursive: true, force: true });
  });

  it('encodes a batch like the reference: top-k features sorted by value, ReLU values', async () => {
    const latents = await sae.encode(x, 6);
    assert.equal(latents.batch, 6);
    assert.equal(latents.k, k);
    for (let row = 0; row < 6; row++) {
      const ref = referenceEncode(weights, x.subarray(row * d, (row + 1) * d), k);
      assert.ok(ref.gap > 1e-3, 'fixture has no near-tie at the k-th latent');
      assert.deepEqual(
        [...latents.indices.subarray(row * k, (row + 1) * k)],
        ref.features,
        `row ${row} features`,
      );
      assertCloseArrays(latents.values.subarray(row * k, (row + 1) * k), ref.values, `row ${row} values`);
    }
  });

  it('applies ReLU after TopK: latents whose pre-activation is negative are 0', async () => {
    const shifted = query.slice();
    // An SAE whose encoder biases are all very negative: every pre-activation is < 0.
    const negative = { ...weights, b_enc: new Float32Array(n).fill(-1000) };
    const dir = join(root, 'negative');
    await writeSae(dir, negative, { k, embedding: { model: 'tiny-model', dims: d, normalized: false } });
    const runtime = await loadSae(dir);
    try {
      const latents = await runtime.encode(shifted, 1);
      assert.deepEqual([...latents.values], [0, 0, 0, 0]);
      assert.deepEqual([...latents.indices], referenceEncode(negative, shifted, k).features);
      assertCloseArrays(await runtime.decode(latents), weights.b_dec, 'decode of all-zero latents');
    } finally {
      await runtime.dispose();
    }
  });

  it('encodeDense scatters the top-k values into [batch, n]', async () => {
    const dense = await sae.encodeDense(x, 6);
    assert.equal(dense.length, 6 * n);
    for (let row = 0; row < 6; row++) {
      const ref = referenceLatents(weights, x.subarray(row * d, (row + 1) * d), k);
      const expected = Array.from({ length: n }, (_, i) => ref.get(i) ?? 0);
      assertCloseArrays(dense.subarray(row * n, (row + 1) * n), expected, `dense row ${row}`);
    }
  });

  it('decodes W_dec h + b_dec like the reference', async () => {
    const latents = await sae.encode(x, 6);
    const decoded = await sae.decode(latents);
    for (let row = 0; row < 6; row++) {
      const expected = referenceDecode(
        weights,
        referenceLatents(weights, x.subarray(row * d, (row + 1) * d), k),
      );
      assertCloseArrays(decoded.subarray(row * d, (row + 1) * d), expected, `decoded row ${row}`);
    }
  });

  it('encodeBatches equals encode, reporting progress per batch', async () => {
    const many = randomVectors(10, d, 5);
    const progress: Array<[number, number]> = [];
    const batched = await sae.encodeBatches(many, 10, {
      batchSize: 3,
      onProgress: (done, total) => progress.push([done, total]),
    });
    const whole = await sae.encode(many, 10);
    assert.deepEqual(progress, [
      [3, 10],
      [6, 10],
      [9, 10],
      [10, 10],
    ]);
    assert.equal(batched.batch, 10);
    assert.deepEqual([...batched.indices], [...whole.indices]);
    // NOTE: Gemm may pick another kernel for another batch size, so values agree within TOLERANCE, not bitwise.
    assertCloseArrays(batched.values, whole.values, 'batched values');
    const oneBatch = await sae.encodeBatches(many, 10);
    assert.ok(sameBits(oneBatch.values, whole.values), 'one batch of 10 is the same computation as encode');
    await assert.rejects(
      sae.encodeBatches(many, 10, { batchSize: 0 }),
      hasCode('invalid_input', /batchSize/),
    );
  });

  it('residual steering with no edits returns the input bit for bit (also when normalize defaults to true)', async () => {
    for (const runtime of [sae, normalizedSae]) {
      const { vector, latents } = await runtime.steer(query, []);
      assert.notEqual(vector, query);
      assert.ok(sameBits(vector, query));
      assert.deepEqual([...latents.indices], referenceEncode(weights, query, k).features);
    }
  });

  it("add / set / zero on active and inactive features match q + W_dec (h' - h)", async () => {
    const h = referenceLatents(weights, query, k);
    const [active, secondActive] = [...h.keys()];
    const inactive = [...Array(n).keys()].find((feature) => !h.has(feature))!;
    const cases: FeatureEdit[][] = [
      [{ feature: inactive, op: 'add', value: 1.5 }],
      [{ feature: active!, op: 'add', value: -0.25 }],
      [{ feature: active!, op: 'set', value: 3 }],
      [{ feature: inactive, op: 'set', value: 2 }],
      [{ feature: active!, op: 'zero' }],
      [{ feature: inactive, op: 'zero' }],
      [
        { feature: secondActive!, op: 'add', value: 1 },
        { feature: secondActive!, op: 'set', value: 0.5 },
        { feature: secondActive!, op: 'add', value: 2 },
        { feature: active!, op: 'zero' },
        { feature: inactive, op: 'add', value: 0.75 },
      ],
    ];
    for (const edits of cases) {
      const { vector, latents } = await sae.steer(query, edits);
      assertCloseArrays(
        vector,
        referenceResidual(weights, query, h, referenceEdit(h, edits)),
        JSON.stringify(edits),
      );
      assert.deepEqual([...latents.indices], [...h.keys()], 'latents are those of the unsteered query');
    }
    const { vector: untouched } = await sae.steer(query, [{ feature: inactive, op: 'zero' }]);
    assert.ok(sameBits(untouched, query), 'zeroing an inactive feature changes nothing');
  });

  it('the encoder-free add path gives the same vector and skips latents only when asked', async () => {
    const edits: FeatureEdit[] = [
      { feature: 5, op: 'add', value: 0.5 },
      { feature: 9, op: 'add', value: -1 },
      { feature: 5, op: 'add', value: 0.25 },
    ];
    const withLatents = await sae.steer(query, edits);
    const fast = await sae.steer(query, edits, { returnLatents: false });
    assert.ok(sameBits(fast.vector, withLatents.vector));
    assert.equal(fast.latents.k, 0);
    assert.equal(withLatents.latents.k, k);
    const needsEncoder = await sae.steer(query, [{ feature: 5, op: 'zero' }], { returnLatents: false });
    assert.equal(needsEncoder.latents.k, k, 'zero needs h, so latents come back anyway');
  });

  it("reconstructed mode returns decode(h') = W_dec h' + b_dec", async () => {
    const h = referenceLatents(weights, query, k);
    const [active] = [...h.keys()];
    for (const edits of [
      [],
      [
        { feature: active!, op: 'zero' },
        { feature: 60, op: 'add', value: 2 },
      ],
    ] as FeatureEdit[][]) {
      const { vector } = await sae.steer(query, edits, { mode: 'reconstructed' });
      assertCloseArrays(
        vector,
        referenceDecode(weights, referenceEdit(h, edits)),
        `reconstructed ${JSON.stringify(edits)}`,
      );
    }
  });

  it('codes the query by pursuit when asked: edits read and reconstructed decodes the pursued latents', async () => {
    const decoder = { W_dec: weights.W_dec, b_dec: weights.b_dec, dModel: d, nLatents: n };
    const pursued = pursueLatents(decoder, query, 1, k);
    const h = new Map<number, number>();
    for (let t = 0; t < k; t++) if (pursued.values[t]! !== 0) h.set(pursued.indices[t]!, pursued.values[t]!);
    const [strongest] = [...h.keys()];
    for (const edits of [
      [],
      [
        { feature: strongest!, op: 'zero' },
        { feature: 60, op: 'add', value: 2 },
      ],
    ] as FeatureEdit[][]) {
      const steered = await sae.steer(query, edits, { mode: 'reconstructed', coding: 'pursuit' });
      assertCloseArrays(
        steered.vector,
        referenceDecode(weights, referenceEdit(h, edits)),
        `reconstructed by pursuit ${JSON.stringify(edits)}`,
      );
      assert.deepEqual([...steered.latents.indices], [...pursued.indices], 'the pursued latents come back');
    }
    const residual = await sae.steer(query, [{ feature: strongest!, op: 'zero' }], { coding: 'pursuit' });
    assertCloseArrays(
      residual.vector,
      referenceResidual(weights, query, h, referenceEdit(h, [{ feature: strongest!, op: 'zero' }])),
      'residual zero reads the pursued activation',
    );
    const squaredError = (v: Float32Array) => v.reduce((sum, value, i) => sum + (value - query[i]!) ** 2, 0);
    const byEncoder = await sae.steer(query, [], { mode: 'reconstructed' });
    const byPursuit = await sae.steer(query, [], { mode: 'reconstructed', coding: 'pursuit' });
    assert.ok(
      squaredError(byPursuit.vector) < squaredError(byEncoder.vector),
      'pursuit reconstructs the query more closely than the encoder',
    );
    await assert.rejects(
      sae.steer(query, [], { coding: 'lasso' as never }),
      hasCode('invalid_input', /query coding "lasso" is unknown; use "encoder" or "pursuit"/),
    );
  });

  it('normalize rescales to unit L2 norm; its default follows manifest.embedding.normalized', async () => {
    const h = referenceLatents(weights, query, k);
    const edits: FeatureEdit[] = [{ feature: 7, op: 'add', value: 3 }];
    const expected = referenceResidual(weights, query, h, referenceEdit(h, edits));
    const explicit = await sae.steer(query, edits, { normalize: true });
    assertCloseArrays(explicit.vector, unit(expected), 'explicit normalize');
    const byDefault = await normalizedSae.steer(query, edits);
    assertCloseArrays(byDefault.vector, unit(expected), 'normalized by default');
    const raw = await normalizedSae.steer(query, edits, { normalize: false });
    assertCloseArrays(raw.vector, expected, 'normalize: false');
    const reconstructed = await sae.steer(query, [], { mode: 'reconstructed', normalize: true });
    assertCloseArrays(reconstructed.vector, unit(referenceDecode(weights, h)), 'normalized reconstruction');
  });

  it('refuses a vector of the wrong size, naming the model and the fix', async () => {
    const wrong = new Float32Array(15);
    const pattern =
      /query vector has 15 dims but the SAE expects 16 \(trained on tiny-model\); use the SAE trained for this model/;
    await assert.rejects(sae.steer(wrong, []), hasCode('dims_mismatch', pattern));
    await assert.rejects(sae.encode(wrong, 1), hasCode('dims_mismatch', pattern));
    await assert.rejects(sae.encode(new Float32Array(33), 2), hasCode('dims_mismatch', /2 × 16 = 32/));
    await assert.rejects(sae.encode(x, 1.5), hasCode('invalid_input', /batch/));
  });

  it('refuses NaN and infinite input', async () => {
    const bad = query.slice();
    bad[3] = Number.NaN;
    await assert.rejects(sae.encode(bad, 1), hasCode('invalid_input', /NaN at vector 0, dim 3/));
    await assert.rejects(sae.steer(bad, []), hasCode('invalid_input', /NaN/));
    await assert.rejects(
      sae.steer(query, [{ feature: 1, op: 'add', value: Number.POSITIVE_INFINITY }]),
      hasCode('invalid_input', /finite/),
    );
  });

  it('refuses feature ids outside 0..n-1', async () => {
    for (const feature of [64, -1, 2.5]) {
      await assert.rejects(
        sae.steer(query, [{ feature, op: 'add', value: 1 }]),
        hasCode('feature_out_of_range', /features 0\.\.63/),
      );
      assert.throws(() => sae.decoderDirection(feature), hasCode('feature_out_of_range'));
    }
    await assert.rejects(
      sae.decode({ indices: new Int32Array([64]), values: new Float32Array([1]), batch: 1, k: 1 }),
      hasCode('feature_out_of_range'),
    );
    await assert.rejects(
      sae.decode({ indices: new Int32Array([1]), values: new Float32Array(2), batch: 1, k: 1 }),
      hasCode('invalid_input'),
    );
    const unknownOp = { feature: 1, op: 'scale', value: 2 } as unknown as FeatureEdit; // as from untyped callers
    await assert.rejects(sae.steer(query, [unknownOp]), hasCode('invalid_input', /"scale"/));
  });

  it('decoderDirection returns column f of W_dec', () => {
    const direction = sae.decoderDirection(17);
    assert.deepEqual(
      [...direction],
      Array.from({ length: d }, (_, j) => weights.W_dec[j * n + 17]!),
    );
  });

  it('refuses a zero-norm result instead of normalizing it', async () => {
    const zeroDecoder = { ...weights, b_dec: new Float32Array(d), W_dec: new Float32Array(d * n) };
    const dir = join(root, 'zero-decoder');
    await writeSae(dir, zeroDecoder, { k, embedding: { model: 'tiny-model', dims: d, normalized: true } });
    const runtime = await loadSae(dir);
    try {
      await assert.rejects(
        runtime.steer(query, [], { mode: 'reconstructed' }),
        hasCode('zero_vector', /normalize: false/),
      );
    } finally {
      await runtime.dispose();
    }
  });

  it('keeps its encoder graph beside the weights and falls back to an in-memory graph when it cannot', async () => {
    const entries = await readdir(join(root, 'sae'));
    assert.equal(entries.filter((name) => name.startsWith('.steer-encoder-')).length, 1);
    const dir = join(root, 'blocked');
    const manifest = await writeSae(dir, weights, {
      k,
      embedding: { model: 'tiny-model', dims: d, normalized: false },
    });
    // A folder squatting on the graph's file name makes the write fail, as a read-only folder would.
    await mkdir(join(dir, `.steer-encoder-${manifest.id}-k${k}.onnx`, 'occupied'), { recursive: true });
    const runtime = await loadSae(dir);
    try {
      const latents = await runtime.encode(x, 6);
      const expected = await sae.encode(x, 6);
      assert.deepEqual([...latents.indices], [...expected.indices]);
      assertCloseArrays(latents.values, expected.values, 'inline-graph values');
    } finally {
      await runtime.dispose();
    }
  });

  it('encodes the same with the encoder weights pre-packed', async () => {
    const runtime = await loadSae(join(root, 'sae'), {
      prepackEncoder: true,
      intraOpThreads: 1,
      verifyHash: false,
    });
    try {
      const latents = await runtime.encode(x, 6);
      const expected = await sae.encode(x, 6);
      assert.deepEqual([...latents.indices], [...expected.indices]);
      assertCloseArrays(latents.values, expected.values, 'pre-packed values');
    } finally {
      await runtime.dispose();
    }
  });

  it('chooses providers: auto is silent, webgpu without an adapter falls back to cpu with a warning', async () => {
    const hasWebgpu = (await availableProviders()).includes('webgpu');
    assert.equal(normalizedSae.provider, hasWebgpu ? 'webgpu' : 'cpu');
    const warnings: string[] = [];
    const listener = (warning: Error): void => void warnings.push(warning.message);
    process.on('warning', listener);
    try {
      const runtime = await loadSae(join(root, 'sae'), { provider: 'webgpu', verifyHash: false });
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(runtime.provider, hasWebgpu ? 'webgpu' : 'cpu');
      if (!hasWebgpu)
        assert.ok(
          warnings.some((message) => /webgpu.*running the SAE encoder on the CPU instead/.test(message)),
          warnings.join('\n'),
        );
      await runtime.dispose();
    } finally {
      process.off('warning', listener);
    }
    const unknownProvider = 'tpu' as unknown as 'cpu'; // as from untyped callers
    await assert.rejects(
      loadSae(join(root, 'sae'), { provider: unknownProvider }),
      hasCode('invalid_input', /"tpu"/),
    );
  });

  it('refuses use after dispose and a changed weights file', async () => {
    const runtime = await loadSae(join(root, 'sae'));
    await runtime.dispose();
    await assert.rejects(runtime.encode(query, 1), hasCode('runtime_disposed', /load it again/));
    await assert.rejects(loadSae(join(root, 'missing')), hasCode('sae_not_found'));
  });
});
