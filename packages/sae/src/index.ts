// @steer/sae: the TopK sparse autoencoder artifact (safetensors + manifest) and its runtime.
export { SaeError, type SaeErrorCode } from './errors.js';
export {
  writeSae,
  readSaeManifest,
  readSaeWeights,
  SAE_FORMAT,
  type EmbeddingInfo,
  type SaeManifest,
  type SaeWeights,
} from './artifact.js';
export { loadSae, type LoadSaeOptions, type SaeRuntime, type SteerOptions } from './runtime.js';
export {
  applyEdits,
  latentNorm,
  type FeatureEdit,
  type SparseLatents,
  type SteerMode,
} from './sparse-ops.js';
