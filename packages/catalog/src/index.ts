// @steer/catalog: feature catalogs of an SAE (labels, statistics, token evidence, aliases) and concept search.
export { CatalogError, type CatalogErrorCode } from './errors.js';
export {
  Catalog,
  openCatalog,
  emptyCatalog,
  SEARCH_WEIGHTS,
  FEEDBACK_SEARCH_WEIGHTS,
  CONCEPT_DIRECTION_FEATURES,
  CONCEPT_DIRECTION_MIN_SCORE,
  type CatalogOptions,
  type ConceptDirection,
  type MatchComponents,
  type FeatureDescription,
  type FeatureMatch,
} from './catalog.js';
export {
  buildCatalog,
  documentText,
  type BuildOptions,
  type BuildStage,
  type BuildSummary,
  type CorpusDocument,
} from './build.js';
export type { EvidenceOptions } from './evidence.js';
export type { KeywordOptions } from './keywords.js';
export {
  llmConfigFromEnv,
  labelWithLlm,
  type LlmConfig,
  type LabelRequest,
  type LlmLabelReport,
} from './llm-labels.js';
export { normalizeAliasName } from './aliases.js';
export {
  rankFrequencySvg,
  featureFrequencies,
  frequencyBuckets,
  type RankSeries,
  type PlotOptions,
} from './plot.js';
export type { FeatureStats } from './stats.js';
export { seededRandom, type StrengthCalibration } from './profiles.js';
export { FEEDBACK_DOCUMENTS, FEEDBACK_POOL_DOCUMENTS } from './feedback.js';
export { CROSSOVER_DEPTH, crossoverStrength } from './crossover.js';
export {
  catalogDir,
  CATALOG_FORMAT,
  type CatalogHeader,
  type LabelRecord,
  type FeatureRecord,
  type DocRecord,
  type DocumentEvidence,
  type TermsRecord,
} from './storage.js';
