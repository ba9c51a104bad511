// Elasticsearch's dense-vector score definitions, so every backend reports scores in the same units.

import type { Similarity } from './backend.js';
import { SearchError } from './errors.js';

/**
 * Exact score of `vector` against `query` in Elasticsearch units:
 * cosine `(1 + cos) / 2`, dot_product `(1 + dot) / 2` (defined for unit vectors), l2_norm `1 / (1 + l2²)`.
 * Computed in float64. Returns a number in [0, 1] for valid inputs.
 * @throws SearchError `dims_mismatch` when the lengths differ, `invalid_vector` for a zero vector under cosine.
 */
export function scoreVectors(
  similarity: Similarity,
  query: ArrayLike<number>,
  vector: ArrayLike<number>,
): number {
  if (query.length !== vector.length) {
    throw new SearchError(
      'dims_mismatch',
      `search: query has ${query.length} dims but the vector has ${vector.length}; compare vectors of one embedding model`,
    );
  }
  let dot = 0;
  let queryNormSq = 0;
  let vectorNormSq = 0;
  let l2Sq = 0;
  for (let i = 0; i < query.length; i++) {
    const q = query[i]!;
    const v = vector[i]!;
    dot += q * v;
    queryNormSq += q * q;
    vectorNormSq += v * v;
    l2Sq += (q - v) * (q - v);
  }
  switch (similarity) {
    case 'cosine': {
      if (queryNormSq === 0 || vectorNormSq === 0) {
        throw new SearchError(
          'invalid_vector',
          'search: cosine similarity is undefined for a zero vector; drop or re-embed it',
        );
      }
      return (1 + dot / Math.sqrt(queryNormSq * vectorNormSq)) / 2;
    }
    case 'dot_product':
      return (1 + dot) / 2;
    case 'l2_norm':
      return 1 / (1 + l2Sq);
  }
}

/**
 * Converts a LanceDB `_distance` to the Elasticsearch score of {@link scoreVectors}.
 * LanceDB distances: cosine `1 - cos`, dot `1 - dot`, l2 the squared euclidean distance.
 */
export function lanceDistanceToScore(similarity: Similarity, distance: number): number {
  switch (similarity) {
    case 'cosine':
    case 'dot_product':
      return 1 - distance / 2;
    case 'l2_norm':
      return 1 / (1 + distance);
  }
}
