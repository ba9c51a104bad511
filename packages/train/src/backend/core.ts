// What every compute core of the trainer provides (TF.js in tf.ts, onnxruntime + worker threads in onnx.ts), and
// the names of the backends a run can choose.
import { TrainError } from '../errors.js';
import { batchRows, type CoreState, type LossParts, type SaeParams, type StepBatch } from '../model.js';

/** The compute backends the trainer can run on. */
export type BackendName = 'cuda' | 'webgpu' | 'onnx' | 'wasm' | 'cpu';

/**
 * All backend names, in the order `auto` tries them (fastest first): the TF.js GPU backends, the onnxruntime CPU
 * core on every core of the machine, then TF.js's single-threaded wasm and pure-JS backends.
 */
export const BACKEND_ORDER: readonly BackendName[] = ['cuda', 'webgpu', 'onnx', 'wasm', 'cpu'];

/** The backend a run uses, with a line on how it was chosen. */
export interface BackendInfo {
  name: BackendName;
  /** Human-readable description: device, threads, and for `auto` why the faster ones were skipped. */
  detail: string;
  /** CPU threads the backend computes with (1 for GPU backends' host side). */
  threads: number;
}

/** Losses of an evaluation, plus which latents fired on the batch. */
export interface EvalResult extends LossParts {
  /** fired: Uint8Array // [nLatents], 1 where the latent was active on some row of the batch. */
  fired: Uint8Array;
}

/** Result of one optimisation step. */
export interface StepResult extends LossParts {
  /** Fraction of latents dead after the step (not fired for `deadAfterRows` rows). */
  deadFraction: number;
}

/** A running SAE on a compute backend: owns its memory until `dispose`. */
export interface TrainerCore {
  readonly backend: BackendName;
  /** One Adam step at learning rate `lr` on `batch`. @returns the loss parts before the update. */
  step(batch: StepBatch, lr: number): Promise<StepResult>;
  /** Loss parts (AuxK excluded) and fired latents of `batch`, without updating anything. */
  evaluate(batch: StepBatch): Promise<EvalResult>;
  /** The loss parts and raw gradients (before the unit-norm projection) at the current weights; for checks. */
  gradients(batch: StepBatch): Promise<{ parts: LossParts; grads: SaeParams }>;
  /** A copy of the full state (weights, Adam moments, counters), for checkpoints and export. */
  readState(): Promise<CoreState>;
  dispose(): void;
}

/** @throws TrainError `bad_config` when an array of `state` does not hold the values of an SAE of n latents on d dims. */
export function checkStateSizes(state: CoreState, d: number, n: number): void {
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
}

/** @returns the rows of `batch`. @throws TrainError `bad_input` unless `batch.x` holds exactly those rows of d. */
export function checkBatchRows(batch: StepBatch, d: number): number {
  const rows = batchRows(batch);
  if (rows < 1 || batch.x.length !== rows * d) {
    throw new TrainError(
      'bad_input',
      `train: batch has ${batch.x.length} values, expected ${rows} rows of ${d}`,
    );
  }
  return rows;
}
