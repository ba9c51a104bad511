// The trainer's CPU core on the whole machine: the one dense product of the step (every latent's pre-activation,
// with its TopK selections) runs on onnxruntime's thread pool (MLAS), and the sparse rest of the step (decode,
// losses, hand-written backward, Adam) runs in this thread and worker threads over shared memory (sparse-step.ts),
// its row loops as WebAssembly SIMD kernels (wasm-kernels.ts).
// Same step as the TF.js core (tf.ts), checked against the same float64 reference.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { buildModel, createSession, type NodeSpec, type Session, type ValueInfo } from '@steer/onnx';
import { TrainError, describeError } from '../errors.js';
import { batchRows, type CoreState, type SaeParams, type StepBatch, type StepHyper } from '../model.js';
import type { BackendInfo, NeighbourSearch, TrainerCore } from './core.js';
import { collectNeighbours } from './neighbours.js';
import {
  MAX_KERNEL_BYTES,
  growKernelMemory,
  instantiateKernels,
  kernelMemory,
  kernelModule,
} from './wasm-kernels.js';
import {
  CHUNK_LATENTS,
  ROW_STATS,
  SCRATCH_ROWS,
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

function shared<T extends Float32Array | Int32Array | Float64Array>(
  Type: { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
  length: number,
  from?: ArrayLike<number>,
): T {
  const array = new Type(new SharedArrayBuffer(Math.max(1, length) * Type.BYTES_PER_ELEMENT));
  if (from !== undefined) (array as unknown as { set(a: ArrayLike<number>): void }).set(from);
  return array;
}

/** Latent blocks: thread t owns latents [bounds[t], bounds[t + 1]), whole chunks. */
function blockBounds(n: number, chunkLatents: number, threads: number): number[] {
  const chunks = Math.ceil(n / chunkLatents);
  const blocks = Math.max(1, Math.min(threads, chunks));
  return Array.from({ length: blocks + 1 }, (_, t) =>
    Math.min(n, Math.floor((t * chunks) / blocks) * chunkLatents),
  );
}

const INT32 = 6; // ONNX TensorProto data type of int32

/**
 * The selection graph: z = x W_enc^T + b_enc and its top k, and with AuxK the top kAux of z + penalty (0 on dead
 * latents, -1e30 elsewhere). Outputs `vals` [rows, k] (descending) and `idx` [rows, k] int32, plus `aux_vals` and
 * `aux_idx` [rows, kAux].
 */
function selectionModel(n: number, d: number, k: number, withAux: boolean): Uint8Array {
  const inputs: ValueInfo[] = [
    { name: 'x', type: 'float32', shape: ['rows', d] },
    { name: 'w', type: 'float32', shape: [n, d] },
    { name: 'b', type: 'float32', shape: [n] },
  ];
  const outputs: ValueInfo[] = [
    { name: 'vals', type: 'float32', shape: ['rows', k] },
    { name: 'idx', type: 'int32', shape: ['rows', k] },
  ];
  const nodes: NodeSpec[] = [
    { op: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['z'], attributes: { transB: 1 } },
    {
      op: 'TopK',
      inputs: ['z', 'k'],
      outputs: ['vals', 'idx64'],
      attributes: { axis: -1, largest: 1, sorted: 1 },
    },
    { op: 'Cast', inputs: ['idx64'], outputs: ['idx'], attributes: { to: INT32 } },
  ];
  if (withAux) {
    inputs.push(
      { name: 'penalty', type: 'float32', shape: [n] },
      { name: 'kaux', type: 'int64', shape: [1] },
    );
    outputs.push(
      { name: 'aux_vals', type: 'float32', shape: ['rows', 'kaux'] },
      { name: 'aux_idx', type: 'int32', shape: ['rows', 'kaux'] },
    );
    nodes.push(
      { op: 'Add', inputs: ['z', 'penalty'], outputs: ['z_dead'] },
      {
        op: 'TopK',
        inputs: ['z_dead', 'kaux'],
        outputs: ['aux_vals', 'aux_idx64'],
        attributes: { axis: -1, largest: 1, sorted: 1 },
      },
      { op: 'Cast', inputs: ['aux_idx64'], outputs: ['aux_idx'], attributes: { to: INT32 } },
    );
  }
  return buildModel({
    name: 'steer_train_select',
    inputs,
    outputs,
    nodes,
    initializers: [{ name: 'k', type: 'int64', dims: [1], data: new BigInt64Array([BigInt(k)]) }],
  });
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
  const sizes = { wEnc: n * d, bEnc: n, wDecT: n * d, bDec: d };
  for (const part of [state.params, state.adamM, state.adamV]) {
    for (const key of ['wEnc', 'bEnc', 'wDecT', 'bDec'] as const) {
      if (part[key].length !== sizes[key]) {
        throw new TrainError(
          'bad_config',
          `train: state array ${key} has ${part[key].length} values, expected ${sizes[key]}`,
        );
      }
    }
  }
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new TrainError('bad_config', `train: threads must be a positive integer, got ${threads}`);
  }
  const chunkLatents = options.chunkLatents ?? CHUNK_LATENTS;
  const bounds = blockBounds(n, chunkLatents, threads);
  const blocks = bounds.length - 1;
  const kAuxMax = Math.min(hyper.auxK, n);
  const nChunks = Math.ceil(n / chunkLatents);

  // The weights and Adam moments live in one shared WebAssembly memory for the SIMD kernels when they fit in its
  // 4 GiB, else in SharedArrayBuffers for the plain loops. onnxruntime refuses shared memory, so the selection reads
  // W_enc from a plain copy, refreshed after every update.
  // Room for the batch rows the kernels read (x, x - b_dec, x_hat, dL/dx_hat, AuxK's error) of 1,024 rows; more
  // grows the memory.
  const batchFloats = (rows: number): number => 5 * rows * d;
  const stateBytes = (6 * n * d + 4 * n + d + SCRATCH_ROWS * blocks * d + batchFloats(1024)) * 4 + 64 * 16;
  const module = options.kernels === false ? undefined : kernelModule();
  const kernelMem =
    module !== undefined && stateBytes <= MAX_KERNEL_BYTES ? kernelMemory(stateBytes) : undefined;
  const kernels = kernelMem !== undefined ? instantiateKernels(module!, kernelMem) : undefined;
  let offset = 0;
  /** A [length] view in the kernels' memory (16-byte aligned, for the v128 loads), or a SharedArrayBuffer. */
  const state32 = <T extends Float32Array | Int32Array>(
    Type: {
      new (buffer: SharedArrayBuffer, byteOffset: number, length: number): T;
      new (buffer: SharedArrayBuffer): T;
      BYTES_PER_ELEMENT: number;
    },
    length: number,
    from?: ArrayLike<number>,
  ): T => {
    if (kernelMem === undefined) return shared(Type, length, from);
    const bytes = Math.ceil((length * 4) / 16) * 16;
    if (!growKernelMemory(kernelMem, offset + bytes)) {
      throw new TrainError(
        'bad_config',
        `train: the onnx core's state and a batch of this size need more than 4 GiB of WebAssembly memory; use a smaller --batch`,
      );
    }
    const view = new Type(kernelMem.buffer, offset, length);
    offset += bytes;
    if (from !== undefined) (view as unknown as { set(a: ArrayLike<number>): void }).set(from);
    return view;
  };
  const wEncInput = new Float32Array(n * d);
  let wEncInputStale = true;
  const mbDec = Float32Array.from(state.adamM.bDec);
  const vbDec = Float32Array.from(state.adamV.bDec);
  let adamStep = state.adamStep;
  let capacity = 0;
  const mem: StepMemory = {
    chunkLatents,
    ...(kernelMem !== undefined ? { kernelMemory: kernelMem } : {}),
    scratch: state32(Float32Array, SCRATCH_ROWS * blocks * d),
    wEnc: state32(Float32Array, n * d, state.params.wEnc),
    wDecT: state32(Float32Array, n * d, state.params.wDecT),
    mDec: state32(Float32Array, n * d, state.adamM.wDecT),
    vDec: state32(Float32Array, n * d, state.adamV.wDecT),
    mEnc: state32(Float32Array, n * d, state.adamM.wEnc),
    vEnc: state32(Float32Array, n * d, state.adamV.wEnc),
    bEnc: state32(Float32Array, n, state.params.bEnc),
    mbEnc: state32(Float32Array, n, state.adamM.bEnc),
    vbEnc: state32(Float32Array, n, state.adamV.bEnc),
    bDec: state32(Float32Array, d, state.params.bDec),
    sinceFired: state32(Int32Array, n, state.sinceFired),
    x: shared(Float32Array, 0),
    xc: shared(Float32Array, 0),
    idx: shared(Int32Array, 0),
    vals: shared(Float32Array, 0),
    auxIdx: shared(Int32Array, 0),
    auxVals: shared(Float32Array, 0),
    xhat: shared(Float32Array, 0),
    g: shared(Float32Array, 0),
    dz: shared(Float32Array, 0),
    auxDiff: shared(Float32Array, 0),
    auxU: shared(Float32Array, 0),
    rowStats: shared(Float64Array, 0),
    chunkDbDec: shared(Float64Array, nChunks * d),
    chunkDead: shared(Int32Array, nChunks),
  };

  let sessions: { main: Session; aux: Session | undefined };
  const workers: StepWorker[] = [];
  try {
    const sessionOptions = { intraOpThreads: threads, allowSpinning: false };
    sessions = {
      main: await createSession(selectionModel(n, d, k, false), sessionOptions),
      aux: kAuxMax > 0 ? await createSession(selectionModel(n, d, k, true), sessionOptions) : undefined,
    };
    for (let t = 1; t < blocks; t++) workers.push(new StepWorker());
  } catch (error) {
    workers.forEach((w) => w.terminate());
    throw new TrainError(
      'backend_unavailable',
      `train: backend onnx is unavailable: it failed to start (${describeError(error)})`,
      { cause: error },
    );
  }

  const ensureCapacity = async (rows: number): Promise<void> => {
    if (rows <= capacity) return;
    capacity = rows;
    mem.x = state32(Float32Array, rows * d);
    mem.xc = state32(Float32Array, rows * d);
    mem.idx = shared(Int32Array, rows * k);
    mem.vals = shared(Float32Array, rows * k);
    mem.auxIdx = shared(Int32Array, rows * kAuxMax);
    mem.auxVals = shared(Float32Array, rows * kAuxMax);
    mem.xhat = state32(Float32Array, rows * d);
    mem.g = state32(Float32Array, rows * d);
    mem.dz = shared(Float32Array, rows * k);
    mem.auxDiff = state32(Float32Array, rows * d);
    mem.auxU = shared(Float32Array, rows * kAuxMax);
    mem.rowStats = shared(Float64Array, rows * ROW_STATS);
    await Promise.all(workers.map((w) => w.call({ type: 'memory', mem, hyper })));
  };

  const checkReply = (reply: WorkerReply): WorkerReply & { ok: true } => {
    if (!reply.ok)
      throw new TrainError('backend_unavailable', `train: a worker thread failed: ${reply.error}`);
    return reply;
  };

  /** Loads the batch, runs the selection graph, and copies the selections into shared memory. */
  const select = async (
    batch: StepBatch,
    rows: number,
    dead: Uint8Array | undefined,
    kAux: number,
  ): Promise<void> => {
    await ensureCapacity(rows);
    mem.x.set(batch.x);
    const xc = new Float32Array(rows * d);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < d; c++) xc[r * d + c] = batch.x[r * d + c]! - mem.bDec[c]!;
    mem.xc.set(xc);
    const feeds: Record<
      string,
      { type: 'float32' | 'int64'; data: Float32Array | BigInt64Array; dims: number[] }
    > = {
      x: { type: 'float32', data: xc, dims: [rows, d] },
    };
    if (wEncInputStale) {
      wEncInput.set(mem.wEnc);
      wEncInputStale = false;
    }
    feeds.w = { type: 'float32', data: wEncInput, dims: [n, d] };
    feeds.b = { type: 'float32', data: mem.bEnc.slice(), dims: [n] };
    if (kAux > 0) {
      const penalty = new Float32Array(n);
      for (let i = 0; i < n; i++) penalty[i] = dead![i] ? 0 : -1e30;
      feeds.penalty = { type: 'float32', data: penalty, dims: [n] };
      feeds.kaux = { type: 'int64', data: new BigInt64Array([BigInt(kAux)]), dims: [1] };
    }
    const session = kAux > 0 ? sessions.aux! : sessions.main;
    const out = await session.run(feeds);
    mem.vals.set(out.vals!.data as Float32Array);
    mem.idx.set(out.idx!.data as Int32Array);
    if (kAux > 0) {
      mem.auxVals.set(out.aux_vals!.data as Float32Array);
      mem.auxIdx.set(out.aux_idx!.data as Int32Array);
    }
  };

  /** Phase 1 on all threads: this one takes the first share of the work units. */
  const forward = async (shape: BatchShape): Promise<void> => {
    const units = unitCount(shape);
    const parts = Math.min(blocks, units);
    const range = (t: number): [number, number] => [
      Math.floor((t * units) / parts),
      Math.floor(((t + 1) * units) / parts),
    ];
    const pending = workers.slice(0, parts - 1).map((w, i) => {
      const [start, end] = range(i + 1);
      return w.call({ type: 'forward', shape, start, end, slot: i + 1 });
    });
    const [start, end] = range(0);
    forwardUnits(mem, hyper, shape, start, end, 0, kernels);
    (await Promise.all(pending)).forEach(checkReply);
  };

  /** Phase 2 on all threads, each on its block of latents. */
  const update = async (shape: BatchShape, updateOptions: UpdateOptions): Promise<void> => {
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
    updateLatents(mem, hyper, shape, bounds[0]!, bounds[1]!, 0, updateOptions, kernels);
    await Promise.all(pending);
    wEncInputStale = true;
  };

  /** dL/db_dec = sum over rows of g - sum over latents of dL/db_enc[i] W_enc[i]. */
  const biasDecoderGradient = (rows: number): Float64Array => {
    const grad = new Float64Array(d);
    for (let r = 0; r < rows; r++) for (let c = 0; c < d; c++) grad[c]! += mem.g[r * d + c]!;
    for (let chunk = 0; chunk < nChunks; chunk++)
      for (let c = 0; c < d; c++) grad[c]! -= mem.chunkDbDec[chunk * d + c]!;
    return grad;
  };

  const deadLatents = (): { mask: Uint8Array; count: number } => {
    const mask = new Uint8Array(n);
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (mem.sinceFired[i]! >= hyper.deadAfterRows) {
        mask[i] = 1;
        count++;
      }
    }
    return { mask, count };
  };

  const checkBatch = (batch: StepBatch): number => {
    const rows = batchRows(batch);
    if (rows < 1 || batch.x.length !== rows * d) {
      throw new TrainError(
        'bad_input',
        `train: batch has ${batch.x.length} values, expected ${rows} rows of ${d}`,
      );
    }
    return rows;
  };

  /** Selection and phase 1 of a batch; with `grads`, AuxK on the dead latents as in a step. */
  const prepare = async (batch: StepBatch, grads: boolean): Promise<BatchShape> => {
    const rows = checkBatch(batch);
    const dead = grads && kAuxMax > 0 ? deadLatents() : undefined;
    const kAux = dead !== undefined ? Math.min(kAuxMax, dead.count) : 0;
    await select(batch, rows, dead?.mask, kAux);
    const shape: BatchShape = {
      rows,
      groups: batch.neighbours > 0 ? batch.groups : 0,
      neighbours: batch.neighbours,
      kAux,
      wantGrads: grads,
    };
    await forward(shape);
    return shape;
  };

  const copyParams = (): SaeParams => ({
    wEnc: mem.wEnc.slice(),
    bEnc: mem.bEnc.slice(),
    wDecT: mem.wDecT.slice(),
    bDec: mem.bDec.slice(),
  });

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
      const bc1 = 1 - Math.pow(hyper.beta1, adamStep);
      const bc2 = 1 - Math.pow(hyper.beta2, adamStep);
      const updateOptions: UpdateOptions = {
        mode: 'adam',
        auxGradScale: shape.kAux > 0 ? (2 * hyper.auxCoef * hyper.auxScale) / parts.auxDenominator : 0,
        stepSize: (lr * Math.sqrt(bc2)) / bc1,
        epsHat: hyper.eps * Math.sqrt(bc2),
      };
      await update(shape, updateOptions);
      const gradBDec = biasDecoderGradient(shape.rows);
      const { beta1: b1, beta2: b2 } = hyper;
      for (let c = 0; c < d; c++) {
        const gr = Math.fround(gradBDec[c]!);
        const mt = Math.fround(mbDec[c]! * b1 + gr * (1 - b1));
        const vt = Math.fround(vbDec[c]! * b2 + gr * gr * (1 - b2));
        mbDec[c] = mt;
        vbDec[c] = vt;
        mem.bDec[c] =
          mem.bDec[c]! -
          Math.fround(mt / Math.fround(Math.sqrt(vt) + updateOptions.epsHat)) * updateOptions.stepSize;
      }
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
      await Promise.all(workers.map((w) => w.call({ type: 'memory', mem, hyper })));
      const shape = await prepare(batch, true);
      const parts = lossParts(mem, hyper, shape);
      await update(shape, {
        mode: 'gradients',
        auxGradScale: shape.kAux > 0 ? (2 * hyper.auxCoef * hyper.auxScale) / parts.auxDenominator : 0,
        stepSize: 0,
        epsHat: 0,
      });
      const grads: SaeParams = {
        wEnc: mem.dense.wEnc.slice(),
        bEnc: mem.dense.bEnc.slice(),
        wDecT: mem.dense.wDecT.slice(),
        bDec: Float32Array.from(biasDecoderGradient(shape.rows)),
      };
      return { parts: { loss: parts.loss, mse: parts.mse, kl: parts.kl, auxk: parts.auxk }, grads };
    },

    async readState() {
      live();
      return {
        params: copyParams(),
        adamM: {
          wEnc: mem.mEnc.slice(),
          bEnc: mem.mbEnc.slice(),
          wDecT: mem.mDec.slice(),
          bDec: mbDec.slice(),
        },
        adamV: {
          wEnc: mem.vEnc.slice(),
          bEnc: mem.vbEnc.slice(),
          wDecT: mem.vDec.slice(),
          bDec: vbDec.slice(),
        },
        adamStep,
        sinceFired: mem.sinceFired.slice(),
      };
    },

    dispose() {
      if (disposed) return;
      disposed = true;
      workers.forEach((w) => w.terminate());
      void sessions.main.dispose();
      void sessions.aux?.dispose();
    },
  };
}

/** Exact nearest neighbours (see NeighbourSearch) on onnxruntime's thread pool: a Gemm and TopK per chunk of queries. */
export const onnxNearestNeighbours: NeighbourSearch = async (queries, docs, dModel, m, options) => {
  const nQueries = queries.length / dModel;
  const nDocs = docs.length / dModel;
  const take = Math.min(nDocs, m + (options.excludeSelf ? 1 : 0));
  const out = new Int32Array(nQueries * m);
  if (nQueries === 0 || take === 0) return out;
  const session = await createSession(
    buildModel({
      name: 'steer_train_neighbours',
      inputs: [
        { name: 'q', type: 'float32', shape: ['rows', dModel] },
        { name: 'docs', type: 'float32', shape: [nDocs, dModel] },
      ],
      outputs: [{ name: 'idx', type: 'int32', shape: ['rows', take] }],
      initializers: [{ name: 'take', type: 'int64', dims: [1], data: new BigInt64Array([BigInt(take)]) }],
      nodes: [
        { op: 'Gemm', inputs: ['q', 'docs'], outputs: ['scores'], attributes: { transB: 1 } },
        {
          op: 'TopK',
          inputs: ['scores', 'take'],
          outputs: ['values', 'idx64'],
          attributes: { axis: -1, largest: 1, sorted: 1 },
        },
        { op: 'Cast', inputs: ['idx64'], outputs: ['idx'], attributes: { to: INT32 } },
      ],
    }),
    { intraOpThreads: availableParallelism(), allowSpinning: false },
  );
  // NOTE: onnxruntime refuses views into SharedArrayBuffers and subarrays must start at offset 0 of a buffer
  // onnxruntime can read, so the documents are passed as one plain array.
  const docsInput = docs.buffer instanceof ArrayBuffer ? docs : Float32Array.from(docs);
  const chunk = Math.max(1, Math.min(1024, Math.floor(16_000_000 / Math.max(1, nDocs))));
  try {
    for (let start = 0; start < nQueries; start += chunk) {
      const rows = Math.min(chunk, nQueries - start);
      const q = queries.slice(start * dModel, (start + rows) * dModel);
      const result = await session.run({
        q: { type: 'float32', data: q, dims: [rows, dModel] },
        docs: { type: 'float32', data: docsInput, dims: [nDocs, dModel] },
      });
      const data = result.idx!.data as Int32Array;
      collectNeighbours(data, start, rows, take, m, options.excludeSelf, out);
      options.onProgress?.(start + rows, nQueries);
    }
  } finally {
    await session.dispose();
  }
  return out;
};
