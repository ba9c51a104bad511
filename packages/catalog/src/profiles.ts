// Dense profiles of features built from the corpus at label time: each feature's top-document centroid (what
// concept search compares a concept's embedding with) and the SAE's strength calibration (what `1x` means).
import { mulberry32 } from '@steer/core';
import { latentNorm } from '@steer/sae/files';
import type { SparseCodes, TopDocument } from './stats.js';

/** Documents whose centroid gets half weight: a centroid of n documents is shrunk by n / (n + this). */
export const CENTROID_SHRINK_DOCUMENTS = 10;

/**
 * Per-feature top-document profiles: `(centroid_j - corpus mean) * n_j / (n_j + 10)`, where centroid_j is the
 * activation-weighted mean embedding of feature j's top documents and n_j the number of documents it fires on.
 * Its dot product with a concept embedding says how much more the concept resembles the feature's documents
 * than the corpus at large, discounted for features seen on few documents. Dead features get zeros.
 * @returns [nLatents, dModel] row-major.
 */
export function featureCentroids(
  vectors: Float32Array, // [documents, dModel]
  dModel: number,
  topDocuments: ReadonlyMap<number, readonly TopDocument[]>,
  counts: Uint32Array, // [nLatents] documents each feature fires on
  nLatents: number,
): Float32Array {
  const documents = vectors.length / dModel;
  const mean = new Float64Array(dModel);
  for (let d = 0; d < documents; d++)
    for (let i = 0; i < dModel; i++) mean[i]! += vectors[d * dModel + i]! / documents;
  const out = new Float32Array(nLatents * dModel);
  const sum = new Float64Array(dModel);
  for (const [feature, top] of topDocuments) {
    let weight = 0;
    sum.fill(0);
    for (const { doc, activation } of top) {
      if (activation <= 0) continue;
      weight += activation;
      for (let i = 0; i < dModel; i++) sum[i]! += activation * vectors[doc * dModel + i]!;
    }
    if (weight <= 0) continue;
    const count = counts[feature]!;
    const shrink = count / (count + CENTROID_SHRINK_DOCUMENTS);
    for (let i = 0; i < dModel; i++) out[feature * dModel + i] = (sum[i]! / weight - mean[i]!) * shrink;
  }
  return out;
}

/** What `1x` means for an SAE: {@link calibrateStrength}'s result, stored in the catalog header. */
export interface StrengthCalibration {
  /**
   * Latent units of `1x` per unit of the query's latent norm |h|: `1x` adds `scale x |h_query|` along the
   * edited direction.
   */
  scale: number;
  /** Median latent norm |h| of the pseudo-queries: what `1x` is for a typical query (`scale x this`). */
  typicalQueryNorm: number;
  /** Pseudo-query / concept pairs measured. */
  pairs: number;
  /** Documents searched per pair. */
  documents: number;
}

/** A seeded uniform generator in [0, 1) (mulberry32): reproducible sampling for calibration and experiments. */
export function seededRandom(seed: number): () => number {
  return mulberry32(seed);
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Mean of the `depth` largest values of `scores` and the mean of `other` over the same rows. */
function topMeans(
  scores: Float32Array | Float64Array,
  other: Float32Array | Float64Array,
  depth: number,
): [number, number] {
  const top: number[] = []; // row indices, best first
  for (let r = 0; r < scores.length; r++) {
    const value = scores[r]!;
    if (top.length === depth && value <= scores[top[depth - 1]!]!) continue;
    let at = Math.min(top.length, depth - 1);
    if (top.length < depth) top.push(r);
    while (at > 0 && value > scores[top[at - 1]!]!) {
      top[at] = top[at - 1]!;
      at--;
    }
    top[at] = r;
  }
  let own = 0;
  let cross = 0;
  for (const r of top) {
    own += scores[r]!;
    cross += other[r]!;
  }
  return [own / top.length, cross / top.length];
}

/**
 * Where a query's results and a direction's meet, from the scores of the same documents against each: `lead`, how
 * much the query's own top `depth` documents outscore the direction's top documents on the query, and `gain`, how
 * much the direction's own top documents outscore the query's on the direction. Steering the query by v times the
 * direction, the two sets score alike at v = lead / gain (the crossover; none unless both are positive).
 */
export function crossoverGap(
  queryScores: Float32Array | Float64Array,
  directionScores: Float32Array | Float64Array,
  depth: number,
): { lead: number; gain: number } {
  const [queryOwn, queryOnDirection] = topMeans(queryScores, directionScores, depth);
  const [directionOwn, directionOnQuery] = topMeans(directionScores, queryScores, depth);
  return { lead: queryOwn - directionOnQuery, gain: directionOwn - queryOnDirection };
}

/**
 * Calibrates relative strengths for an SAE from its corpus, with no labels: for `pairs` pseudo-queries (random
 * documents) each steered toward a concept (the unit direction of another random document's 3 strongest
 * features, weighted by their activations), the strength v* at which the concept's own top-10 documents score as
 * high as the query's top-10 documents (the crossover, after which the concept's documents lead) is found in
 * closed form; `scale` is the median of v* / |h_query|. So `1x` moves a typical query to where its own
 * documents and the concept's meet: the top results become the overlap of the two, and a few `x` hand them to
 * the concept. Documents beyond `maxDocuments` are sampled.
 */
export function calibrateStrength(
  vectors: Float32Array, // [documents, dModel]
  codes: SparseCodes,
  decoderDirection: (feature: number) => Float32Array,
  dModel: number,
  options: { pairs?: number; maxDocuments?: number; seed?: number; depth?: number } = {},
): StrengthCalibration | undefined {
  const documents = vectors.length / dModel;
  const random = seededRandom(options.seed ?? 1);
  const depth = options.depth ?? 10;
  if (documents < 2 * depth) return undefined;
  const sample = Array.from({ length: documents }, (_, i) => i);
  const searched = Math.min(documents, options.maxDocuments ?? 20000);
  for (let i = 0; i < searched; i++) {
    const j = i + Math.floor(random() * (documents - i));
    [sample[i], sample[j]] = [sample[j]!, sample[i]!];
  }
  const rows = sample.slice(0, searched);
  const ratios: number[] = [];
  const norms: number[] = [];
  const pairs = options.pairs ?? 200;
  const queryScores = new Float64Array(rows.length);
  const conceptScores = new Float64Array(rows.length);
  for (let p = 0; p < pairs; p++) {
    const query = Math.floor(random() * documents);
    const source = Math.floor(random() * documents);
    const norm = latentNorm(codes, query);
    if (source === query || norm <= 0) continue;
    const direction = new Float64Array(dModel);
    for (let t = 0; t < Math.min(3, codes.k); t++) {
      const value = codes.values[source * codes.k + t]!;
      if (value <= 0) continue;
      const column = decoderDirection(codes.indices[source * codes.k + t]!);
      let columnNorm = 0;
      for (let i = 0; i < dModel; i++) columnNorm += column[i]! * column[i]!;
      columnNorm = Math.sqrt(columnNorm) || 1;
      for (let i = 0; i < dModel; i++) direction[i]! += (value * column[i]!) / columnNorm;
    }
    let directionNorm = 0;
    for (let i = 0; i < dModel; i++) directionNorm += direction[i]! * direction[i]!;
    directionNorm = Math.sqrt(directionNorm);
    if (directionNorm === 0) continue;
    rows.forEach((doc, r) => {
      let q = 0;
      let c = 0;
      for (let i = 0; i < dModel; i++) {
        const x = vectors[doc * dModel + i]!;
        q += x * vectors[query * dModel + i]!;
        c += x * direction[i]!;
      }
      queryScores[r] = q;
      conceptScores[r] = c / directionNorm;
    });
    const { lead, gain } = crossoverGap(queryScores, conceptScores, depth);
    if (gain <= 0) continue;
    ratios.push(Math.max(0, lead) / gain / norm);
    norms.push(norm);
  }
  if (ratios.length === 0) return undefined;
  return {
    scale: median(ratios),
    typicalQueryNorm: median(norms),
    pairs: ratios.length,
    documents: rows.length,
  };
}
