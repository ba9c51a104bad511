// @steer/embed: text embedders (bundled USE lite, ONNX BERT-family exports, precomputed vectors) and an
// on-disk embedding cache.
export { EmbedError, type EmbedErrorCode } from './errors.js';
export { type Embedder, type EmbedKind, type EmbedOptions } from './embedder.js';
export { loadDefaultEmbedder, USE_LITE_ID } from './use-lite.js';
export { loadOnnxEmbedder, BGE_QUERY_PREFIX, type OnnxEmbedderOptions } from './onnx-embedder.js';
export { WordPieceTokenizer, type Encoding } from './wordpiece.js';
export { loadPrecomputedEmbeddings, type PrecomputedVectors } from './precomputed.js';
export {
  readNpy,
  writeNpy,
  readNpyHeader,
  parseNpyHeader,
  createNpyWriter,
  type NpyHeader,
  type NpyWriter,
} from './npy.js';
export { withCache, type CachedEmbedder, type CacheStats } from './cache.js';
export { createEmbedder } from './create.js';
export { embedInBatches } from './batches.js';
