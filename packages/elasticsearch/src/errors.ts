// The typed error of the Elasticsearch backend: a SearchError with a finer Elasticsearch-specific code.
// Errors the cluster itself answers stay `errors.ResponseError` of @elastic/elasticsearch.
import { errors } from '@elastic/elasticsearch';
import { SearchError } from '@steer/search';
import type { SearchErrorCode } from '@steer/search';

/** Stable codes of ElasticsearchBackendError (`esCode`); `code` holds the SearchError code they belong to. */
export type ElasticsearchErrorCode =
  | 'config_invalid'
  | 'es_unreachable'
  | 'unsupported_version'
  | 'unsupported_element_type'
  | 'index_not_found'
  | 'index_exists'
  | 'no_vector_field'
  | 'ambiguous_vector_field'
  | 'unsupported_similarity'
  | 'dims_mismatch'
  | 'model_mismatch'
  | 'invalid_document'
  | 'invalid_filter'
  | 'invalid_request'
  | 'latent_field_conflict'
  | 'checkpoint_mismatch'
  | 'latent_norm_mismatch'
  | 'bulk_failed';

const SEARCH_CODES: Record<ElasticsearchErrorCode, SearchErrorCode> = {
  config_invalid: 'backend_error',
  es_unreachable: 'backend_error',
  unsupported_version: 'backend_error',
  unsupported_element_type: 'index_invalid',
  index_not_found: 'index_not_found',
  index_exists: 'index_exists',
  no_vector_field: 'index_invalid',
  ambiguous_vector_field: 'index_invalid',
  unsupported_similarity: 'index_invalid',
  dims_mismatch: 'dims_mismatch',
  model_mismatch: 'dims_mismatch',
  invalid_document: 'invalid_document',
  invalid_filter: 'invalid_filter',
  invalid_request: 'invalid_query',
  latent_field_conflict: 'index_invalid',
  checkpoint_mismatch: 'invalid_index_options',
  latent_norm_mismatch: 'invalid_index_options',
  bulk_failed: 'invalid_document',
};

/**
 * Bad input or environment met by the Elasticsearch backend; the message names the index, the input and the fix.
 * `code` is the SearchError code every backend shares (e.g. `index_not_found`), `esCode` the precise cause.
 */
export class ElasticsearchBackendError extends SearchError {
  constructor(
    readonly esCode: ElasticsearchErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(SEARCH_CODES[esCode], message, { ...options, component: 'elasticsearch' });
  }
}

/** `error` as `es_unreachable` when the client could not reach the cluster; any other error unchanged. */
export function unreachableOr(error: unknown): unknown {
  if (error instanceof errors.ConnectionError || error instanceof errors.NoLivingConnectionsError) {
    return new ElasticsearchBackendError(
      'es_unreachable',
      `elasticsearch: cannot reach the cluster (${error.message}); start it or fix STEER_ES_URL / "elasticsearch.url"`,
      { cause: error },
    );
  }
  return error;
}
