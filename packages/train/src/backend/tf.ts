// The trainer core on TF.js: the SAE's weights, Adam moments and dead-latent counters as tensors on the active TF.js
// backend, the step (tf-step.ts) bound to them, and PyTorch's Adam with the unit-norm decoder. TF.js itself is loaded
// and its engine owned by tf-engine.ts.
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import { batchRows, type CoreState, type LossParts, type SaeParams, type StepHyper } from '../model.js';
import { checkBatchRows, checkStateSizes, type TrainerCore } from './core.js';
import { activeBackend, tf, type Tf } from './tf-engine.js';
import {
  PARAM_KEYS,
  computeStep,
  type AuxSetup,
  type ParamKey,
  type StepContext,
  type StepTensors,
  type Vars,
} from './tf-step.js';

export { activeBackend, useTfBackend, type TfBackendName } from './tf-engine.js';

/** The AuxK setup of the next step: the dead latents (not fired for deadAfterRows rows), or null when none are. */
function auxSetup(t: Tf, hyper: StepHyper, sinceFiredHost: Int32Array): AuxSetup | null {
  if (hyper.auxK <= 0) return null;
  const n = hyper.nLatents;
  const dead: number[] = [];
  for (let i = 0; i < n; i++) if (sinceFiredHost[i]! >= hyper.deadAfterRows) dead.push(i);
  if (dead.length === 0) return null;
  const penalty = new Float32Array(n).fill(-1e30);
  const compact = new Int32Array(n);
  dead.forEach((latent, position) => {
    penalty[latent] = 0;
    compact[latent] = position;
  });
  return {
    kAux: Math.min(hyper.auxK, dead.length),
    nDead: dead.length,
    penalty: t.tensor1d(penalty),
    deadIdx: t.tensor2d(Int32Array.from(dead), [dead.length, 1], 'int32'),
    compact: t.tensor1d(compact, 'int32'),
  };
}

function disposeAux(aux: AuxSetup | null): void {
  if (aux === null) return;
  aux.penalty.dispose();
  aux.deadIdx.dispose();
  aux.compact.dispose();
}

/**
 * Adam step `adamStep` on every parameter with `grads` (disposed here), replacing the tensors of `state` in place;
 * the decoder rows are renormalised after it when the decoder is unit-norm.
 */
function adamUpdate(
  t: Tf,
  hyper: StepHyper,
  state: { params: Vars; adamM: Vars; adamV: Vars },
  grads: Vars,
  lr: number,
  adamStep: number,
): void {
  const { params, adamM, adamV } = state;
  const bc1 = 1 - Math.pow(hyper.beta1, adamStep);
  const bc2 = 1 - Math.pow(hyper.beta2, adamStep);
  // Adam per parameter, one tidy per expression so that at most two dense temporaries are alive at once.
  for (const key of PARAM_KEYS) {
    const grad = grads[key] as Tensor;
    const m = t.tidy(() => t.add(t.mul(adamM[key], hyper.beta1), t.mul(grad, 1 - hyper.beta1)));
    const v = t.tidy(() => t.add(t.mul(adamV[key], hyper.beta2), t.mul(t.square(grad), 1 - hyper.beta2)));
    grad.dispose();
    // PyTorch's Adam, p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps), with sqrt(bc2) moved into the constants
    // (one pass over [n, d] fewer): p -= (lr sqrt(bc2) / bc1) * m / (sqrt(v) + eps sqrt(bc2)).
    const denom = t.tidy(() => t.add(t.sqrt(v), hyper.eps * Math.sqrt(bc2)));
    const update = t.tidy(() => t.mul(t.div(m, denom), (lr * Math.sqrt(bc2)) / bc1));
    denom.dispose();
    let p = t.sub(params[key], update);
    update.dispose();
    if (key === 'wDecT' && hyper.unitNormDecoder) {
      const unit = t.tidy(() => t.div(p, t.maximum(t.sqrt(t.sum(t.square(p), 1, true)), 1e-12)));
      p.dispose();
      p = unit;
    }
    params[key].dispose();
    adamM[key].dispose();
    adamV[key].dispose();
    (params as Record<ParamKey, Tensor>)[key] = p;
    (adamM as Record<ParamKey, Tensor>)[key] = m;
    (adamV as Record<ParamKey, Tensor>)[key] = v;
  }
}

function toParts(values: ArrayLike<number>): LossParts {
  return { loss: values[0]!, mse: values[1]!, kl: values[2]!, auxk: values[3]! };
}

async function download(vars: Vars): Promise<SaeParams> {
  return {
    wEnc: Float32Array.from(await vars.wEnc.data()),
    bEnc: Float32Array.from(await vars.bEnc.data()),
    wDecT: Float32Array.from(await vars.wDecT.data()),
    bDec: Float32Array.from(await vars.bDec.data()),
  };
}

function disposeVars(vars: Vars): void {
  PARAM_KEYS.forEach((key) => vars[key].dispose());
}

/**
 * Uploads `state` to the active backend and returns the training step bound to it.
 * @throws TrainError `bad_config` when array sizes disagree with `hyper`.
 */
export function createTrainerCore(hyper: StepHyper, state: CoreState): TrainerCore {
  const t = tf();
  const { dModel: d, nLatents: n } = hyper;
  checkStateSizes(state, d, n);
  const backend = activeBackend();
  const native = backend === 'cuda' || backend === 'webgpu';
  const upload = (p: SaeParams): Vars => ({
    wEnc: t.tensor2d(p.wEnc, [n, d]),
    bEnc: t.tensor1d(p.bEnc),
    wDecT: t.tensor2d(p.wDecT, [n, d]),
    bDec: t.tensor1d(p.bDec),
  });
  // Mutable holders: the step replaces their tensors in place.
  const params = upload(state.params);
  const adamM = upload(state.adamM);
  const adamV = upload(state.adamV);
  let adamStep = state.adamStep;
  let sinceFired: Tensor1D = t.tensor1d(state.sinceFired, 'int32');
  let sinceFiredHost = Int32Array.from(state.sinceFired);

  const ctx: StepContext = { t, hyper, params, native };

  return {
    backend,

    async step(batch, lr) {
      checkBatchRows(batch, d);
      const aux = auxSetup(t, hyper, sinceFiredHost);
      const R = batchRows(batch);
      adamStep += 1;
      let out: StepTensors;
      try {
        out = computeStep(ctx, batch, true, aux);
      } finally {
        disposeAux(aux);
      }
      const grads = out.grads!;
      if (hyper.unitNormDecoder) {
        // Remove the component of each decoder row's gradient parallel to the row (it only changes the norm).
        const projected = t.tidy(() =>
          t.sub(grads.wDecT, t.mul(t.sum(t.mul(grads.wDecT, params.wDecT), 1, true), params.wDecT)),
        );
        grads.wDecT.dispose();
        grads.wDecT = projected as Tensor2D;
      }
      adamUpdate(t, hyper, { params, adamM, adamV }, grads, lr, adamStep);
      const newSince = t.tidy(
        () =>
          t.where(
            t.cast(out.fired, 'bool'),
            t.zerosLike(sinceFired),
            t.add(sinceFired, t.scalar(R, 'int32')),
          ) as Tensor1D,
      );
      out.fired.dispose();
      sinceFired.dispose();
      sinceFired = newSince;
      const [values, since] = await Promise.all([out.parts.data(), sinceFired.data()]);
      out.parts.dispose();
      sinceFiredHost = Int32Array.from(since);
      let dead = 0;
      for (let i = 0; i < n; i++) if (sinceFiredHost[i]! >= hyper.deadAfterRows) dead++;
      return { ...toParts(values), deadFraction: dead / n };
    },

    async evaluate(batch) {
      checkBatchRows(batch, d);
      const { parts, fired } = t.tidy(() => {
        const out = computeStep(ctx, batch, false, null);
        return { parts: out.parts, fired: out.fired };
      });
      const [values, firedValues] = await Promise.all([parts.data(), fired.data()]);
      parts.dispose();
      fired.dispose();
      const firedMask = new Uint8Array(n);
      for (let i = 0; i < n; i++) firedMask[i] = firedValues[i]! > 0 ? 1 : 0;
      return { ...toParts(values), fired: firedMask };
    },

    async gradients(batch) {
      checkBatchRows(batch, d);
      const aux = auxSetup(t, hyper, sinceFiredHost);
      const out = t.tidy(() => {
        const r = computeStep(ctx, batch, true, aux);
        return { parts: r.parts, grads: r.grads! };
      });
      disposeAux(aux);
      const values = await out.parts.data();
      out.parts.dispose();
      const grads = await download(out.grads);
      disposeVars(out.grads);
      return { parts: toParts(values), grads };
    },

    async readState() {
      return {
        params: await download(params),
        adamM: await download(adamM),
        adamV: await download(adamV),
        adamStep,
        sinceFired: Int32Array.from(sinceFiredHost),
      };
    },

    dispose() {
      disposeVars(params);
      disposeVars(adamM);
      disposeVars(adamV);
      sinceFired.dispose();
    },
  };
}
