// How faithful an SAE would have to be: reconstructed retrieval with the SAE's own reconstruction error scaled down,
// and the reconstruction error (NMSE) of the documents it was trained on beside that of the test queries.
import { dataMoments } from '@steer/train';
import type { EvalDataset } from '../datasets.js';
import { perQueryMetrics, topOverlap } from '../metrics.js';
import { denseSearch, meanSquaredError, type Reconstructions } from '../run-eval.js';

/** Shares of the squared reconstruction error kept (1 = the SAE as trained). */
export const ERROR_SHARES: readonly number[] = [
  1,
  1 / 2,
  1 / 4,
  1 / 8,
  1 / 16,
  1 / 32,
  1 / 64,
  1 / 128,
  1 / 256,
];

/** Reconstructed (dot product) retrieval with the error cut to one share of itself. */
export interface ErrorShareRun {
  share: number;
  /** Reciprocal rank at 10 per judged query, in the order of the evaluation's `perQuery` series. */
  mrr10: number[];
  /** Mean top-10 overlap with the original dense ranking over every query. */
  overlap10: number;
}

/** Result of {@link errorHeadroom} for one SAE. */
export interface ErrorHeadroom {
  /**
   * Normalised squared reconstruction error: mean |x_hat - x|^2 over the variance of the documents (per dimension),
   * of the documents (the SAE's training data) and of every query of the dataset (never seen in training), the
   * queries coded by the encoder and by pursuit over the decoder.
   */
  nmse: { documents: number; queries: number; queriesPursuit: number };
  shares: ErrorShareRun[];
}

const CUTOFF = 10;

/** x + sqrt(share) (x_hat - x): the reconstruction with its error scaled so that the squared error is `share` of it. */
function scaledError(x: Float32Array, xHat: Float32Array, share: number): Float32Array {
  const scale = Math.sqrt(share);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! + scale * (xHat[i]! - x[i]!);
  return out;
}

/**
 * Ranks the documents of `dataset` for every query by dot product (the paper's rule for reconstructed retrieval)
 * with the reconstruction error of both cut to each share in `shares`: a counterfactual SAE whose errors point the
 * same way but are smaller. Share 1 is the `reconstructed` row of the evaluation; share 0 would be the original
 * ranking. `vectors` are what {@link evaluateSae} reconstructed (its `onReconstructed`), in the dataset's order.
 * @throws Error when the vectors do not match the dataset.
 */
export function errorHeadroom(
  dataset: EvalDataset,
  vectors: Reconstructions,
  shares: readonly number[] = ERROR_SHARES,
): ErrorHeadroom {
  const { documents, queries, documentsHat, queriesHat, queriesPursuedHat } = vectors;
  const nDocs = dataset.documents.length;
  const nQueries = dataset.queries.length;
  const dims = documents.length / Math.max(1, nDocs);
  if (
    !Number.isInteger(dims) ||
    queries.length !== nQueries * dims ||
    documentsHat.length !== documents.length ||
    queriesHat.length !== queries.length ||
    queriesPursuedHat.length !== queries.length
  ) {
    throw new Error(
      `headroom: expected vectors and reconstructions of ${nDocs} documents and ${nQueries} queries of one size for ${dataset.name}; pass the dataset's own vectors`,
    );
  }
  const { variance } = dataMoments(documents, nDocs, dims);
  const ids = dataset.documents.map((d) => d.id);
  const rank = (docs: Float32Array, qs: Float32Array): string[][] =>
    denseSearch(docs, qs, dims, CUTOFF, 'dot').map((top) => top.map((d) => ids[d]!));
  const original = rank(documents, queries);
  const runs = shares.map((share) => {
    const ranked = rank(scaledError(documents, documentsHat, share), scaledError(queries, queriesHat, share));
    const byQuery = new Map(dataset.queries.map((q, i) => [q.id, ranked[i]!]));
    const overlap = ranked.reduce((sum, top, i) => sum + topOverlap(top, original[i]!, CUTOFF), 0);
    return {
      share,
      mrr10: perQueryMetrics(byQuery, dataset.qrels, dataset.minRelevantGrade).mrr10,
      overlap10: overlap / Math.max(1, nQueries),
    };
  });
  return {
    nmse: {
      documents: meanSquaredError(documents, documentsHat) / variance,
      queries: meanSquaredError(queries, queriesHat) / variance,
      queriesPursuit: meanSquaredError(queries, queriesPursuedHat) / variance,
    },
    shares: runs,
  };
}
