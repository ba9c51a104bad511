// Compute-backend selection for the trainer: the TF.js backends (tf.ts: CUDA, WebGPU, wasm, cpu) and the
// onnxruntime CPU core on every core (onnx.ts); `auto` takes the fastest that starts.
import { TrainError, describeError } from '../errors.js';
import type { CoreState, StepHyper } from '../model.js';
import { BACKEND_ORDER, type BackendInfo, type BackendName, type TrainerCore } from './core.js';
import { createOnnxCore, onnxBackendInfo, type OnnxCoreOptions } from './onnx.js';
import { activeBackend as activeTfBackend, createTrainerCore as createTfCore, useTfBackend } from './tf.js';

export { BACKEND_ORDER, type BackendInfo, type BackendName, type TrainerCore } from './core.js';
export type { EvalResult, StepResult } from './core.js';
export { isolatedTfWorker } from './tf-engine.js';

let active: BackendName | undefined;

/**
 * Makes `request` the compute backend of the cores created next; `auto` tries cuda, webgpu, onnx, wasm, cpu in that
 * order and takes the first that starts. @returns which backend runs and why. @throws TrainError `backend_unavailable`.
 */
export async function useBackend(request: BackendName | 'auto'): Promise<BackendInfo> {
  if (request !== 'auto') {
    if (!BACKEND_ORDER.includes(request)) {
      throw new TrainError(
        'backend_unavailable',
        `train: unknown backend ${JSON.stringify(request)}; use auto, ${BACKEND_ORDER.join(', ')}`,
      );
    }
    const info = request === 'onnx' ? onnxBackendInfo() : await useTfBackend(request);
    active = request;
    return info;
  }
  const skipped: string[] = [];
  for (const name of BACKEND_ORDER) {
    try {
      const info = await useBackend(name);
      const why = skipped.length > 0 ? `; skipped ${skipped.join('; ')}` : '';
      return { ...info, detail: `auto chose ${name} (${info.detail})${why}` };
    } catch (error) {
      skipped.push(`${name}: ${describeError(error).replace(/^train: backend \w+ is unavailable: /, '')}`);
    }
  }
  throw new TrainError('backend_unavailable', `train: no backend could start (${skipped.join('; ')})`);
}

/** The backend chosen by the last {@link useBackend}. */
export function activeBackend(): BackendName {
  return active ?? activeTfBackend();
}

/**
 * Starts a trainer core on the active backend with a copy of `state`.
 * @throws TrainError `bad_config` when array sizes disagree with `hyper`, `backend_unavailable`.
 */
export async function createTrainerCore(
  hyper: StepHyper,
  state: CoreState,
  options: OnnxCoreOptions = {},
): Promise<TrainerCore> {
  return activeBackend() === 'onnx' ? createOnnxCore(hyper, state, options) : createTfCore(hyper, state);
}
