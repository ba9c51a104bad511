// SAE latents as Elasticsearch sparse_vector values (`{"f123": 0.42}`) and the per-feature explanation of a sparse score.
import type { QueryLatents } from '@steer/search';
import { ElasticsearchBackendError } from './errors.js';

/** Prefix of feature keys in the sparse_vector field: feature 123 -> "f123". */
export const LATENT_KEY_PREFIX = 'f';

/** Sparse latents of one vector: feature ids and activations (e.g. an SAE's TopK output); @steer/search's QueryLatents. */
export type LatentsLike = QueryLatents;

/**
 * How `steer index --latents` scales each document's latents before writing them: `l2` divides them by their
 * Euclidean norm, so that a sparse score is the query's latents dotted with the document's unit-normalised code
 * (cosine between codes, up to the query's norm); `none` writes the raw activations (the paper's h_q · h_d).
 */
export type LatentNorm = 'l2' | 'none';

/** What a LatentContribution says of its document weight: a recorded norm, `unrecorded` or `incomplete`. */
export type DocumentNormLabel = LatentNorm | 'unrecorded' | 'incomplete';

/** The latent normalisations `steer index --latents --latent-norm` takes. */
export const LATENT_NORMS: readonly LatentNorm[] = ['l2', 'none'];

/**
 * A feature's share of a sparse score: query weight × document weight. Same shape as the engine's
 * FeatureContribution, plus what the document weight is.
 */
export interface LatentContribution {
  feature: number;
  queryActivation: number;
  /**
   * The document's stored weight: its activation d_i divided by the norm |d| of its latents when `documentNorm` is
   * `l2`, the raw activation when `none`; `unrecorded` for latents written before Steer recorded the normalisation,
   * `incomplete` while the index records a `steer index --latents` run that did not finish (either kind).
   */
  documentActivation: number;
  documentNorm?: DocumentNormLabel;
  contribution: number;
}

/** Smallest positive normal float32 (Java's Float.MIN_NORMAL). */
export const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;

/**
 * Converts latents to a sparse_vector value: keys `f<id>`, positive activations only. Elasticsearch stores each
 * weight as a float32 Lucene FeatureField, which takes positive normal floats only, so zero, negative and
 * sub-normal activations (below 1.18e-38 once rounded to float32) are dropped: they would be refused, and their
 * contribution to any score is nil. Throws ElasticsearchBackendError (`invalid_document`) on mismatched lengths,
 * a non-finite activation, or one too large for float32.
 */
export function latentsToSparseVector(latents: LatentsLike): Record<string, number> {
  if (latents.indices.length !== latents.values.length) {
    throw new ElasticsearchBackendError(
      'invalid_document',
      `latents: ${latents.indices.length} feature ids but ${latents.values.length} activations; pass the SAE encoder's indices and values together`,
    );
  }
  const out: Record<string, number> = {};
  for (let i = 0; i < latents.indices.length; i++) {
    const feature = latents.indices[i]!;
    const value = latents.values[i]!;
    if (
      !Number.isFinite(value) ||
      !Number.isFinite(Math.fround(value)) ||
      !Number.isInteger(feature) ||
      feature < 0
    ) {
      throw new ElasticsearchBackendError(
        'invalid_document',
        `latents: feature ${feature} has activation ${value}; feature ids must be non-negative integers and activations finite float32 values`,
      );
    }
    if (value > 0)
      out[`${LATENT_KEY_PREFIX}${feature}`] = (out[`${LATENT_KEY_PREFIX}${feature}`] ?? 0) + value;
  }
  for (const [key, weight] of Object.entries(out))
    if (Math.fround(weight) < FLOAT32_MIN_NORMAL) delete out[key];
  return out;
}

/**
 * Divides the weights of a sparse_vector value by their Euclidean norm (Steer's rule for document latents), dropping
 * any that fall below float32's smallest normal value. An empty vector stays empty.
 */
export function normalizeSparseVector(vector: Record<string, number>): Record<string, number> {
  let sumSquares = 0;
  for (const weight of Object.values(vector)) sumSquares += weight * weight;
  if (sumSquares === 0) return vector;
  const norm = Math.sqrt(sumSquares);
  const out: Record<string, number> = {};
  for (const [key, weight] of Object.entries(vector)) {
    const scaled = weight / norm;
    if (Math.fround(scaled) >= FLOAT32_MIN_NORMAL) out[key] = scaled;
  }
  return out;
}

/** Parses a sparse_vector value written by latentsToSparseVector back into feature id -> weight. */
export function sparseVectorToFeatures(vector: unknown): Map<number, number> {
  const out = new Map<number, number>();
  if (typeof vector !== 'object' || vector === null) return out;
  for (const [key, weight] of Object.entries(vector as Record<string, unknown>)) {
    if (!key.startsWith(LATENT_KEY_PREFIX) || typeof weight !== 'number') continue;
    const feature = Number(key.slice(LATENT_KEY_PREFIX.length));
    if (Number.isInteger(feature)) out.set(feature, weight);
  }
  return out;
}

/**
 * Explains a sparse_vector score: for each feature present in both the query vector and the document's
 * latent field, query weight × document weight, largest first (their sum is the sparse_vector score). With
 * `documentNorm` `l2` the document weight is d_i / |d|, as `steer index --latents` wrote it; each contribution says so.
 */
export function explainLatentScore(
  queryVector: Record<string, number>,
  documentVector: unknown,
  limit = Number.POSITIVE_INFINITY,
  documentNorm?: DocumentNormLabel,
): LatentContribution[] {
  const doc = sparseVectorToFeatures(documentVector);
  const out: LatentContribution[] = [];
  for (const [feature, queryActivation] of sparseVectorToFeatures(queryVector)) {
    const documentActivation = doc.get(feature);
    if (documentActivation === undefined) continue;
    out.push({
      feature,
      queryActivation,
      documentActivation,
      ...(documentNorm !== undefined ? { documentNorm } : {}),
      contribution: queryActivation * documentActivation,
    });
  }
  return out.sort((a, b) => b.contribution - a.contribution || a.feature - b.feature).slice(0, limit);
}
