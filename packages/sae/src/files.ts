// @steer/sae/files: the SAE folder's readers and writers and the sparse-latent math, without the ONNX runtime
// (for code that reads SAEs but never encodes, such as a catalog opened by the language server).
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
export {
  applyEdits,
  decodeSparse,
  latentNorm,
  type FeatureEdit,
  type SparseLatents,
  resolveQueryCoding,
  QUERY_CODE_CHOICES,
  type QueryCoding,
  type QueryCodeChoice,
  type SteerMode,
} from './sparse-ops.js';
export { pursueLatents, PURSUIT_CANDIDATES_PER_ATOM } from './pursuit.js';
