// The onnxruntime core beyond the reference checks of tf.test.ts: the same bits on one thread or several, exact
// resume from its state, and AuxK on dead latents across blocks (neighbour search: test/data/neighbours.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createOnnxCore } from '../../src/backend/onnx.js';
import type { CoreState, StepHyper } from '../../src/model.js';
import { Rng } from '../../src/rng.js';
import { randomCoreState } from '../support/synthetic.js';

const d = 12;
const n = 40;
const groups = 3;
const neighbours = 4;
const rows = groups * (1 + neighbours);

const hyper: StepHyper = {
  dModel: d,
  nLatents: n,
  k: 4,
  mseScale: 2.5,
  queryWeight: 3,
  kldWeight: 0.5,
  temperature: 0.7,
  auxK: 6,
  auxCoef: 1 / 32,
  auxScale: 0.8,
  // Latents that miss two batches are dead, so AuxK runs from the third step on.
  deadAfterRows: 2 * rows,
  unitNormDecoder: true,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
};

function fixture(): { state: CoreState; batches: Float32Array[] } {
  const rng = new Rng(21);
  const state = randomCoreState(rng, d, n, { wEnc: 0.5, bEnc: 0.05, bDec: 0.1 });
  const batches = Array.from({ length: 6 }, () =>
    Float32Array.from({ length: rows * d }, () => rng.normal()),
  );
  return { state, batches };
}

async function train(
  state: CoreState,
  batches: Float32Array[],
  options: { threads: number; chunkLatents: number; kernels?: boolean },
): Promise<{ state: CoreState; losses: number[] }> {
  const core = await createOnnxCore(hyper, state, options);
  try {
    const losses: number[] = [];
    for (const x of batches) losses.push((await core.step({ x, groups, neighbours }, 1e-2)).auxk);
    return { state: await core.readState(), losses };
  } finally {
    core.dispose();
  }
}

function assertSameState(actual: CoreState, expected: CoreState, what: string): void {
  for (const part of ['params', 'adamM', 'adamV'] as const) {
    for (const key of ['wEnc', 'bEnc', 'wDecT', 'bDec'] as const) {
      assert.deepEqual(actual[part][key], expected[part][key], `${what}: ${part}.${key} differs`);
    }
  }
  assert.equal(actual.adamStep, expected.adamStep);
  assert.deepEqual(actual.sinceFired, expected.sinceFired, `${what}: sinceFired differs`);
}

describe('onnx core', () => {
  it('gives the same bits on one thread and on three threads over latent blocks', async () => {
    const { state, batches } = fixture();
    const one = await train(state, batches, { threads: 1, chunkLatents: 8 });
    const three = await train(state, batches, { threads: 3, chunkLatents: 8 });
    assert.ok(
      one.losses.some((auxk) => auxk > 0),
      'some steps run AuxK on dead latents',
    );
    assertSameState(three.state, one.state, 'three threads vs one');
  });

  it('runs its rows as WebAssembly SIMD kernels or plain loops to the same weights within float32 rounding', async () => {
    const { state, batches } = fixture();
    const simd = await train(state, batches.slice(0, 2), { threads: 2, chunkLatents: 8 });
    const plain = await train(state, batches.slice(0, 2), { threads: 2, chunkLatents: 8, kernels: false });
    for (const key of ['wEnc', 'bEnc', 'wDecT', 'bDec'] as const) {
      const a = simd.state.params[key];
      const b = plain.state.params[key];
      let worst = 0;
      for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j]! - b[j]!));
      assert.ok(worst < 1e-5, `${key}: kernels and loops differ by ${worst}`);
    }
  });

  it('grows its memory for a batch larger than it first made room for', async () => {
    const { state } = fixture();
    const rng = new Rng(5);
    const rowsBig = 1500; // beyond the 1,024 rows allocated up front
    const x = Float32Array.from({ length: rowsBig * d }, () => rng.normal());
    const results: number[] = [];
    for (const kernels of [true, false]) {
      const core = await createOnnxCore(hyper, state, { threads: 2, chunkLatents: 8, kernels });
      try {
        results.push((await core.step({ x, groups: rowsBig, neighbours: 0 }, 1e-2)).mse);
        results.push((await core.evaluate({ x, groups: rowsBig, neighbours: 0 })).mse);
      } finally {
        core.dispose();
      }
    }
    assert.ok(
      Math.abs(results[0]! - results[2]!) <= 1e-6 * results[2]!,
      `step mse ${results[0]} vs ${results[2]}`,
    );
    assert.ok(
      Math.abs(results[1]! - results[3]!) <= 1e-5 * results[3]!,
      `evaluate mse ${results[1]} vs ${results[3]}`,
    );
  });

  it('resumes from its state to exactly the weights of an uninterrupted run', async () => {
    const { state, batches } = fixture();
    const straight = await train(state, batches, { threads: 2, chunkLatents: 8 });
    const first = await train(state, batches.slice(0, 3), { threads: 2, chunkLatents: 8 });
    const resumed = await train(first.state, batches.slice(3), { threads: 2, chunkLatents: 8 });
    assertSameState(resumed.state, straight.state, 'resumed vs straight');
  });

  it('refuses a disposed core and mis-sized state', async () => {
    const { state } = fixture();
    const core = await createOnnxCore(hyper, state, { threads: 2, chunkLatents: 8 });
    core.dispose();
    await assert.rejects(core.readState(), /disposed/);
    await assert.rejects(
      createOnnxCore({ ...hyper, nLatents: n + 1 }, state),
      /state array wEnc has 480 values, expected 492/,
    );
  });
});
