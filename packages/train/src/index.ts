// @steer/train: trains retrieval-faithful TopK sparse autoencoders (MSE + KL of query-document scores, AuxK,
// unit-norm decoder) on onnxruntime (CPU, every core) and TensorFlow.js backends (CUDA, WebGPU, wasm, cpu), with checkpoints and exact resume.
export { TrainError, type TrainErrorCode } from './errors.js';
export {
  useBackend,
  isolatedTfWorker,
  BACKEND_ORDER,
  type BackendName,
  type BackendInfo,
} from './backend/index.js';
export { defaultLatents, defaultEpochs, defaultAnnealEpochs } from './defaults.js';
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
export {
  openVectors,
  loadQrels,
  parseVectorJsonl,
  type OpenedVectors,
  type VectorSet,
  type Qrel,
} from './data/load.js';
export {
  openVectorFiles,
  memorySource,
  concatSources,
  scanSource,
  chunkRows,
  type VectorSource,
} from './data/source.js';
export {
  mineNeighbours,
  EXACT_PAIR_LIMIT,
  type NeighbourMethod,
  type NeighbourOptions,
  type NeighbourResult,
} from './data/neighbours.js';
export { PSEUDO_QUERY_THRESHOLD } from './data/groups.js';
export { createProgressReporter, formatDuration } from './progress.js';
export type { BiasInit } from './init.js';
export { Rng, deriveSeed, type RngState } from './rng.js';
export { codeVersion, formatCommit, type CodeVersion } from './provenance.js';
