// @steer/catalog: feature catalogs of an SAE (labels, statistics, token evidence, aliases) and concept search.
export { CatalogError, type CatalogErrorCode } from './errors.js';
export {
  Catalog,
  openCatalog,
  emptyCatalog,
  SEARCH_WEIGHTS,
  type CatalogOptions,
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
export {
  llmConfigFromEnv,
  labelWithLlm,
  parseLabelAnswer,
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
export { computeFeatureStats, type FeatureStats, type SparseCodes, type TopDocument } from './stats.js';
export {
  buildTermIndex,
  contrastiveKeywords,
  type TermIndex,
  type ScoredKeyword,
  type KeywordOptions,
} from './keywords.js';
export { ConceptIndex, type ConceptIndexOptions, type DenseScores } from './concept-index.js';
export { documentEvidence, type EvidenceOptions } from './evidence.js';
export { contentWords, words, STOPWORDS } from './text.js';
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
