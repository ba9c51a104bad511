// The only module of @steer/train that imports @tensorflow/*: compute-backend selection, and the SAE
// training step (dense encoder forward, sparse decoder, hand-written sparse backward, Adam) as TF.js ops.
//
// Step math (rows r, latents i, k active per row, x: [R, d]):
//   xc = x - b_dec;  z = xc W_enc^T + b_enc;  (vals, idx) = TopK(z, k);  a = ReLU(vals)
//   x_hat = b_dec + sum_j a[r, j] * W_decT[idx[r, j]]                       (gather of k rows, no dense product)
//   L = mseScale * mse + kldWeight * kl + auxCoef * auxScale * auxk   (auxk: residual error normalised by the residual)
//   mse = sum_r w_r |x_hat_r - x_r|^2 / (d sum_r w_r), w = queryWeight on a group's query rows, 1 on its documents
// Backward with g = dL/dx_hat:
//   dA[r, j] = g[r] . W_decT[idx[r, j]]          dW_decT[idx[r, j]] += a[r, j] g[r]   (scatter-add)
//   dz[r, j] = dA[r, j] [vals > 0]               dW_enc[idx[r, j]]  += dz[r, j] xc[r] (scatter-add)
//   db_enc[idx[r, j]] += dz[r, j]                db_dec = sum_r g[r] - db_enc W_enc  (both paths)
// Only the encoder forward touches all n latents; everything else costs O(R k d).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import type * as TFNamespace from '@tensorflow/tfjs';
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import type * as TFWasm from '@tensorflow/tfjs-backend-wasm';
import type * as Dawn from 'webgpu';
import { TrainError, describeError } from '../errors.js';
import type { BackendInfo, BackendName, TrainerCore } from './core.js';
import {
  batchRows,
  type CoreState,
  type LossParts,
  type SaeParams,
  type StepBatch,
  type StepHyper,
} from '../model.js';

type Tf = typeof TFNamespace;

// NOTE: the TF.js packages are CommonJS bundles; require() loads them whole, while ESM named imports
// depend on Node's export detection, which misses some of their names.
const require = createRequire(import.meta.url);
let tfCache: Tf | undefined;

// Set when another copy of TF.js created the process-wide engine before ours (see activate()).
let foreignEngine = false;

function tf(): Tf {
  if (tfCache === undefined) {
    // Foreign: an engine exists although our copy of tfjs-core has not been loaded yet.
    const core = require.resolve('@tensorflow/tfjs-core', { paths: [require.resolve('@tensorflow/tfjs')] });
    foreignEngine =
      (globalThis as { _tfengine?: unknown })._tfengine !== undefined && require.cache[core] === undefined;
    tfCache = require('@tensorflow/tfjs') as Tf;
    // Production mode silences TF.js's console banner ("looks like you are running in Node.js") and debug checks.
    tfCache.enableProdMode();
  }
  return tfCache;
}

/** The backends of the TF.js core (the others live in their own modules). */
export type TfBackendName = Exclude<BackendName, 'onnx'>;

const TF_NAME: Record<TfBackendName, string> = {
  cuda: 'tensorflow',
  webgpu: 'webgpu',
  wasm: 'wasm',
  cpu: 'cpu',
};

function unavailable(name: TfBackendName, reason: string, cause?: unknown): TrainError {
  return new TrainError('backend_unavailable', `train: backend ${name} is unavailable: ${reason}`, { cause });
}

async function registerBackend(name: TfBackendName): Promise<string> {
  tf();
  switch (name) {
    case 'cpu':
      return 'pure JavaScript kernels (slowest; use wasm)';
    case 'wasm': {
      const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof TFWasm;
      // NOTE: TF.js only runs wasm threads where SharedArrayBuffer workers load from blob URLs; Node's worker_threads
      // refuse those (ERR_WORKER_PATH), so in Node the backend runs the single-threaded SIMD build whatever this says.
      wasm.setThreadsCount(availableParallelism());
      return 'WebAssembly SIMD (XNNPACK)';
    }
    case 'webgpu': {
      let adapterName = 'GPU';
      if ((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu === undefined) {
        // NOTE: Dawn prints a native warning to stderr when it cannot load the Vulkan loader; look first.
        if (process.platform === 'linux' && !vulkanLoaderPresent()) {
          throw unavailable(
            'webgpu',
            'no Vulkan loader (libvulkan.so.1) on this machine; install libvulkan1 and the GPU vendor Vulkan driver',
          );
        }
        let dawn: typeof Dawn;
        try {
          dawn = await import('webgpu');
        } catch (error) {
          throw unavailable(
            'webgpu',
            `the "webgpu" package (Dawn for Node) does not load (${describeError(error)})`,
            error,
          );
        }
        Object.assign(globalThis, dawn.globals);
        const gpu = dawn.create([]);
        const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
        if (adapter === null) {
          throw unavailable(
            'webgpu',
            'Dawn found no GPU adapter (on Linux it needs libvulkan1 and the GPU vendor Vulkan driver, e.g. NVIDIA 535+ or mesa-vulkan-drivers)',
          );
        }
        adapterName = adapter.info?.description || adapter.info?.vendor || adapterName;
        const nav = (globalThis as { navigator?: object }).navigator;
        if (nav === undefined) {
          Object.defineProperty(globalThis, 'navigator', {
            value: { gpu },
            configurable: true,
            writable: true,
          });
        } else {
          Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
        }
      }
      // NOTE: the WebGPU backend registers itself on import only when navigator.gpu exists, so it is loaded after.
      require('@tensorflow/tfjs-backend-webgpu');
      return `WebGPU via Dawn on ${adapterName}`;
    }
    case 'cuda': {
      // A computed specifier: the package is optional and absent from most installs.
      const specifier = '@tensorflow/tfjs-node-gpu';
      try {
        require(specifier);
      } catch (error) {
        throw unavailable(
          'cuda',
          `@tensorflow/tfjs-node-gpu is not installed or its native binding did not build (${describeError(error).split('\n')[0]}); ` +
            'install it with `npm install @tensorflow/tfjs-node-gpu@4.22.0` on a machine with CUDA 11.2 and cuDNN 8.1',
          error,
        );
      }
      return 'TensorFlow C library with CUDA';
    }
  }
}

/**
 * Makes `name` the active TF.js backend. @returns which backend runs, with its device and threads.
 * @throws TrainError `backend_unavailable`.
 */
export async function useTfBackend(name: TfBackendName): Promise<BackendInfo> {
  const t = tf();
  // NOTE: TF.js keeps one engine and one kernel registry per process (on globalThis). When another copy loaded
  // first (the default embedder's @energetic-ai/core bundles TF.js 4.5 and takes the wasm backend), backends and
  // kernels of the two versions mix and fail in obscure ways, so say so plainly instead.
  if (foreignEngine && (name === 'wasm' || name === 'cpu')) {
    throw unavailable(
      name,
      'another copy of TensorFlow.js (e.g. the one bundled by @energetic-ai/core, the default embedder) was loaded in ' +
        'this process first; embed in a separate process or worker thread, then train',
    );
  }
  const detail = await registerBackend(name);
  let ok: boolean;
  try {
    ok = await t.setBackend(TF_NAME[name]);
    await t.ready();
  } catch (error) {
    throw unavailable(name, `it failed to initialise (${describeError(error)})`, error);
  }
  if (!ok) throw unavailable(name, 'it failed to initialise');
  let threads = 1;
  if (name === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof TFWasm;
    threads = wasm.getThreadsCount();
  }
  if (name === 'cuda') {
    const usingGpu = (t.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
    if (usingGpu !== true) throw unavailable('cuda', 'TensorFlow loaded but sees no CUDA GPU');
  }
  if (name === 'cpu') threads = 1;
  const threadNote =
    name === 'wasm' || name === 'cpu' ? `, ${threads} thread${threads === 1 ? '' : 's'}` : '';
  return { name, detail: `${detail}${threadNote}`, threads };
}

/** The TF.js name of the active backend mapped to ours. */
export function activeBackend(): TfBackendName {
  const name = tf().getBackend();
  const found = (Object.keys(TF_NAME) as TfBackendName[]).find((b) => TF_NAME[b] === name);
  return found ?? 'cpu';
}

/** Computes a [rows, n] product a [rows, d] x b^T for b [n, d] in the layout fastest on the active backend. */
function timesTransposed(t: Tf, a: Tensor2D, b: Tensor2D, native: boolean): Tensor2D {
  // NOTE: wasm's matMul with transposeB is ~10x slower than a plain one (measured at 512x768x8192); b a^T with
  // the large operand first and one transpose of the [n, rows] result is the fastest form there.
  if (native) return t.matMul(a, b, false, true);
  return t.transpose(t.matMul(b, t.transpose(a))) as Tensor2D;
}

// A type alias (not an interface) so that it is a TensorContainer that tidy() can return.
type Vars = {
  wEnc: Tensor2D;
  bEnc: Tensor1D;
  wDecT: Tensor2D;
  bDec: Tensor1D;
};

type ParamKey = keyof Vars;
const PARAM_KEYS: readonly ParamKey[] = ['wEnc', 'bEnc', 'wDecT', 'bDec'];

interface AuxSetup {
  kAux: number;
  nDead: number;
  penalty: Tensor1D; // [n]: 0 on dead latents, -1e30 on live ones
  deadIdx: Tensor2D; // [nDead, 1] int32
  compact: Tensor1D; // [n] int32: position of each dead latent in deadIdx
}

// Row-chunking budget of the AuxK path: gathered [rows, kAux, d] blocks stay under this many floats.
const AUX_BLOCK_FLOATS = 16_000_000;

/**
 * Uploads `state` to the active backend and returns the training step bound to it.
 * @throws TrainError `bad_config` when array sizes disagree with `hyper`.
 */
export function createTrainerCore(hyper: StepHyper, state: CoreState): TrainerCore {
  const t = tf();
  const { dModel: d, nLatents: n } = hyper;
  const sizes: Record<ParamKey, number> = { wEnc: n * d, bEnc: n, wDecT: n * d, bDec: d };
  for (const part of [state.params, state.adamM, state.adamV]) {
    for (const key of PARAM_KEYS) {
      if (part[key].length !== sizes[key]) {
        throw new TrainError(
          'bad_config',
          `train: state array ${key} has ${part[key].length} values, expected ${sizes[key]}`,
        );
      }
    }
  }
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

  const deadList = (): number[] => {
    const list: number[] = [];
    for (let i = 0; i < n; i++) if (sinceFiredHost[i]! >= hyper.deadAfterRows) list.push(i);
    return list;
  };

  const makeAux = (): AuxSetup | null => {
    if (hyper.auxK <= 0) return null;
    const dead = deadList();
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
  };

  const disposeAux = (aux: AuxSetup | null): void => {
    if (aux === null) return;
    aux.penalty.dispose();
    aux.deadIdx.dispose();
    aux.compact.dispose();
  };

  /**
   * Forward pass and (optionally) gradients. The caller owns every returned tensor. Large intermediates
   * ([rows, n] scores, [rows*k, d] outer products) live in nested tidies so that peak memory stays near the
   * state plus two dense gradients (wasm's heap is 32-bit).
   */
  const compute = (
    batch: StepBatch,
    wantGrads: boolean,
    aux: AuxSetup | null,
  ): { parts: Tensor1D; fired: Tensor1D; grads: Vars | undefined } => {
    const R = batchRows(batch);
    const { k } = hyper;
    const G = batch.neighbours > 0 ? batch.groups : 0;
    const M = batch.neighbours;
    return t.tidy(() => {
      const x = t.tensor2d(batch.x, [R, d]);
      const xc = t.sub(x, params.bDec) as Tensor2D;
      // The only dense product: scores of all n latents, kept just long enough to select the top k (and AuxK's top).
      const selected = t.tidy(() => {
        const z = t.add(timesTransposed(t, xc, params.wEnc, native), params.bEnc) as Tensor2D; // [R, n]
        const top = t.topk(z, k, true);
        const topAux = aux === null ? null : t.topk(t.add(z, aux.penalty), aux.kAux, true);
        return {
          values: top.values,
          indices: top.indices,
          auxValues: topAux?.values,
          auxIndices: topAux?.indices,
        };
      });
      const active = t.cast(t.greater(selected.values, 0), 'float32'); // [R, k] ReLU mask
      const act = t.mul(selected.values, active); // ReLU(vals)
      const idxFlat = t.reshape(selected.indices, [R * k, 1]) as Tensor2D;
      const wg = t.reshape(t.gatherND(params.wDecT, idxFlat), [R, k, d]); // decoder rows of the active latents
      const xhat = t.add(t.reshape(t.matMul(t.reshape(act, [R, 1, k]), wg), [R, d]), params.bDec) as Tensor2D;
      const diff = t.sub(xhat, x);
      // Reconstruction term: a weighted mean over rows where each query row weighs queryWeight document rows.
      const queryWeight = G > 0 ? hyper.queryWeight : 1;
      const rowWeights =
        queryWeight === 1 ? null : t.concat([t.fill([G, 1], queryWeight), t.ones([G * M, 1])], 0);
      const totalWeight = (queryWeight === 1 ? R : G * queryWeight + G * M) * d;
      const weightedDiff = rowWeights === null ? diff : t.mul(diff, rowWeights);
      const mse = t.div(t.sum(t.mul(weightedDiff, diff)), totalWeight);
      let g: Tensor = t.mul(weightedDiff, (2 * hyper.mseScale) / totalWeight); // dL/dx_hat
      let kl: Tensor = t.scalar(0);
      if (G > 0) {
        const T = hyper.temperature;
        const q = t.slice(x, [0, 0], [G, d]);
        const docs = t.reshape(t.slice(x, [G, 0], [G * M, d]), [G, M, d]);
        const qh = t.slice(xhat, [0, 0], [G, d]);
        const docsH = t.reshape(t.slice(xhat, [G, 0], [G * M, d]), [G, M, d]);
        const s = t.div(t.reshape(t.matMul(docs, t.reshape(q, [G, d, 1])), [G, M]), T);
        const sh = t.div(t.reshape(t.matMul(docsH, t.reshape(qh, [G, d, 1])), [G, M]), T);
        const logP = t.logSoftmax(s);
        const logPh = t.logSoftmax(sh);
        const p = t.exp(logP);
        kl = t.div(t.sum(t.mul(p, t.sub(logP, logPh))), G);
        if (wantGrads && hyper.kldWeight > 0) {
          const gs = t.mul(t.sub(t.exp(logPh), p), hyper.kldWeight / (T * G)); // dL/d(q_hat . d_hat_j)
          const gq = t.reshape(t.matMul(t.reshape(gs, [G, 1, M]), docsH), [G, d]);
          const gDocs = t.reshape(t.mul(t.reshape(gs, [G, M, 1]), t.reshape(qh, [G, 1, d])), [G * M, d]);
          g = t.add(g, t.concat([gq, gDocs], 0));
        }
      }
      const firedCount = t.scatterND(idxFlat, t.reshape(active, [R * k]), [n]);
      const fired = t.cast(t.greater(firedCount, 0), 'float32') as Tensor1D;

      let auxLoss: Tensor = t.scalar(0);
      let grads: Vars | undefined;
      let dWdecT: Tensor | null = null;
      let dWenc: Tensor | null = null;
      let dbEnc: Tensor | null = null;
      const scatterOuter = (
        idx: Tensor2D,
        left: Tensor,
        right: Tensor,
        rows: number,
        width: number,
        into: number,
      ): Tensor =>
        t.tidy(() =>
          t.scatterND(
            idx,
            t.reshape(t.mul(t.reshape(left, [rows, width, 1]), t.reshape(right, [rows, 1, d])), [
              rows * width,
              d,
            ]),
            [into, d],
          ),
        );
      if (wantGrads) {
        const gRows = g as Tensor2D;
        const dAct = t.reshape(t.matMul(wg, t.reshape(gRows, [R, d, 1])), [R, k]);
        dWdecT = scatterOuter(idxFlat, act, gRows, R, k, n);
        const dz = t.mul(dAct, active);
        dWenc = scatterOuter(idxFlat, dz, xc, R, k, n);
        dbEnc = t.scatterND(idxFlat, t.reshape(dz, [R * k]), [n]);
      }
      if (aux !== null) {
        const { kAux, nDead } = aux;
        const topValues = selected.auxValues!;
        const topIndices = selected.auxIndices!;
        const activeA = t.cast(t.greater(topValues, 0), 'float32');
        const actA = t.mul(topValues, activeA);
        const residual = t.neg(diff); // e = x - x_hat, a constant target
        const denom = t.add(t.sum(t.square(residual)), 1e-12);
        const chunkRows = Math.max(1, Math.floor(AUX_BLOCK_FLOATS / (kAux * d)));
        const ehParts: Tensor[] = [];
        const blocks: { start: number; rows: number; idx: Tensor2D }[] = [];
        for (let start = 0; start < R; start += chunkRows) {
          const rows = Math.min(chunkRows, R - start);
          const idx = t.reshape(t.slice(topIndices, [start, 0], [rows, kAux]), [rows * kAux, 1]) as Tensor2D;
          ehParts.push(
            t.tidy(() => {
              const wgA = t.reshape(t.gatherND(params.wDecT, idx), [rows, kAux, d]);
              const actBlock = t.reshape(t.slice(actA, [start, 0], [rows, kAux]), [rows, 1, kAux]);
              return t.reshape(t.matMul(actBlock, wgA), [rows, d]);
            }),
          );
          blocks.push({ start, rows, idx });
        }
        const eh = ehParts.length === 1 ? ehParts[0]! : t.concat(ehParts, 0);
        const auxDiff = t.sub(eh, residual);
        auxLoss = t.div(t.sum(t.square(auxDiff)), denom);
        if (wantGrads) {
          const gA = t.mul(t.div(auxDiff, denom), 2 * hyper.auxCoef * hyper.auxScale) as Tensor2D;
          let accDec: Tensor = t.zeros([nDead, d]);
          let accEnc: Tensor = t.zeros([nDead, d]);
          let accB: Tensor = t.zeros([nDead]);
          for (const { start, rows, idx } of blocks) {
            const next = t.tidy(() => {
              const wgA = t.reshape(t.gatherND(params.wDecT, idx), [rows, kAux, d]);
              const gBlock = t.slice(gA, [start, 0], [rows, d]);
              const dActA = t.reshape(t.matMul(wgA, t.reshape(gBlock, [rows, d, 1])), [rows, kAux]);
              const dzA = t.mul(dActA, t.slice(activeA, [start, 0], [rows, kAux]));
              const cIdx = t.reshape(t.gather(aux.compact, t.reshape(idx, [rows * kAux])), [
                rows * kAux,
                1,
              ]) as Tensor2D;
              return {
                dec: t.add(
                  accDec,
                  scatterOuter(cIdx, t.slice(actA, [start, 0], [rows, kAux]), gBlock, rows, kAux, nDead),
                ),
                enc: t.add(
                  accEnc,
                  scatterOuter(cIdx, dzA, t.slice(xc, [start, 0], [rows, d]), rows, kAux, nDead),
                ),
                b: t.add(accB, t.scatterND(cIdx, t.reshape(dzA, [rows * kAux]), [nDead])),
              };
            });
            accDec.dispose();
            accEnc.dispose();
            accB.dispose();
            accDec = next.dec;
            accEnc = next.enc;
            accB = next.b;
          }
          dWdecT = t.add(dWdecT!, t.scatterND(aux.deadIdx, accDec, [n, d]));
          dWenc = t.add(dWenc!, t.scatterND(aux.deadIdx, accEnc, [n, d]));
          dbEnc = t.add(dbEnc!, t.scatterND(aux.deadIdx, accB, [n]));
        }
      }
      if (wantGrads) {
        // b_dec enters through x_hat directly and through xc = x - b_dec in every pre-activation.
        // NOTE: W_enc^T db_enc with W_enc as the transposed left operand: wasm (XNNPACK) repacks the right operand on
        // every call, which for a [n, d] matrix costs ~10x the product itself.
        const dbDec = t.sub(
          t.sum(g, 0),
          t.reshape(t.matMul(params.wEnc, t.reshape(dbEnc!, [n, 1]), true, false), [d]),
        );
        grads = {
          wEnc: dWenc as Tensor2D,
          bEnc: dbEnc as Tensor1D,
          wDecT: dWdecT as Tensor2D,
          bDec: dbDec as Tensor1D,
        };
      }
      const weighted = t.add(
        t.add(t.mul(mse, hyper.mseScale), t.mul(kl, hyper.kldWeight)),
        t.mul(auxLoss, hyper.auxCoef * hyper.auxScale),
      );
      const parts = t.stack([weighted, mse, kl, auxLoss]) as Tensor1D;
      return { parts, fired, grads };
    });
  };

  const toParts = (values: ArrayLike<number>): LossParts => ({
    loss: values[0]!,
    mse: values[1]!,
    kl: values[2]!,
    auxk: values[3]!,
  });

  const download = async (vars: Vars): Promise<SaeParams> => ({
    wEnc: Float32Array.from(await vars.wEnc.data()),
    bEnc: Float32Array.from(await vars.bEnc.data()),
    wDecT: Float32Array.from(await vars.wDecT.data()),
    bDec: Float32Array.from(await vars.bDec.data()),
  });

  const disposeVars = (vars: Vars): void => PARAM_KEYS.forEach((key) => vars[key].dispose());

  const checkBatch = (batch: StepBatch): void => {
    const rows = batchRows(batch);
    if (rows < 1 || batch.x.length !== rows * d) {
      throw new TrainError(
        'bad_input',
        `train: batch has ${batch.x.length} values, expected ${rows} rows of ${d}`,
      );
    }
  };

  return {
    backend,

    async step(batch, lr) {
      checkBatch(batch);
      const aux = makeAux();
      const R = batchRows(batch);
      adamStep += 1;
      const bc1 = 1 - Math.pow(hyper.beta1, adamStep);
      const bc2 = 1 - Math.pow(hyper.beta2, adamStep);
      let out: ReturnType<typeof compute>;
      try {
        out = compute(batch, true, aux);
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
      checkBatch(batch);
      const { parts, fired } = t.tidy(() => {
        const out = compute(batch, false, null);
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
      checkBatch(batch);
      const aux = makeAux();
      const out = t.tidy(() => {
        const r = compute(batch, true, aux);
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

/** Whether the Vulkan loader that Dawn needs on Linux is installed (standard library folders, LD_LIBRARY_PATH). */
function vulkanLoaderPresent(): boolean {
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu',
    '/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
  ];
  return dirs.some((dir) => existsSync(`${dir}/libvulkan.so.1`));
}
