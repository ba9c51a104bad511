// The SAE training step as TF.js ops: the dense encoder forward and TopK, the sparse decoder, MSE, KL and AuxK, and
// the hand-written sparse backward (tf.ts binds it to the weights and applies Adam).
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
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import { batchRows, type StepBatch, type StepHyper } from '../model.js';
import type { Tf } from './tf-engine.js';

/** Computes a [rows, n] product a [rows, d] x b^T for b [n, d] in the layout fastest on the active backend. */
function timesTransposed(t: Tf, a: Tensor2D, b: Tensor2D, native: boolean): Tensor2D {
  // NOTE: wasm's matMul with transposeB is ~10x slower than a plain one (measured at 512x768x8192); b a^T with
  // the large operand first and one transpose of the [n, rows] result is the fastest form there.
  if (native) return t.matMul(a, b, false, true);
  return t.transpose(t.matMul(b, t.transpose(a))) as Tensor2D;
}

// A type alias (not an interface) so that it is a TensorContainer that tidy() can return.
export type Vars = {
  wEnc: Tensor2D;
  bEnc: Tensor1D;
  wDecT: Tensor2D;
  bDec: Tensor1D;
};

export type ParamKey = keyof Vars;
export const PARAM_KEYS: readonly ParamKey[] = ['wEnc', 'bEnc', 'wDecT', 'bDec'];

export interface AuxSetup {
  kAux: number;
  nDead: number;
  penalty: Tensor1D; // [n]: 0 on dead latents, -1e30 on live ones
  deadIdx: Tensor2D; // [nDead, 1] int32
  compact: Tensor1D; // [n] int32: position of each dead latent in deadIdx
}

// Row-chunking budget of the AuxK path: gathered [rows, kAux, d] blocks stay under this many floats.
const AUX_BLOCK_FLOATS = 16_000_000;

/** What {@link computeStep} returns; the caller owns every tensor. */
export interface StepTensors {
  parts: Tensor1D; // [loss, mse, kl, auxk]
  fired: Tensor1D; // [n]: 1 where a latent fired in the batch
  grads: Vars | undefined;
}

/** The weights and settings a step runs on. */
export interface StepContext {
  t: Tf;
  hyper: StepHyper;
  params: Vars;
  /** The backend multiplies by a transposed operand natively (CUDA, WebGPU). */
  native: boolean;
}

/** The encoder's top k (and AuxK's top over the dead latents) of each row; the [R, n] scores are freed inside. */
function selectLatents(
  { t, hyper, params, native }: StepContext,
  xc: Tensor2D,
  aux: AuxSetup | null,
): {
  values: Tensor2D;
  indices: Tensor2D;
  auxValues: Tensor2D | undefined;
  auxIndices: Tensor2D | undefined;
} {
  // The only dense product: scores of all n latents, kept just long enough to select the top k (and AuxK's top).
  return t.tidy(() => {
    const z = t.add(timesTransposed(t, xc, params.wEnc, native), params.bEnc) as Tensor2D; // [R, n]
    const top = t.topk(z, hyper.k, true);
    const topAux = aux === null ? null : t.topk(t.add(z, aux.penalty), aux.kAux, true);
    return {
      values: top.values as Tensor2D,
      indices: top.indices as Tensor2D,
      auxValues: topAux?.values as Tensor2D | undefined,
      auxIndices: topAux?.indices as Tensor2D | undefined,
    };
  });
}

/** KL of the score softmax of each group, original vs reconstructed, and its gradient added to `g` when wanted. */
function klTerm(
  { t, hyper }: StepContext,
  x: Tensor2D,
  xhat: Tensor2D,
  G: number,
  M: number,
  g: Tensor,
  wantGrads: boolean,
): { kl: Tensor; g: Tensor } {
  const d = hyper.dModel;
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
  const kl = t.div(t.sum(t.mul(p, t.sub(logP, logPh))), G);
  if (wantGrads && hyper.kldWeight > 0) {
    const gs = t.mul(t.sub(t.exp(logPh), p), hyper.kldWeight / (T * G)); // dL/d(q_hat . d_hat_j)
    const gq = t.reshape(t.matMul(t.reshape(gs, [G, 1, M]), docsH), [G, d]);
    const gDocs = t.reshape(t.mul(t.reshape(gs, [G, M, 1]), t.reshape(qh, [G, 1, d])), [G * M, d]);
    g = t.add(g, t.concat([gq, gDocs], 0));
  }
  return { kl, g };
}

/** sum over rows of left[r, j] right[r] scattered to rows idx[r, j] of an [into, d] matrix. */
function scatterOuter(
  t: Tf,
  d: number,
  idx: Tensor2D,
  left: Tensor,
  right: Tensor,
  rows: number,
  width: number,
  into: number,
): Tensor {
  return t.tidy(() =>
    t.scatterND(
      idx,
      t.reshape(t.mul(t.reshape(left, [rows, width, 1]), t.reshape(right, [rows, 1, d])), [rows * width, d]),
      [into, d],
    ),
  );
}

/** Dense gradients of W_enc, b_enc, W_decT being built (b_dec is derived from them at the end). */
interface PartialGrads {
  wEnc: Tensor;
  bEnc: Tensor;
  wDecT: Tensor;
}

/**
 * The AuxK term: the dead latents' top kAux reconstruct the residual, in row blocks under AUX_BLOCK_FLOATS; with
 * `grads`, their gradients are added to it. @returns the AuxK loss.
 */
function auxTerm(
  ctx: StepContext,
  aux: AuxSetup,
  selected: { auxValues: Tensor2D | undefined; auxIndices: Tensor2D | undefined },
  diff: Tensor,
  xc: Tensor2D,
  grads: PartialGrads | null,
): Tensor {
  const { t, hyper, params } = ctx;
  const d = hyper.dModel;
  const n = hyper.nLatents;
  const R = diff.shape[0]!;
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
  const auxLoss = t.div(t.sum(t.square(auxDiff)), denom);
  if (grads === null) return auxLoss;
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
          scatterOuter(t, d, cIdx, t.slice(actA, [start, 0], [rows, kAux]), gBlock, rows, kAux, nDead),
        ),
        enc: t.add(
          accEnc,
          scatterOuter(t, d, cIdx, dzA, t.slice(xc, [start, 0], [rows, d]), rows, kAux, nDead),
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
  grads.wDecT = t.add(grads.wDecT, t.scatterND(aux.deadIdx, accDec, [n, d]));
  grads.wEnc = t.add(grads.wEnc, t.scatterND(aux.deadIdx, accEnc, [n, d]));
  grads.bEnc = t.add(grads.bEnc, t.scatterND(aux.deadIdx, accB, [n]));
  return auxLoss;
}

/**
 * Forward pass and (optionally) gradients. The caller owns every returned tensor. Large intermediates
 * ([rows, n] scores, [rows*k, d] outer products) live in nested tidies so that peak memory stays near the
 * state plus two dense gradients (wasm's heap is 32-bit).
 */
export function computeStep(
  ctx: StepContext,
  batch: StepBatch,
  wantGrads: boolean,
  aux: AuxSetup | null,
): StepTensors {
  const { t, hyper, params } = ctx;
  const { dModel: d, nLatents: n, k } = hyper;
  const R = batchRows(batch);
  const G = batch.neighbours > 0 ? batch.groups : 0;
  const M = batch.neighbours;
  return t.tidy(() => {
    const x = t.tensor2d(batch.x, [R, d]);
    const xc = t.sub(x, params.bDec) as Tensor2D;
    const selected = selectLatents(ctx, xc, aux);
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
    if (G > 0) ({ kl, g } = klTerm(ctx, x, xhat, G, M, g, wantGrads));
    const firedCount = t.scatterND(idxFlat, t.reshape(active, [R * k]), [n]);
    const fired = t.cast(t.greater(firedCount, 0), 'float32') as Tensor1D;

    let partial: PartialGrads | null = null;
    if (wantGrads) {
      const gRows = g as Tensor2D;
      const dAct = t.reshape(t.matMul(wg, t.reshape(gRows, [R, d, 1])), [R, k]);
      const wDecT = scatterOuter(t, d, idxFlat, act, gRows, R, k, n);
      const dz = t.mul(dAct, active);
      const wEnc = scatterOuter(t, d, idxFlat, dz, xc, R, k, n);
      partial = { wDecT, wEnc, bEnc: t.scatterND(idxFlat, t.reshape(dz, [R * k]), [n]) };
    }
    const auxLoss: Tensor = aux !== null ? auxTerm(ctx, aux, selected, diff, xc, partial) : t.scalar(0);
    let grads: Vars | undefined;
    if (partial !== null) {
      // b_dec enters through x_hat directly and through xc = x - b_dec in every pre-activation.
      // NOTE: W_enc^T db_enc with W_enc as the transposed left operand: wasm (XNNPACK) repacks the right operand on
      // every call, which for a [n, d] matrix costs ~10x the product itself.
      const dbDec = t.sub(
        t.sum(g, 0),
        t.reshape(t.matMul(params.wEnc, t.reshape(partial.bEnc, [n, 1]), true, false), [d]),
      );
      grads = {
        wEnc: partial.wEnc as Tensor2D,
        bEnc: partial.bEnc as Tensor1D,
        wDecT: partial.wDecT as Tensor2D,
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
}
