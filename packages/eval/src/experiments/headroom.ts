// How faithful an SAE would have to be: reconstructed retrieval with the SAE's own reconstruction error scaled down,
// and the reconstruction error (NMSE) of the documents it was trained on beside that of the test queries.
import type { SaeRuntime } from '@steer/sae';
import type { EvalDataset } from '../datasets.js';
import { perQueryMetrics, topOverlap } from '../metrics.js';
import { denseSearch } from '../run-eval.js';

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
   * of the documents (the SAE's training data) and of every query of the dataset (never seen in training).
   */
  nmse: { documents: number; queries: number };
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

/** Mean per-dimension variance of the rows of `x` [rows, dims]. */
function variance(x: Float32Array, dims: number): number {
  const rows = x.length / dims;
  const mean = new Float64Array(dims);
  for (let i = 0; i < x.length; i++) mean[i % dims]! += x[i]! / rows;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += (x[i]! - mean[i % dims]!) ** 2;
  return sum / x.length;
}

function squaredError(x: Float32Array, xHat: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += (x[i]! - xHat[i]!) ** 2;
  return sum;
}

/**
 * Reconstructs the documents and every query of `dataset` through `sae`, and ranks by dot product (the paper's rule
 * for reconstructed retrieval) with the error of both cut to each share in `shares`: a counterfactual SAE whose
 * errors point the same way but are smaller. Share 1 is the `reconstructed` row of the evaluation; share 0 would be
 * the original ranking. `documents` and `queries` are the dataset's vectors in its order [rows, dims].
 * @throws Error when the vectors do not match the dataset or the SAE.
 */
export async function errorHeadroom(
  sae: SaeRuntime,
  dataset: EvalDataset,
  documents: Float32Array,
  queries: Float32Array,
  shares: readonly number[] = ERROR_SHARES,
): Promise<ErrorHeadroom> {
  const dims = sae.manifest.dModel;
  const nDocs = dataset.documents.length;
  const nQueries = dataset.queries.length;
  if (documents.length !== nDocs * dims || queries.length !== nQueries * dims) {
    throw new Error(
      `headroom: expected vectors of ${nDocs} documents and ${nQueries} queries of ${dims} dims for ${dataset.name}; pass the dataset's own vectors`,
    );
  }
  const docHat = await sae.decode(await sae.encode(documents, nDocs));
  const queryHat = await sae.decode(await sae.encode(queries, nQueries));
  const docVariance = variance(documents, dims);
  const ids = dataset.documents.map((d) => d.id);
  const rank = (docs: Float32Array, qs: Float32Array): string[][] =>
    denseSearch(docs, qs, dims, CUTOFF, 'dot').map((top) => top.map((d) => ids[d]!));
  const original = rank(documents, queries);
  const runs = shares.map((share) => {
    const ranked = rank(scaledError(documents, docHat, share), scaledError(queries, queryHat, share));
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
      documents: squaredError(documents, docHat) / documents.length / docVariance,
      queries: squaredError(queries, queryHat) / queries.length / docVariance,
    },
    shares: runs,
  };
}
