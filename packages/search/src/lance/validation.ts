// Validation of what callers hand the embedded store: index names and options, documents and queries, vectors
// (length, finiteness, and what the similarity needs). Every failure is a SearchError naming the input and the fix.
import type { CreateIndexOptions, IndexedDocument, KnnQuery } from '../backend.js';
import { SearchError } from '../errors.js';
import { SIMILARITIES } from './table.js';
import type { OpenIndex, Row } from './table.js';

const MAX_DIMS = 65_536;
/** Elasticsearch rejects dot_product vectors whose magnitude is further than this from 1. */
const UNIT_MAGNITUDE_TOLERANCE = 1e-3;
const INDEX_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function validateCreateOptions(name: string, options: CreateIndexOptions): void {
  if (!Number.isInteger(options.dims) || options.dims < 1 || options.dims > MAX_DIMS) {
    throw new SearchError(
      'invalid_index_options',
      `lancedb: index '${name}' needs dims as an integer in 1..${MAX_DIMS} but got ${String(options.dims)}; pass the embedding model's dimension`,
    );
  }
  if (!SIMILARITIES.includes(options.similarity)) {
    throw new SearchError(
      'invalid_index_options',
      `lancedb: index '${name}' has unknown similarity ${JSON.stringify(options.similarity)}; use cosine, dot_product or l2_norm`,
    );
  }
  if (options.embeddingModel !== undefined && typeof options.embeddingModel !== 'string') {
    throw new SearchError(
      'invalid_index_options',
      `lancedb: index '${name}' embeddingModel must be a string`,
    );
  }
}

export function validateDocument(index: OpenIndex, document: IndexedDocument, position: number): Row {
  const where = `document #${position}`;
  if (document === null || typeof document !== 'object') {
    throw new SearchError(
      'invalid_document',
      `lancedb: ${where} is not an object; pass { id, text, vector, metadata? }`,
    );
  }
  const { id, text, metadata } = document;
  if (typeof id !== 'string' || id.length === 0) {
    throw new SearchError(
      'invalid_document',
      `lancedb: ${where} has no id; give every document a non-empty string id`,
    );
  }
  if (typeof text !== 'string') {
    throw new SearchError(
      'invalid_document',
      `lancedb: document '${id}' has no text; pass its text as a string`,
    );
  }
  const cleanMetadata: Record<string, string | number | boolean | null> = {};
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new SearchError(
        'invalid_document',
        `lancedb: document '${id}' metadata must be an object of scalar values`,
      );
    }
    for (const [key, value] of Object.entries(metadata)) {
      const ok =
        value === null ||
        typeof value === 'string' ||
        typeof value === 'boolean' ||
        (typeof value === 'number' && Number.isFinite(value));
      if (!ok || key.length === 0) {
        throw new SearchError(
          'invalid_document',
          `lancedb: document '${id}' metadata '${key}' = ${String(value)} is not a string, finite number, boolean or null; flatten or drop it`,
        );
      }
      cleanMetadata[key] = value;
    }
  }
  checkVector(index, document.vector, `document '${id}'`);
  return {
    id,
    text,
    metadata: cleanMetadata,
    metadataJson: JSON.stringify(cleanMetadata),
    vector: document.vector,
  };
}

export function validateQuery(index: OpenIndex, query: KnnQuery): void {
  if (query === null || typeof query !== 'object') {
    throw new SearchError(
      'invalid_query',
      `lancedb: the query for '${index.name}' must be { vector, k, numCandidates?, filter? }`,
    );
  }
  if (!Number.isInteger(query.k) || query.k < 1) {
    throw new SearchError('invalid_query', `lancedb: k must be a positive integer but is ${String(query.k)}`);
  }
  if (
    query.numCandidates !== undefined &&
    (!Number.isInteger(query.numCandidates) || query.numCandidates < query.k)
  ) {
    throw new SearchError(
      'invalid_query',
      `lancedb: numCandidates must be an integer >= k (${query.k}) but is ${String(query.numCandidates)}; raise it or leave it out`,
    );
  }
  checkVector(index, query.vector, 'the query vector');
}

/** Checks length, finiteness and what the similarity needs (non-zero for cosine, unit length for dot_product). */
function checkVector(index: OpenIndex, vector: ArrayLike<number> | undefined, what: string): void {
  if (vector === undefined || vector === null || typeof vector.length !== 'number') {
    throw new SearchError(
      'invalid_vector',
      `lancedb: ${what} has no vector; pass a Float32Array of ${index.dims} dims`,
    );
  }
  if (vector.length !== index.dims) {
    const model = index.embeddingModel !== undefined ? ` (${index.embeddingModel})` : '';
    throw new SearchError(
      'dims_mismatch',
      `lancedb: ${what} has ${vector.length} dims but index '${index.name}' expects ${index.dims}${model}; ` +
        `embed with the index's model or create a new index with dims ${vector.length}`,
    );
  }
  let normSq = 0;
  for (let i = 0; i < vector.length; i++) {
    const value = vector[i]!;
    if (!Number.isFinite(value)) {
      throw new SearchError(
        'invalid_vector',
        `lancedb: ${what} has ${String(value)} at position ${i}; vectors must be finite, re-embed the text`,
      );
    }
    normSq += value * value;
  }
  if (index.similarity === 'cosine' && normSq === 0) {
    throw new SearchError(
      'invalid_vector',
      `lancedb: ${what} is all zeros, which has no cosine similarity; drop it or re-embed it`,
    );
  }
  if (index.similarity === 'dot_product' && Math.abs(Math.sqrt(normSq) - 1) > UNIT_MAGNITUDE_TOLERANCE) {
    throw new SearchError(
      'invalid_vector',
      `lancedb: ${what} has magnitude ${Math.sqrt(normSq).toFixed(4)} but index '${index.name}' uses dot_product, ` +
        `which needs unit vectors; normalize it or create the index with cosine`,
    );
  }
}

export function assertIndexName(name: string): void {
  if (typeof name !== 'string' || !INDEX_NAME_PATTERN.test(name)) {
    throw new SearchError(
      'invalid_index_name',
      `lancedb: index name ${JSON.stringify(name)} is not valid; use 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit`,
    );
  }
}
