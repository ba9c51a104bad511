// The dense part of the onnx core's step: one onnxruntime graph (Gemm, then TopK, and AuxK's TopK over the dead
// latents) on onnxruntime's CPU thread pool, and the copy of its selections into the shared step memory.
import { buildModel, type NodeSpec, type Session, type ValueInfo } from '@steer/onnx';
import type { StepBatch, StepHyper } from '../model.js';
import type { StepMemory } from './sparse-step.js';

const INT32 = 6; // ONNX TensorProto data type of int32

/**
 * The selection graph: z = x W_enc^T + b_enc and its top k, and with AuxK the top kAux of z + penalty (0 on dead
 * latents, -1e30 elsewhere). Outputs `vals` [rows, k] (descending) and `idx` [rows, k] int32, plus `aux_vals` and
 * `aux_idx` [rows, kAux].
 */
export function selectionModel(n: number, d: number, k: number, withAux: boolean): Uint8Array {
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

/** The selection sessions of a core, and the plain copy of W_enc onnxruntime reads (it refuses shared memory). */
export interface Selection {
  main: Session;
  /** With AuxK: the graph with the dead latents' top kAux too. */
  aux: Session | undefined;
  wEncInput: Float32Array; // [n, d]
  /** True when W_enc changed since it was copied into `wEncInput`. */
  wEncInputStale: boolean;
}

/**
 * Loads the batch (x and x - b_dec) into `mem` (which holds `rows` rows), runs the selection graph, and copies the
 * selections into `mem`; AuxK's too when `kAux` > 0, over the latents `dead` marks.
 */
export async function selectLatents(
  selection: Selection,
  mem: StepMemory,
  hyper: StepHyper,
  batch: StepBatch,
  rows: number,
  dead: Uint8Array | undefined,
  kAux: number,
): Promise<void> {
  const { dModel: d, nLatents: n } = hyper;
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
  if (selection.wEncInputStale) {
    selection.wEncInput.set(mem.wEnc);
    selection.wEncInputStale = false;
  }
  feeds.w = { type: 'float32', data: selection.wEncInput, dims: [n, d] };
  feeds.b = { type: 'float32', data: mem.bEnc.slice(), dims: [n] };
  if (kAux > 0) {
    const penalty = new Float32Array(n);
    for (let i = 0; i < n; i++) penalty[i] = dead![i] ? 0 : -1e30;
    feeds.penalty = { type: 'float32', data: penalty, dims: [n] };
    feeds.kaux = { type: 'int64', data: new BigInt64Array([BigInt(kAux)]), dims: [1] };
  }
  const session = kAux > 0 ? selection.aux! : selection.main;
  const out = await session.run(feeds);
  mem.vals.set(out.vals!.data as Float32Array);
  mem.idx.set(out.idx!.data as Int32Array);
  if (kAux > 0) {
    mem.auxVals.set(out.aux_vals!.data as Float32Array);
    mem.auxIdx.set(out.aux_idx!.data as Int32Array);
  }
}
