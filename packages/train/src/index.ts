// @steer/train: trains retrieval-faithful TopK sparse autoencoders (MSE + KL of query-document scores, AuxK,
// unit-norm decoder) on TensorFlow.js backends (CUDA, WebGPU, wasm, cpu), with checkpoints and exact resume.
export { TrainError, type TrainErrorCode } from './errors.js';
export { useBackend, BACKEND_ORDER, type BackendName, type BackendInfo } from './backend/tf.js';
export { defaultLatents, defaultEpochs } from './defaults.js';
export { calibrateLoss, dataMoments, type LossCalibration, type LossScale } from './calibrate.js';
export {
  DEFAULT_RELATIVE_KLD_WEIGHT,
  train,
  type TrainData,
  type TrainOptions,
  type TrainResult,
  type TrainEvent,
  type EpochRecord,
} from './trainer.js';
export { loadVectors, loadQrels, parseVectorJsonl, type VectorSet, type Qrel } from './data/load.js';
export { PSEUDO_QUERY_THRESHOLD } from './data/groups.js';
export { createProgressReporter, formatDuration } from './progress.js';
export type { BiasInit } from './init.js';
export { Rng, deriveSeed, type RngState } from './rng.js';
export { codeVersion, formatCommit, type CodeVersion } from './provenance.js';
