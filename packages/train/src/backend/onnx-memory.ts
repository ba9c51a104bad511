// The onnx core's memory: the weights, Adam moments and batch arrays of sparse-step.ts, in one shared WebAssembly
// memory for the SIMD kernels when they fit in its 4 GiB, else in SharedArrayBuffers for the plain loops.
import { TrainError } from '../errors.js';
import type { CoreState, StepHyper } from '../model.js';
import { ROW_STATS, SCRATCH_ROWS, type StepMemory } from './sparse-step.js';
import {
  MAX_KERNEL_BYTES,
  growKernelMemory,
  instantiateKernels,
  kernelMemory,
  kernelModule,
  type WasmKernels,
} from './wasm-kernels.js';

/** A [length] array on a SharedArrayBuffer (at least one element), filled from `from` when given. */
export function shared<T extends Float32Array | Int32Array | Float64Array>(
  Type: { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
  length: number,
  from?: ArrayLike<number>,
): T {
  const array = new Type(new SharedArrayBuffer(Math.max(1, length) * Type.BYTES_PER_ELEMENT));
  if (from !== undefined) (array as unknown as { set(a: ArrayLike<number>): void }).set(from);
  return array;
}

/** The memory of one onnx core. */
export interface OnnxMemory {
  mem: StepMemory;
  /** The SIMD kernels on `mem`, or undefined when the plain loops run (no kernels, or a state over 4 GiB). */
  kernels: WasmKernels | undefined;
  /** Grows the batch arrays to hold `rows` rows. @returns whether they grew (the workers must be told). */
  ensureRows(rows: number): boolean;
}

/** How the latents are cut: `blocks` threads' blocks of `chunkLatents`-latent chunks. */
export interface MemoryLayout {
  chunkLatents: number;
  blocks: number;
  nChunks: number;
  kAuxMax: number;
  /** False runs the plain loops even where the kernels would fit. */
  kernels: boolean;
}

/**
 * Allocates the memory of a core on a copy of `state`. @throws TrainError `bad_config` when the state and a batch
 * outgrow 4 GiB of WebAssembly memory.
 */
export function allocateOnnxMemory(hyper: StepHyper, state: CoreState, layout: MemoryLayout): OnnxMemory {
  const { dModel: d, nLatents: n, k } = hyper;
  const { chunkLatents, blocks, nChunks, kAuxMax } = layout;
  // onnxruntime refuses shared memory, so the selection reads W_enc from a plain copy, refreshed after every update.
  // Room for the batch rows the kernels read (x, x - b_dec, x_hat, dL/dx_hat, AuxK's error) of 1,024 rows; more
  // grows the memory.
  const batchFloats = (rows: number): number => 5 * rows * d;
  const stateBytes = (6 * n * d + 4 * n + d + SCRATCH_ROWS * blocks * d + batchFloats(1024)) * 4 + 64 * 16;
  const module = layout.kernels ? kernelModule() : undefined;
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
  let capacity = 0;
  const ensureRows = (rows: number): boolean => {
    if (rows <= capacity) return false;
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
    return true;
  };
  return { mem, kernels, ensureRows };
}
