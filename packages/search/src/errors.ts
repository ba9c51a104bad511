// Typed error of @steer/search: a stable `code` and a message that names the component, the input and the fix.
import { SteerError } from '@steer/core';

/** Stable codes of {@link SearchError}. */
export type SearchErrorCode =
  | 'index_not_found'
  | 'index_exists'
  | 'index_invalid'
  | 'invalid_index_name'
  | 'invalid_index_options'
  | 'dims_mismatch'
  | 'invalid_vector'
  | 'invalid_document'
  | 'metadata_type_mismatch'
  | 'invalid_query'
  | 'invalid_filter'
  | 'empty_index'
  | 'data_dir_unwritable'
  | 'backend_closed'
  | 'backend_error';

/** Error thrown by every search backend; `code` is stable, `message` names the problem and the fix. */
export class SearchError extends SteerError {
  declare readonly code: SearchErrorCode;

  /** `options.component` names a backend's own package (default `search`). */
  constructor(code: SearchErrorCode, message: string, options?: { cause?: unknown; component?: string }) {
    super(options?.component ?? 'search', code, message, options);
    this.name = 'SearchError';
  }
}
