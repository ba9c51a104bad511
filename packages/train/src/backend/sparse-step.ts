// The sparse half of the onnxruntime core's training step, as plain loops over shared memory, run by the main
// thread and the worker threads side by side (see onnx.ts for the whole step and tf.ts for the same math in TF.js).
//
// Phase 1 (split by query groups, or rows when there are none): decode from the k active decoder rows, the loss
// parts per row and group, dL/dx_hat, and dL/dz of every active latent (main path and AuxK).
// Phase 2 (split by latent blocks): each latent gathers the batch entries that selected it, in batch order, sums
// its gradient rows from them and takes its Adam step (or writes dense gradients for checks).
// Every sum runs in a fixed order that does not depend on how the work is split, so the result is the same bit
// for bit on any number of threads.
import type { StepHyper } from '../model.js';
import type { KernelMemory, WasmKernels } from './wasm-kernels.js';

/** Latents per reduction chunk (default): partial sums of dL/db_dec are taken per chunk and added in chunk order. */
export const CHUNK_LATENTS = 1024;

/** Per-row loss sums kept in `rowStats`: squared error, squared AuxK error, KL of the group (on its query's row). */
export const ROW_STATS = 3;
const STAT_DIFF = 0;
const STAT_AUX = 1;
const STAT_KL = 2;

/**
 * The step's memory, shared between threads (views into a shared WebAssembly memory or SharedArrayBuffers).
 * Shapes: n latents, d dims, `rows` the batch capacity, k active and kAux AuxK latents per row.
 */
export interface StepMemory {
  /** Latents per chunk of `chunkDbDec` and `chunkDead`; thread blocks are whole chunks. */
  chunkLatents: number;
  /**
   * The shared WebAssembly memory that holds the weights, Adam moments and `scratch` when the SIMD kernels run
   * (wasm-kernels.ts); absent when the state is too large for it (4 GiB) and plain loops run instead.
   */
  kernelMemory?: KernelMemory;
  /** Per-thread scratch rows (SCRATCH_ROWS of [d] per `slot`), used with the kernels. */
  scratch: Float32Array; // [threads, SCRATCH_ROWS, d]
  wEnc: Float32Array; // [n, d]
  wDecT: Float32Array; // [n, d]
  mDec: Float32Array; // [n, d]
  vDec: Float32Array; // [n, d]
  mEnc: Float32Array; // [n, d]
  vEnc: Float32Array; // [n, d]
  bEnc: Float32Array; // [n]
  mbEnc: Float32Array; // [n]
  vbEnc: Float32Array; // [n]
  bDec: Float32Array; // [d]
  sinceFired: Int32Array; // [n]
  x: Float32Array; // [rows, d]
  xc: Float32Array; // [rows, d], x - b_dec
  idx: Int32Array; // [rows, k]
  vals: Float32Array; // [rows, k], pre-activations of the selected latents
  auxIdx: Int32Array; // [rows, kAux]
  auxVals: Float32Array; // [rows, kAux]
  xhat: Float32Array; // [rows, d]
  g: Float32Array; // [rows, d], dL/dx_hat
  dz: Float32Array; // [rows, k], dL/dz of the selected latents
  auxDiff: Float32Array; // [rows, d], e_hat - e of AuxK
  auxU: Float32Array; // [rows, kAux], W_decT[auxIdx] . auxDiff (dL/dz of AuxK before its scale)
  rowStats: Float64Array; // [rows, ROW_STATS]
  chunkDbDec: Float64Array; // [nChunks, d], per chunk: sum of dL/db_enc[i] W_enc[i]
  chunkDead: Int32Array; // [nChunks], dead latents after the step
  /** Dense gradients, allocated only for `gradients()`. */
  dense?: { wEnc: Float32Array; wDecT: Float32Array; bEnc: Float32Array };
}

/** The shape of one batch as the phases see it. */
export interface BatchShape {
  rows: number;
  /** Query groups with a KL term (0 when the batch has no neighbours). */
  groups: number;
  neighbours: number;
  /** AuxK latents per row in this step (0: no AuxK). */
  kAux: number;
  wantGrads: boolean;
}

/** Number of work units of phase 1: query groups (with their documents), or rows. */
export function unitCount(shape: BatchShape): number {
  return shape.groups > 0 ? shape.groups : shape.rows;
}

/** The weight of row r in the reconstruction term: `queryWeight` on a group's query row, 1 on every other row. */
function rowWeight(hyper: StepHyper, shape: BatchShape, r: number): number {
  return shape.groups > 0 && r < shape.groups ? hyper.queryWeight : 1;
}

/** The reconstruction term's denominator: d times the rows' total weight (see tf.ts). */
function reconstructionWeight(hyper: StepHyper, shape: BatchShape): number {
  const G = shape.groups;
  return (G > 0 ? G * hyper.queryWeight + (shape.rows - G) : shape.rows) * hyper.dModel;
}

/** Decodes row r from its active latents into xhat and g = dL/dx_hat of the MSE; records the row's sums. */
function decodeRow(
  mem: StepMemory,
  hyper: StepHyper,
  shape: BatchShape,
  r: number,
  acc: Float32Array | Float64Array,
  math: RowMath,
): void {
  const { dModel: d, k } = hyper;
  const { wDecT, bDec, x, xhat, g, idx, vals, rowStats } = mem;
  acc.fill(0);
  for (let j = r * k; j < (r + 1) * k; j++) {
    const a = vals[j]!;
    if (a > 0) math.axpy(acc, 0, wDecT, idx[j]! * d, a);
  }
  const gScale = (2 * hyper.mseScale * rowWeight(hyper, shape, r)) / reconstructionWeight(hyper, shape);
  const base = r * d;
  let diffSq = 0;
  for (let c = 0; c < d; c++) {
    const xh = Math.fround(acc[c]! + bDec[c]!);
    xhat[base + c] = xh;
    const diff = Math.fround(xh - x[base + c]!);
    diffSq += diff * diff;
    g[base + c] = diff * gScale;
  }
  rowStats[r * ROW_STATS + STAT_DIFF] = diffSq;
  rowStats[r * ROW_STATS + STAT_AUX] = 0;
  rowStats[r * ROW_STATS + STAT_KL] = 0;
}

function dot(a: Float32Array, aBase: number, b: Float32Array, bBase: number, d: number): number {
  // NOTE: four accumulators let V8 pipeline the loop.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let c = 0;
  for (; c + 3 < d; c += 4) {
    s0 += a[aBase + c]! * b[bBase + c]!;
    s1 += a[aBase + c + 1]! * b[bBase + c + 1]!;
    s2 += a[aBase + c + 2]! * b[bBase + c + 2]!;
    s3 += a[aBase + c + 3]! * b[bBase + c + 3]!;
  }
  for (; c < d; c++) s0 += a[aBase + c]! * b[bBase + c]!;
  return s0 + s1 + s2 + s3;
}

/**
 * The row operations of the step: SIMD kernels on the shared WebAssembly memory (every operand a Float32Array view
 * into it, which onnx.ts arranges whenever it passes kernels), or plain loops.
 */
interface RowMath {
  /** y[yAt .. yAt + d) += a x[xAt .. xAt + d) */
  axpy(y: Float32Array | Float64Array, yAt: number, x: Float32Array, xAt: number, a: number): void;
  /** sum of x[xAt + c] y[yAt + c] over c < d */
  dot(x: Float32Array, xAt: number, y: Float32Array, yAt: number): number;
}

function rowMath(d: number, kernels: WasmKernels | undefined): RowMath {
  if (kernels !== undefined) {
    return {
      axpy: (y, yAt, x, xAt, a) => kernels.axpy(y.byteOffset + 4 * yAt, x.byteOffset + 4 * xAt, a, d),
      dot: (x, xAt, y, yAt) => kernels.dot(x.byteOffset + 4 * xAt, y.byteOffset + 4 * yAt, d),
    };
  }
  return {
    axpy: (y, yAt, x, xAt, a) => {
      for (let c = 0; c < d; c++) y[yAt + c]! += a * x[xAt + c]!;
    },
    dot: (x, xAt, y, yAt) => dot(x, xAt, y, yAt, d),
  };
}

/** Per-thread scratch rows: [0] decode accumulator, [1] encoder gradient, [2] decoder gradient of one latent. */
export const SCRATCH_ROWS = 3;

/** Thread `slot`'s scratch row `row` ([d]): a view into the kernels' memory, or a fresh float64 row. */
function scratchRow(
  mem: StepMemory,
  d: number,
  slot: number,
  row: number,
  kernels: WasmKernels | undefined,
): Float32Array | Float64Array {
  if (kernels === undefined) return new Float64Array(d);
  const at = (slot * SCRATCH_ROWS + row) * d;
  return mem.scratch.subarray(at, at + d);
}

/**
 * KL(p || p_hat) of query group q (softmax over its documents of q . doc / T, original vs reconstructed), stored on
 * the query's row, and its gradient added to g of the query and its documents.
 */
function groupKl(
  mem: StepMemory,
  hyper: StepHyper,
  shape: BatchShape,
  q: number,
  scratch: Float64Array,
  math: RowMath,
): void {
  const { dModel: d, temperature: T, kldWeight } = hyper;
  const { x, xhat, g, rowStats } = mem;
  const G = shape.groups;
  const M = shape.neighbours;
  const s = scratch.subarray(0, M);
  const sh = scratch.subarray(M, 2 * M);
  for (let j = 0; j < M; j++) {
    const doc = G + q * M + j;
    s[j] = Math.fround(Math.fround(math.dot(x, doc * d, x, q * d)) / T);
    sh[j] = Math.fround(Math.fround(math.dot(xhat, doc * d, xhat, q * d)) / T);
  }
  const logSumExp = (v: Float64Array): number => {
    let max = -Infinity;
    for (const u of v) max = Math.max(max, u);
    let sum = 0;
    for (const u of v) sum += Math.exp(u - max);
    return max + Math.log(sum);
  };
  const lseP = logSumExp(s);
  const lsePh = logSumExp(sh);
  let kl = 0;
  for (let j = 0; j < M; j++) {
    const logP = s[j]! - lseP;
    const logPh = sh[j]! - lsePh;
    const p = Math.exp(logP);
    kl += p * (logP - logPh);
    // dL/d(q_hat . d_hat_j), reusing s for it once p is known.
    s[j] = shape.wantGrads && kldWeight > 0 ? ((Math.exp(logPh) - p) * kldWeight) / (T * G) : 0;
  }
  rowStats[q * ROW_STATS + STAT_KL] = kl;
  if (!shape.wantGrads || kldWeight <= 0) return;
  for (let j = 0; j < M; j++) {
    const gs = s[j]!;
    const doc = G + q * M + j;
    math.axpy(g, q * d, xhat, doc * d, gs);
    math.axpy(g, doc * d, xhat, q * d, gs);
  }
}

/** dL/dz of row r's active latents, and its AuxK reconstruction error with that error's dL/dz (before scaling). */
function backwardRow(
  mem: StepMemory,
  hyper: StepHyper,
  shape: BatchShape,
  r: number,
  acc: Float32Array | Float64Array,
  math: RowMath,
): void {
  const { dModel: d, k } = hyper;
  const { wDecT, g, idx, vals, dz, auxIdx, auxVals, auxDiff, auxU, xhat, x, rowStats } = mem;
  if (shape.wantGrads) {
    for (let j = r * k; j < (r + 1) * k; j++)
      dz[j] = vals[j]! > 0 ? math.dot(wDecT, idx[j]! * d, g, r * d) : 0;
  }
  const kAux = shape.kAux;
  if (kAux === 0) return;
  acc.fill(0);
  for (let j = r * kAux; j < (r + 1) * kAux; j++) {
    const a = auxVals[j]!;
    if (a > 0) math.axpy(acc, 0, wDecT, auxIdx[j]! * d, a);
  }
  let auxSq = 0;
  for (let c = 0; c < d; c++) {
    // e = x - x_hat is the target; auxDiff = e_hat - e.
    const e = Math.fround(x[r * d + c]! - xhat[r * d + c]!);
    const diff = Math.fround(Math.fround(acc[c]!) - e);
    auxDiff[r * d + c] = diff;
    auxSq += diff * diff;
  }
  rowStats[r * ROW_STATS + STAT_AUX] = auxSq;
  if (shape.wantGrads) {
    for (let j = r * kAux; j < (r + 1) * kAux; j++)
      auxU[j] = auxVals[j]! > 0 ? math.dot(wDecT, auxIdx[j]! * d, auxDiff, r * d) : 0;
  }
}

/** Phase 1 over work units [start, end) by thread `slot`: query groups with their documents, or single rows. */
export function forwardUnits(
  mem: StepMemory,
  hyper: StepHyper,
  shape: BatchShape,
  start: number,
  end: number,
  slot: number,
  kernels?: WasmKernels,
): void {
  const math = rowMath(hyper.dModel, kernels);
  const acc = scratchRow(mem, hyper.dModel, slot, 0, kernels);
  const G = shape.groups;
  const M = shape.neighbours;
  const scratch = new Float64Array(2 * Math.max(1, M));
  for (let u = start; u < end; u++) {
    const rows = G > 0 ? [u, ...Array.from({ length: M }, (_, j) => G + u * M + j)] : [u];
    for (const r of rows) decodeRow(mem, hyper, shape, r, acc, math);
    if (G > 0) groupKl(mem, hyper, shape, u, scratch, math);
    for (const r of rows) backwardRow(mem, hyper, shape, r, acc, math);
  }
}

/** The batch's loss parts from the per-row sums, summed in row order. */
export function lossParts(
  mem: StepMemory,
  hyper: StepHyper,
  shape: BatchShape,
): { loss: number; mse: number; kl: number; auxk: number; auxDenominator: number } {
  let diffSq = 0;
  let weightedDiffSq = 0;
  let auxSq = 0;
  let kl = 0;
  for (let r = 0; r < shape.rows; r++) {
    const rowDiff = mem.rowStats[r * ROW_STATS + STAT_DIFF]!;
    diffSq += rowDiff;
    weightedDiffSq += rowWeight(hyper, shape, r) * rowDiff;
    auxSq += mem.rowStats[r * ROW_STATS + STAT_AUX]!;
    kl += mem.rowStats[r * ROW_STATS + STAT_KL]!;
  }
  const mse = weightedDiffSq / reconstructionWeight(hyper, shape);
  const auxDenominator = diffSq + 1e-12;
  const auxk = shape.kAux > 0 ? auxSq / auxDenominator : 0;
  kl = shape.groups > 0 ? kl / shape.groups : 0;
  const loss = hyper.mseScale * mse + hyper.kldWeight * kl + hyper.auxCoef * hyper.auxScale * auxk;
  return { loss, mse, kl, auxk, auxDenominator };
}

/** What phase 2 does with each latent's gradient. */
export interface UpdateOptions {
  mode: 'adam' | 'gradients';
  /** dL/dz of AuxK = auxU * auxGradScale, dL/d(W_decT row) += a * auxGradScale * auxDiff. */
  auxGradScale: number;
  /** Adam after bias correction: p -= stepSize * m / (sqrt(v) + epsHat). */
  stepSize: number;
  epsHat: number;
}

/** The active entries of latents [first, end) sorted by latent: main entries first, then AuxK's, each in batch order. */
function entriesByLatent(
  mem: StepMemory,
  shape: BatchShape,
  k: number,
  first: number,
  end: number,
): { offsets: Int32Array; entries: Int32Array } {
  const { idx, vals, auxIdx, auxVals } = mem;
  const count = end - first;
  const mainEntries = shape.rows * k;
  const auxEntries = shape.rows * shape.kAux;
  // Counting sort of the active entries by latent.
  const offsets = new Int32Array(count + 1);
  for (let e = 0; e < mainEntries; e++) {
    const i = idx[e]!;
    if (vals[e]! > 0 && i >= first && i < end) offsets[i - first + 1]!++;
  }
  for (let e = 0; e < auxEntries; e++) {
    const i = auxIdx[e]!;
    if (auxVals[e]! > 0 && i >= first && i < end) offsets[i - first + 1]!++;
  }
  for (let i = 0; i < count; i++) offsets[i + 1]! += offsets[i]!;
  const entries = new Int32Array(offsets[count]!);
  const fill = offsets.slice(0, count);
  for (let e = 0; e < mainEntries; e++) {
    const i = idx[e]!;
    if (vals[e]! > 0 && i >= first && i < end) entries[fill[i - first]!++] = e;
  }
  for (let e = 0; e < auxEntries; e++) {
    const i = auxIdx[e]!;
    if (auxVals[e]! > 0 && i >= first && i < end) entries[fill[i - first]!++] = mainEntries + e;
  }
  return { offsets, entries };
}

/** Adam on one row of `d` values and on one scalar, with the step's hyperparameters bound. */
interface AdamUpdate {
  /**
   * One Adam step of the row at `pBase` of `p` (moments at `base`); `grad` undefined decays the row. @returns the
   * updated row's squared norm.
   */
  row(
    p: Float32Array,
    pBase: number,
    m: Float32Array,
    v: Float32Array,
    base: number,
    grad: Float64Array | Float32Array | undefined,
  ): number;
  scalar(p: Float32Array, m: Float32Array, v: Float32Array, at: number, grad: number): void;
}

function adamUpdate(hyper: StepHyper, options: UpdateOptions, kernels?: WasmKernels): AdamUpdate {
  const { dModel: d, beta1: b1, beta2: b2 } = hyper;
  const { stepSize, epsHat } = options;
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  // One Adam step of a row, PyTorch's update with the bias corrections folded into stepSize and epsHat; rows
  // without entries (grad undefined) decay in a tighter loop: m and v shrink, the weight follows its momentum.
  // Returns the updated row's squared norm (for the unit-norm decoder, without another pass over the row).
  // NOTE: intermediate values stay in float64 (only the stored m, v and weights are float32): Math.fround on every
  // term made this loop, the largest of the step, a third slower.
  const row = (
    p: Float32Array,
    pBase: number,
    m: Float32Array,
    v: Float32Array,
    base: number,
    grad: Float64Array | Float32Array | undefined,
  ): number => {
    if (kernels) {
      const run = grad === undefined ? kernels.adamDecay : kernels.adam;
      return run(
        p.byteOffset + 4 * pBase,
        m.byteOffset + 4 * base,
        v.byteOffset + 4 * base,
        grad === undefined ? 0 : grad.byteOffset,
        d,
        b1,
        b2,
        c1,
        c2,
        epsHat,
        stepSize,
      );
    }
    const end = base + d;
    let squares = 0;
    if (grad === undefined) {
      for (let i = base, j = pBase; i < end; i++, j++) {
        const mt = m[i]! * b1;
        const vt = v[i]! * b2;
        m[i] = mt;
        v[i] = vt;
        const value = p[j]! - (mt / (Math.sqrt(vt) + epsHat)) * stepSize;
        p[j] = value;
        squares += value * value;
      }
      return squares;
    }
    for (let i = base, j = pBase, c = 0; i < end; i++, j++, c++) {
      const gr = grad[c]!;
      const mt = m[i]! * b1 + gr * c1;
      const vt = v[i]! * b2 + gr * gr * c2;
      m[i] = mt;
      v[i] = vt;
      const value = p[j]! - (mt / (Math.sqrt(vt) + epsHat)) * stepSize;
      p[j] = value;
      squares += value * value;
    }
    return squares;
  };
  const scalar = (p: Float32Array, m: Float32Array, v: Float32Array, at: number, grad: number): void => {
    const mt = m[at]! * b1 + grad * c1;
    const vt = v[at]! * b2 + grad * grad * c2;
    m[at] = mt;
    v[at] = vt;
    p[at] = p[at]! - (mt / (Math.sqrt(vt) + epsHat)) * stepSize;
  };
  return { row, scalar };
}

/**
 * Sums the gradients of latent entries [from, to) of `entries` into `gEnc` and `gDec` (zeroed first), in batch order.
 * @returns dL/db_enc of the latent and whether a main (not AuxK) entry fired it.
 */
function latentGradients(
  mem: StepMemory,
  hyper: StepHyper,
  shape: BatchShape,
  entries: Int32Array,
  from: number,
  to: number,
  gEnc: Float32Array | Float64Array,
  gDec: Float32Array | Float64Array,
  auxGradScale: number,
  math: RowMath,
): { gB: number; fired: boolean } {
  const { dModel: d, k } = hyper;
  const { vals, auxVals, dz, auxU, g, auxDiff, xc } = mem;
  const kAux = shape.kAux;
  const mainEntries = shape.rows * k;
  let fired = false;
  let gB = 0;
  gEnc.fill(0);
  gDec.fill(0);
  for (let t = from; t < to; t++) {
    let e = entries[t]!;
    let a: number;
    let dzv: number;
    let r: number;
    let gRows: Float32Array;
    if (e < mainEntries) {
      a = vals[e]!;
      dzv = dz[e]!;
      r = Math.floor(e / k);
      gRows = g;
      fired = true;
    } else {
      e -= mainEntries;
      a = auxVals[e]! * auxGradScale;
      dzv = auxU[e]! * auxGradScale;
      r = Math.floor(e / kAux);
      gRows = auxDiff;
    }
    gB += dzv;
    math.axpy(gDec, 0, gRows, r * d, a);
    math.axpy(gEnc, 0, xc, r * d, dzv);
  }
  return { gB, fired };
}

/**
 * Phase 2 over latents [first, end), by thread `slot`: per latent, the sum of its entries' gradients (in batch
 * order), the partial dL/db_dec of its chunk, then Adam (unit-norm decoder rows, dead-latent counters) or the dense
 * gradients. `kernels`, when given, run the row loops (they need `mem` in their memory).
 */
export function updateLatents(
  mem: StepMemory,
  hyper: StepHyper,
  shape: BatchShape,
  first: number,
  end: number,
  slot: number,
  options: UpdateOptions,
  kernels?: WasmKernels,
): void {
  const { dModel: d, deadAfterRows, unitNormDecoder } = hyper;
  const { wEnc, wDecT, mDec, vDec, mEnc, vEnc } = mem;
  const { bEnc, mbEnc, vbEnc, sinceFired, chunkDbDec, chunkDead } = mem;
  const { offsets, entries } = entriesByLatent(mem, shape, hyper.k, first, end);
  const math = rowMath(d, kernels);
  const gEnc = scratchRow(mem, d, slot, 1, kernels);
  const gDec = scratchRow(mem, d, slot, 2, kernels);
  const adam = adamUpdate(hyper, options, kernels);
  let chunk = -1;
  let chunkBase = 0;
  for (let i = first; i < end; i++) {
    if (Math.floor(i / mem.chunkLatents) !== chunk) {
      chunk = Math.floor(i / mem.chunkLatents);
      chunkBase = chunk * d;
      chunkDbDec.fill(0, chunkBase, chunkBase + d);
      chunkDead[chunk] = 0;
    }
    const local = i - first;
    const base = i * d;
    const from = offsets[local]!;
    const to = offsets[local + 1]!;
    let fired = false;
    let gB = 0;
    if (to > from) {
      ({ gB, fired } = latentGradients(
        mem,
        hyper,
        shape,
        entries,
        from,
        to,
        gEnc,
        gDec,
        options.auxGradScale,
        math,
      ));
      for (let c = 0; c < d; c++) chunkDbDec[chunkBase + c]! += gB * wEnc[base + c]!;
    }
    if (options.mode === 'gradients') {
      const dense = mem.dense!;
      for (let c = 0; c < d; c++) {
        dense.wEnc[base + c] = to > from ? gEnc[c]! : 0;
        dense.wDecT[base + c] = to > from ? gDec[c]! : 0;
      }
      dense.bEnc[i] = gB;
      continue;
    }
    const touched = to > from;
    if (touched && unitNormDecoder) {
      // Remove the component of the decoder row's gradient along the row (it would only change its norm).
      let along = 0;
      for (let c = 0; c < d; c++) along += gDec[c]! * wDecT[base + c]!;
      math.axpy(gDec, 0, wDecT, base, -along);
    }
    adam.row(wEnc, base, mEnc, vEnc, base, touched ? gEnc : undefined);
    const squares = adam.row(wDecT, base, mDec, vDec, base, touched ? gDec : undefined);
    if (unitNormDecoder) {
      const inverse = 1 / Math.max(Math.sqrt(squares), 1e-12);
      for (let c = base; c < base + d; c++) wDecT[c] = wDecT[c]! * inverse;
    }
    adam.scalar(bEnc, mbEnc, vbEnc, i, gB);
    const since = fired ? 0 : sinceFired[i]! + shape.rows;
    sinceFired[i] = since;
    if (since >= deadAfterRows) chunkDead[chunk]!++;
  }
}
