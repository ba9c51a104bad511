// Checks one training step on the CPU cores (TF.js cpu and wasm, onnxruntime + worker threads) against the float64
// reference: every loss part, every gradient (main path, KL, AuxK), and the Adam update with the unit-norm decoder.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createTrainerCore, useBackend, type BackendName } from '../../src/backend/index.js';
import type { CoreState, StepHyper } from '../../src/model.js';
import { Rng } from '../../src/rng.js';
import {
  referenceAdamStep,
  referenceLoss,
  toDense,
  type Dense,
  type ReferenceHyper,
} from '../support/reference-sae.js';
import { randomCoreState } from '../support/synthetic.js';

const d = 6;
const n = 16;
const k = 3;
const groups = 2;
const neighbours = 3;
const rows = groups * (1 + neighbours);
const deadLatents = [0, 3, 5, 8, 9, 14];

const hyper: StepHyper = {
  dModel: d,
  nLatents: n,
  k,
  mseScale: 3.5,
  queryWeight: 2.5,
  kldWeight: 0.7,
  temperature: 0.5,
  auxK: 4,
  auxCoef: 1 / 32,
  auxScale: 0.6,
  deadAfterRows: 100,
  unitNormDecoder: true,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
};
const refHyper: ReferenceHyper = {
  d,
  n,
  k,
  mseScale: 3.5,
  queryWeight: 2.5,
  kldWeight: 0.7,
  temperature: 0.5,
  auxK: 4,
  auxCoef: 1 / 32,
  auxScale: 0.6,
};

function fixture(): { state: CoreState; x: Float32Array } {
  const rng = new Rng(7);
  const state = randomCoreState(rng, d, n, { wEnc: 0.8, bEnc: 0.1, bDec: 0.1 });
  for (const i of deadLatents) state.sinceFired[i] = 1000;
  return { state, x: Float32Array.from({ length: rows * d }, () => rng.normal()) };
}

/** max |a - b| / max |b|, the error relative to the tensor's scale */
function relError(actual: Float32Array, expected: Float64Array): number {
  let maxDiff = 0;
  let scale = 0;
  for (let j = 0; j < expected.length; j++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[j]! - expected[j]!));
    scale = Math.max(scale, Math.abs(expected[j]!));
  }
  return maxDiff / Math.max(scale, 1e-30);
}

const TOLERANCE = 1e-4; // float32 step vs float64 reference, relative to each tensor's largest entry

describe('reference gradients agree with finite differences (float64)', () => {
  it('matches central differences of the loss with the AuxK target held fixed', () => {
    const { state, x } = fixture();
    const p = toDense(state.params);
    const batch = { x, groups, neighbours };
    const base = referenceLoss(p, batch, refHyper, deadLatents);
    const rng = new Rng(3);
    for (const key of ['wEnc', 'bEnc', 'wDecT', 'bDec'] as const) {
      for (let trial = 0; trial < 6; trial++) {
        // Probe coordinates that matter: for encoder rows, an active latent's row.
        const j = rng.int(p[key].length);
        const h = 1e-6;
        const plus: Dense = { ...p, [key]: Float64Array.from(p[key]) };
        const minus: Dense = { ...p, [key]: Float64Array.from(p[key]) };
        plus[key][j] += h;
        minus[key][j] -= h;
        const lp = referenceLoss(plus, batch, refHyper, deadLatents, base.residual).loss;
        const lm = referenceLoss(minus, batch, refHyper, deadLatents, base.residual).loss;
        const numeric = (lp - lm) / (2 * h);
        assert.ok(
          Math.abs(numeric - base.grads[key][j]!) <= 1e-6 + 1e-5 * Math.abs(numeric),
          `${key}[${j}]: finite difference ${numeric} vs analytic ${base.grads[key][j]}`,
        );
      }
    }
  });
});

for (const backend of ['cpu', 'wasm', 'onnx'] as BackendName[]) {
  describe(`training step on ${backend}`, () => {
    before(async () => {
      await useBackend(backend);
    });

    it(`loss parts and all gradients match the float64 reference within rel ${TOLERANCE}`, async () => {
      const { state, x } = fixture();
      const core = await createTrainerCore(hyper, state);
      try {
        const batch = { x, groups, neighbours };
        const { parts, grads } = await core.gradients(batch);
        const ref = referenceLoss(toDense(state.params), batch, refHyper, deadLatents);
        assert.ok(ref.auxk > 0 && ref.kl > 0, 'the fixture exercises the KL and AuxK terms');
        for (const key of ['loss', 'mse', 'kl', 'auxk'] as const) {
          assert.ok(
            Math.abs(parts[key] - ref[key]) <= TOLERANCE * Math.abs(ref[key]) + 1e-9,
            `${key}: ${parts[key]} vs ${ref[key]}`,
          );
        }
        for (const key of ['wEnc', 'bEnc', 'wDecT', 'bDec'] as const) {
          const err = relError(grads[key], ref.grads[key]);
          assert.ok(err <= TOLERANCE, `gradient ${key}: relative error ${err}`);
        }
      } finally {
        core.dispose();
      }
    });

    it('one Adam step (unit-norm decoder) matches the reference update', async () => {
      const { state, x } = fixture();
      const core = await createTrainerCore(hyper, state);
      const lr = 1e-3;
      try {
        const batch = { x, groups, neighbours };
        const ref = referenceLoss(toDense(state.params), batch, refHyper, deadLatents);
        const stats = await core.step(batch, lr);
        assert.ok(Math.abs(stats.loss - ref.loss) <= TOLERANCE * ref.loss);
        const expected = referenceAdamStep(toDense(state.params), ref.grads, lr, {
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          unitNorm: true,
          d,
          n,
        });
        const after = await core.readState();
        for (const key of ['wEnc', 'bEnc', 'wDecT', 'bDec'] as const) {
          let scale = 0;
          for (const v of ref.grads[key]) scale = Math.max(scale, Math.abs(v));
          for (let j = 0; j < expected[key].length; j++) {
            // Adam's first step moves each weight by about lr * sign(g); where |g| is at float32 noise level
            // the sign is not meaningful, so there the bound is the step size itself.
            const tiny = Math.abs(ref.grads[key][j]!) < 1e-3 * scale;
            const tol = tiny ? 2.5 * lr : 1e-2 * lr;
            assert.ok(
              Math.abs(after.params[key][j]! - expected[key][j]!) <= tol,
              `${key}[${j}] after step: ${after.params[key][j]} vs ${expected[key][j]}`,
            );
          }
        }
        for (let i = 0; i < n; i++) {
          const norm = Math.hypot(...after.params.wDecT.subarray(i * d, i * d + d));
          assert.ok(Math.abs(norm - 1) < 1e-5, `decoder row ${i} has norm ${norm}`);
        }
        assert.equal(after.adamStep, 1);
        // Latents that fired on the batch reset their counter; the others aged by the batch's rows.
        const fired = (await core.evaluate(batch)).fired;
        assert.ok(
          after.sinceFired.every((v, i) => v === 0 || v === state.sinceFired[i]! + rows || fired[i] === 0),
        );
      } finally {
        core.dispose();
      }
    });
  });
}
