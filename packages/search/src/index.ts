// Public door of @steer/search: the search-backend contract, its errors and scores, and the embedded LanceDB backend.

export type {
  BackendCapabilities,
  BulkProgress,
  CreateIndexOptions,
  Filter,
  IndexedDocument,
  IndexInfo,
  IndexReader,
  KnnQuery,
  ModeQuery,
  QueryLatents,
  ReadCursor,
  ReadPage,
  SearchBackend,
  SearchHit,
  SearchMode,
  Similarity,
} from './backend.js';
export { SearchError, type SearchErrorCode } from './errors.js';
export { scoreVectors, lanceDistanceToScore } from './scoring.js';
export { compileFilterToSql } from './lance/filter-sql.js';
export { metadataColumnName, type MetadataFieldType } from './lance/columns.js';
export { openLanceBackend, type LanceBackendOptions } from './lance/lance-backend.js';
export { openLanceIndexReader, type LanceReaderOptions } from './lance/index-reader.js';
