// The catalog's error type: every failure names the component, the input and the fix, with a stable code.
import { SteerError } from '@steer/core';

/** Stable codes of {@link CatalogError}. */
export type CatalogErrorCode =
  | 'catalog_missing'
  | 'catalog_invalid'
  | 'sae_mismatch'
  | 'corpus_invalid'
  | 'embedder_mismatch'
  | 'alias_invalid'
  | 'feature_unknown'
  | 'llm_failed'
  | 'invalid_option';

/** Thrown for bad catalog input: a missing or torn catalog, a catalog of another SAE, a bad alias, ... */
export class CatalogError extends SteerError {
  override name = 'CatalogError';
  declare readonly code: CatalogErrorCode;
  constructor(code: CatalogErrorCode, message: string) {
    super('catalog', code, message);
  }
}
