// The trainer's CPU core on the whole machine: the one dense product of the step (every latent's pre-activation,
// with its TopK selections) runs on onnxruntime's thread pool (MLAS), and the sparse rest of the step (decode,
// losses, hand-written backward, Adam) runs in this thread and worker threads over shared memory (sparse-step.ts),
// its row loops as WebAssembly SIMD kernels (wasm-kernels.ts).
// Same step as the TF.js core (tf.ts), checked against the same float64 reference.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { createSession } from '@steer/onnx';
import { TrainError, describeError } from '../errors.js';
import { type CoreState, type SaeParams, type StepBatch, type StepHyper } from '../model.js';
import { checkBatchRows, checkStateSizes, type BackendInfo, type TrainerCore } from './core.js';
import { allocateOnnxMemory, shared } from './onnx-memory.js';
import { selectLatents, selectionModel, type Selection } from './onnx-selection.js';
import type { WasmKernels } from './wasm-kernels.js';
import {
  CHUNK_LATENTS,
  forwardUnits,
  lossParts,
  unitCount,
  updateLatents,
  type BatchShape,
  type StepMemory,
  type UpdateOptions,
} from './sparse-step.js';

/** Options of {@link createOnnxCore}. */
export interface OnnxCoreOptions {
  /** Threads for the dense product and the sparse step (default: every core). */
  threads?: number;
  /** Latents per work chunk (default 1024); tests lower it to split tiny SAEs over threads. */
  chunkLatents?: number;
  /** Run the row loops as WebAssembly SIMD where the state fits in 4 GiB (default true); false: plain loops. */
  kernels?: boolean;
}

/** A message to a worker thread of the core, and its answer. */
export type WorkerRequest =
  | { type: 'memory'; mem: StepMemory; hyper: StepHyper }
  | { type: 'forward'; shape: BatchShape; start: number; end: number; slot: number }
  | { type: 'update'; shape: BatchShape; first: number; end: number; slot: number; options: UpdateOptions };
export type WorkerReply = { ok: true } | { ok: false; error: string };

/** Describes the onnx backend for `useBackend`. */
export function onnxBackendInfo(threads = availableParallelism()): BackendInfo {
  return {
    name: 'onnx',
    detail: `onnxruntime CPU (MLAS) for the encoder product, worker threads with WebAssembly SIMD for the sparse step and Adam, ${threads} thread${threads === 1 ? '' : 's'}`,
    threads,
  };
}

/** One worker thread running sparse-step.ts on shared memory; one request at a time. */
class StepWorker {
  readonly #worker: Worker;
  #pending: { resolve: (reply: WorkerReply) => void; reject: (error: Error) => void } | undefined;
  #failure: Error | undefined;

  constructor() {
    this.#worker = new Worker(new URL('./onnx-worker.js', import.meta.url));
    this.#worker.unref();
    this.#worker.on('message', (reply: WorkerReply) => {
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.resolve(reply);
    });
    this.#worker.on('error', (error) => this.#fail(error));
    this.#worker.on('exit', (code) => this.#fail(new Error(`the worker thread exited with code ${code}`)));
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(error);
  }

  call(request: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#worker.postMessage(request, transfer);
    });
  }

  terminate(): void {
    this.#failure ??= new Error('the core was disposed');
    void this.#worker.terminate();
  }
}

/** Latent blocks: thread t owns latents [bounds[t], bounds[t + 1]), whole chunks. */
function blockBounds(n: number, chunkLatents: number, threads: number): number[] {
  const chunks = Math.ceil(n / chunkLatents);
  const blocks = Math.max(1, Math.min(threads, chunks));
  return Array.from({ length: blocks + 1 }, (_, t) =>
    Math.min(n, Math.floor((t * chunks) / blocks) * chunkLatents),
  );
}

/** Starts the selection sessions and `blocks - 1` worker threads. @throws TrainError `backend_unavailable`. */
async function startThreads(
  hyper: StepHyper,
  threads: number,
  blocks: number,
  withAux: boolean,
): Promise<{ selection: Selection; workers: StepWorker[] }> {
  const { dModel: d, nLatents: n, k } = hyper;
  const workers: StepWorker[] = [];
  try {
    const sessionOptions = { intraOpThreads: threads, allowSpinning: false };
    const main = await createSession(selectionModel(n, d, k, false), sessionOptions);
    const aux = withAux ? await createSession(selectionModel(n, d, k, true), sessionOptions) : undefined;
    for (let t = 1; t < blocks; t++) workers.push(new StepWorker());
    return { selection: { main, aux, wEncInput: new Float32Array(n * d), wEncInputStale: true }, workers };
  } catch (error) {
    workers.forEach((w) => w.terminate());
    throw new TrainError(
      'backend_unavailable',
      `train: backend onnx is unavailable: it failed to start (${describeError(error)})`,
      { cause: error },
    );
  }
}

function checkReply(reply: WorkerReply): WorkerReply & { ok: true } {
  if (!reply.ok) throw new TrainError('backend_unavailable', `train: a worker thread failed: ${reply.error}`);
  return reply;
}

/** dL/db_dec = sum over rows of g - sum over latents of dL/db_enc[i] W_enc[i]. */
function biasDecoderGradient(mem: StepMemory, d: number, nChunks: number, rows: number): Float64Array {
  const grad = new Float64Array(d);
  for (let r = 0; r < rows; r++) for (let c = 0; c < d; c++) grad[c]! += mem.g[r * d + c]!;
  for (let chunk = 0; chunk < nChunks; chunk++)
    for (let c = 0; c < d; c++) grad[c]! -= mem.chunkDbDec[chunk * d + c]!;
  return grad;
}

/** The latents not fired for deadAfterRows rows, as a mask, and their count. */
function deadLatents(mem: StepMemory, hyper: StepHyper): { mask: Uint8Array; count: number } {
  const n = hyper.nLatents;
  const mask = new Uint8Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (mem.sinceFired[i]! >= hyper.deadAfterRows) {
      mask[i] = 1;
      count++;
    }
  }
  return { mask, count };
}

/** Adam on b_dec (kept in this thread, in float32 like the rest of the state) with the step's constants. */
function adamBiasDecoder(
  mem: StepMemory,
  hyper: StepHyper,
  moments: { mbDec: Float32Array; vbDec: Float32Array },
  gradBDec: Float64Array,
  updateOptions: UpdateOptions,
): void {
  const { mbDec, vbDec } = moments;
  const { beta1: b1, beta2: b2 } = hyper;
  for (let c = 0; c < hyper.dModel; c++) {
    const gr = Math.fround(gradBDec[c]!);
    const mt = Math.fround(mbDec[c]! * b1 + gr * (1 - b1));
    const vt = Math.fround(vbDec[c]! * b2 + gr * gr * (1 - b2));
    mbDec[c] = mt;
    vbDec[c] = vt;
    mem.bDec[c] =
      mem.bDec[c]! -
      Math.fround(mt / Math.fround(Math.sqrt(vt) + updateOptions.epsHat)) * updateOptions.stepSize;
  }
}

/** A copy of the core's state: weights, Adam moments (b_dec's from this thread), step count and counters. */
function readOnnxState(
  mem: StepMemory,
  moments: { mbDec: Float32Array; vbDec: Float32Array },
  adamStep: number,
): CoreState {
  return {
    params: {
      wEnc: mem.wEnc.slice(),
      bEnc: mem.bEnc.slice(),
      wDecT: mem.wDecT.slice(),
      bDec: mem.bDec.slice(),
    },
    adamM: {
      wEnc: mem.mEnc.slice(),
      bEnc: mem.mbEnc.slice(),
      wDecT: mem.mDec.slice(),
      bDec: moments.mbDec.slice(),
    },
    adamV: {
      wEnc: mem.vEnc.slice(),
      bEnc: mem.vbEnc.slice(),
      wDecT: mem.vDec.slice(),
      bDec: moments.vbDec.slice(),
    },
    adamStep,
    sinceFired: mem.sinceFired.slice(),
  };
}

/** The latent split of a core: thread t updates latents [bounds[t], bounds[t + 1]). */
interface Threads {
  workers: StepWorker[];
  bounds: number[];
  blocks: number;
  kernels: WasmKernels | undefined;
}

/** Phase 1 on all threads: this one takes the first share of the work units. */
async function forwardOnThreads(
  mem: StepMemory,
  hyper: StepHyper,
  threads: Threads,
  shape: BatchShape,
): Promise<void> {
  const units = unitCount(shape);
  const parts = Math.min(threads.blocks, units);
  const range = (t: number): [number, number] => [
    Math.floor((t * units) / parts),
    Math.floor(((t + 1) * units) / parts),
  ];
  const pending = threads.workers.slice(0, parts - 1).map((w, i) => {
    const [start, end] = range(i + 1);
    return w.call({ type: 'forward', shape, start, end, slot: i + 1 });
  });
  const [start, end] = range(0);
  forwardUnits(mem, hyper, shape, start, end, 0, threads.kernels);
  (await Promise.all(pending)).forEach(checkReply);
}

/** Phase 2 on all threads, each on its block of latents. */
async function updateOnThreads(
  mem: StepMemory,
  hyper: StepHyper,
  threads: Threads,
  shape: BatchShape,
  updateOptions: UpdateOptions,
): Promise<void> {
  const { workers, bounds } = threads;
  const pending = workers.map((w, i) =>
    w
      .call({
        type: 'update',
        shape,
        first: bounds[i + 1]!,
        end: bounds[i + 2]!,
        slot: i + 1,
        options: updateOptions,
      })
      .then(checkReply),
  );
  updateLatents(mem, hyper, shape, bounds[0]!, bounds[1]!, 0, updateOptions, threads.kernels);
  await Promise.all(pending);
}

/** Phase 2's options for Adam step `adamStep` at learning rate `lr`, the bias corrections folded into the constants. */
function adamOptions(hyper: StepHyper, adamStep: number, lr: number, auxGradScale: number): UpdateOptions {
  const bc1 = 1 - Math.pow(hyper.beta1, adamStep);
  const bc2 = 1 - Math.pow(hyper.beta2, adamStep);
  return {
    mode: 'adam',
    auxGradScale,
    stepSize: (lr * Math.sqrt(bc2)) / bc1,
    epsHat: hyper.eps * Math.sqrt(bc2),
  };
}

/**
 * Starts the onnxruntime core on `state` (copied): one selection session, and `threads - 1` worker threads.
 * @throws TrainError `bad_config` when array sizes disagree with `hyper`, `backend_unavailable` when onnxruntime
 * or the worker threads cannot start.
 */
export async function createOnnxCore(
  hyper: StepHyper,
  state: CoreState,
  options: OnnxCoreOptions = {},
): Promise<TrainerCore> {
  const { dModel: d, nLatents: n, k } = hyper;
  checkStateSizes(state, d, n);
  const threadCount = options.threads ?? availableParallelism();
  if (!Number.isInteger(threadCount) || threadCount < 1) {
    throw new TrainError('bad_config', `train: threads must be a positive integer, got ${threadCount}`);
  }
  const chunkLatents = options.chunkLatents ?? CHUNK_LATENTS;
  const bounds = blockBounds(n, chunkLatents, threadCount);
  const blocks = bounds.length - 1;
  const kAuxMax = Math.min(hyper.auxK, n);
  const nChunks = Math.ceil(n / chunkLatents);
  const memory = allocateOnnxMemory(hyper, state, {
    chunkLatents,
    blocks,
    nChunks,
    kAuxMax,
    kernels: options.kernels !== false,
  });
  const { mem } = memory;
  const moments = { mbDec: Float32Array.from(state.adamM.bDec), vbDec: Float32Array.from(state.adamV.bDec) };
  let adamStep = state.adamStep;
  const { selection, workers } = await startThreads(hyper, threadCount, blocks, kAuxMax > 0);
  const threads: Threads = { workers, bounds, blocks, kernels: memory.kernels };
  const tellWorkers = async (): Promise<void> => {
    await Promise.all(workers.map((w) => w.call({ type: 'memory', mem, hyper })));
  };

  /** Selection and phase 1 of a batch; with `grads`, AuxK on the dead latents as in a step. */
  const prepare = async (batch: StepBatch, grads: boolean): Promise<BatchShape> => {
    const rows = checkBatchRows(batch, d);
    const dead = grads && kAuxMax > 0 ? deadLatents(mem, hyper) : undefined;
    const kAux = dead !== undefined ? Math.min(kAuxMax, dead.count) : 0;
    if (memory.ensureRows(rows)) await tellWorkers();
    await selectLatents(selection, mem, hyper, batch, rows, dead?.mask, kAux);
    const shape: BatchShape = {
      rows,
      groups: batch.neighbours > 0 ? batch.groups : 0,
      neighbours: batch.neighbours,
      kAux,
      wantGrads: grads,
    };
    await forwardOnThreads(mem, hyper, threads, shape);
    return shape;
  };
  const update = async (shape: BatchShape, updateOptions: UpdateOptions): Promise<void> => {
    await updateOnThreads(mem, hyper, threads, shape, updateOptions);
    selection.wEncInputStale = true;
  };
  const auxGradScale = (shape: BatchShape, auxDenominator: number): number =>
    shape.kAux > 0 ? (2 * hyper.auxCoef * hyper.auxScale) / auxDenominator : 0;

  let disposed = false;
  const live = (): void => {
    if (disposed) throw new TrainError('bad_config', 'train: the onnx core was disposed; create a new one');
  };

  return {
    backend: 'onnx',

    async step(batch, lr) {
      live();
      const shape = await prepare(batch, true);
      const parts = lossParts(mem, hyper, shape);
      adamStep += 1;
      const updateOptions = adamOptions(hyper, adamStep, lr, auxGradScale(shape, parts.auxDenominator));
      await update(shape, updateOptions);
      adamBiasDecoder(mem, hyper, moments, biasDecoderGradient(mem, d, nChunks, shape.rows), updateOptions);
      let dead = 0;
      for (let chunk = 0; chunk < nChunks; chunk++) dead += mem.chunkDead[chunk]!;
      return { loss: parts.loss, mse: parts.mse, kl: parts.kl, auxk: parts.auxk, deadFraction: dead / n };
    },

    async evaluate(batch) {
      live();
      const shape = await prepare(batch, false);
      const parts = lossParts(mem, hyper, shape);
      const fired = new Uint8Array(n);
      for (let e = 0; e < shape.rows * k; e++) if (mem.vals[e]! > 0) fired[mem.idx[e]!] = 1;
      return { loss: parts.loss, mse: parts.mse, kl: parts.kl, auxk: parts.auxk, fired };
    },

    async gradients(batch) {
      live();
      mem.dense ??= {
        wEnc: shared(Float32Array, n * d),
        wDecT: shared(Float32Array, n * d),
        bEnc: shared(Float32Array, n),
      };
      await tellWorkers();
      const shape = await prepare(batch, true);
      const parts = lossParts(mem, hyper, shape);
      await update(shape, {
        mode: 'gradients',
        auxGradScale: auxGradScale(shape, parts.auxDenominator),
        stepSize: 0,
        epsHat: 0,
      });
      const grads: SaeParams = {
        wEnc: mem.dense.wEnc.slice(),
        bEnc: mem.dense.bEnc.slice(),
        wDecT: mem.dense.wDecT.slice(),
        bDec: Float32Array.from(biasDecoderGradient(mem, d, nChunks, shape.rows)),
      };
      return { parts: { loss: parts.loss, mse: parts.mse, kl: parts.kl, auxk: parts.auxk }, grads };
    },

    async readState() {
      live();
      return readOnnxState(mem, moments, adamStep);
    },

    dispose() {
      if (disposed) return;
      disposed = true;
      workers.forEach((w) => w.terminate());
      void selection.main.dispose();
      void selection.aux?.dispose();
    },
  };
}
