// @steer/elasticsearch: the Elasticsearch SearchBackend, its query builders and the sparse latent side field.
export {
  ElasticsearchBackend,
  openElasticsearchBackend,
  DEFAULT_LATENT_FIELD,
  DEFAULT_TEXT_FIELD,
  DEFAULT_VECTOR_FIELD,
} from './backend.js';
export type {
  ElasticsearchBackendOptions,
  ElasticsearchConfig,
  ElasticsearchSearchHit,
  ElasticsearchSearchRequest,
  SourceFilter,
} from './backend.js';
export {
  MIN_SUPPORTED_VERSION,
  isRrfLicenceError,
  parseVersion,
  readClusterProfile,
  versionAtLeast,
} from './cluster.js';
export type { ClusterProfile } from './cluster.js';
export { fuseReciprocalRank } from './rrf.js';
export type { FuseOptions, FusedHit, RankedListHit } from './rrf.js';
export { esConnectionFromEnv, createElasticsearchClient } from './connection.js';
export type { ElasticsearchConnectionConfig } from './connection.js';
export { ElasticsearchBackendError } from './errors.js';
export type { ElasticsearchErrorCode } from './errors.js';
export { compileFilter } from './filter.js';
export type { CompileFilterOptions } from './filter.js';
export {
  chooseVectorField,
  denseVectorFields,
  latentNormRecord,
  recordedLatentNorm,
  sparseVectorFields,
  steerIndexMeta,
} from './mapping.js';
export type { DenseVectorField, LatentNormRecord, SteerIndexMeta } from './mapping.js';
export { buildSearchBody, defaultNumCandidates, hybridParts, MAX_NUM_CANDIDATES } from './query.js';
export type {
  HybridParts,
  QueryVectorSource,
  SearchBodyRequest,
  SearchMode,
  SteerSearchBody,
} from './query.js';
export {
  FLOAT32_MIN_NORMAL,
  LATENT_KEY_PREFIX,
  LATENT_NORMS,
  explainLatentScore,
  latentsToSparseVector,
  normalizeSparseVector,
  sparseVectorToFeatures,
} from './sparse.js';
export type { DocumentNormLabel, LatentContribution, LatentNorm, LatentsLike } from './sparse.js';
export { checkLatentWrite, ensureLatentField, recordLatentNorm, writeLatents } from './latents.js';
export { openElasticsearchIndexReader } from './index-reader.js';
export type { ElasticsearchIndexReader, ElasticsearchReaderOptions } from './index-reader.js';
export type {
  DocumentLatents,
  LatentResume,
  LatentWriteProgress,
  WriteLatentsOptions,
  WriteLatentsResult,
} from './latents.js';
/** Elasticsearch's request and response types, re-exported for packages that build bodies with ours. */
export type { estypes } from '@elastic/elasticsearch';
