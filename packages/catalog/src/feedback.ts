// Pseudo-relevance feedback for concept search: the documents nearest a concept stand in for the documents of
// the concept, and features are ranked by how much more they fire there than on the corpus at large.
import type { SparseCodes } from './stats.js';
import { dotQuantized, topIndices } from './concept-index.js';
import { seededRandom } from './profiles.js';
import { quantizeRows, type FeedbackPoolData } from './storage.js';

/** Documents of the corpus kept in the feedback pool at most (a seeded uniform sample beyond this). */
export const FEEDBACK_POOL_DOCUMENTS = 20000;
/** Feedback documents per concept: Anserini's RM3 default (`fbDocs` = 10). */
export const FEEDBACK_DOCUMENTS = 10;

/**
 * The feedback pool of a catalog: up to `maxDocuments` documents of the corpus (all of them when the corpus is
 * smaller, else a uniform sample drawn with `seed`, kept in corpus order) with int8 embeddings and SAE codes.
 */
export function feedbackPool(
  vectors: Float32Array, // [documents, dModel]
  codes: SparseCodes,
  dModel: number,
  options: { maxDocuments?: number; seed?: number } = {},
): FeedbackPoolData {
  const documents = vectors.length / dModel;
  const wanted = Math.min(documents, options.maxDocuments ?? FEEDBACK_POOL_DOCUMENTS);
  let rows = Array.from({ length: documents }, (_, i) => i);
  if (wanted < documents) {
    const random = seededRandom(options.seed ?? 1);
    for (let i = 0; i < wanted; i++) {
      const j = i + Math.floor(random() * (documents - i));
      [rows[i], rows[j]] = [rows[j]!, rows[i]!];
    }
    rows = rows.slice(0, wanted).sort((a, b) => a - b);
  }
  const picked = new Float32Array(wanted * dModel);
  const indices = new Int32Array(wanted * codes.k);
  const values = new Float32Array(wanted * codes.k);
  rows.forEach((doc, r) => {
    picked.set(vectors.subarray(doc * dModel, (doc + 1) * dModel), r * dModel);
    indices.set(codes.indices.subarray(doc * codes.k, (doc + 1) * codes.k), r * codes.k);
    values.set(codes.values.subarray(doc * codes.k, (doc + 1) * codes.k), r * codes.k);
  });
  return {
    documents: wanted,
    dModel,
    k: codes.k,
    vectors: quantizeRows(picked, wanted, dModel),
    indices,
    values,
  };
}

/** What {@link FeedbackScorer.score} finds for one concept. */
export interface FeedbackScores {
  /** Features that fire more on the feedback documents than on the pool, in no particular order. */
  features: Int32Array;
  /** Mean activation over the feedback documents minus the mean over the pool (> 0). [features.length] */
  lift: Float32Array;
  /** Pool rows of the feedback documents, nearest first. */
  documents: Int32Array;
}

/**
 * Pseudo-relevance feedback over a pool: the label-chosen rule of the controllability benchmark (the feature
 * whose mean activation over a topic's documents most exceeds its corpus mean), with the `depth` pool documents
 * nearest the concept embedding (dot product) in place of the labelled documents.
 */
export class FeedbackScorer {
  private readonly poolMean: Float32Array; // [nLatents]

  constructor(
    readonly pool: FeedbackPoolData,
    nLatents: number,
  ) {
    const { documents: m, k, indices, values } = pool;
    const sum = new Float64Array(nLatents);
    for (let i = 0; i < m * k; i++) if (values[i]! > 0) sum[indices[i]!]! += values[i]!;
    this.poolMean = Float32Array.from(sum, (value) => value / Math.max(1, m));
  }

  /** The features the `depth` (default {@link FEEDBACK_DOCUMENTS}) nearest documents of `x` [dModel] lift. */
  score(x: Float32Array, depth = FEEDBACK_DOCUMENTS): FeedbackScores {
    const { documents: m, dModel: d, k, vectors, indices, values } = this.pool;
    if (x.length !== d)
      throw new RangeError(`catalog: concept vector has ${x.length} dims; the SAE expects ${d}`);
    const similarity = new Float32Array(m);
    for (let r = 0; r < m; r++) similarity[r] = dotQuantized(vectors, r, x, d);
    const nearest = Array.from(topIndices(similarity, Math.min(depth, m))).sort(
      (a, b) => similarity[b]! - similarity[a]! || a - b,
    );
    const mean = new Map<number, number>();
    for (const r of nearest) {
      for (let t = 0; t < k; t++) {
        const value = values[r * k + t]!;
        if (value <= 0) continue;
        const j = indices[r * k + t]!;
        mean.set(j, (mean.get(j) ?? 0) + value / nearest.length);
      }
    }
    const features: number[] = [];
    const lift: number[] = [];
    for (const [j, value] of mean) {
      const gain = value - this.poolMean[j]!;
      if (gain <= 0) continue;
      features.push(j);
      lift.push(gain);
    }
    return {
      features: Int32Array.from(features),
      lift: Float32Array.from(lift),
      documents: Int32Array.from(nearest),
    };
  }
}

/** Where a concept is split into its items: `, ; / &` and the words "and" and "or". */
const LIST_SEPARATOR = /[,;/&]|\band\b|\bor\b/i;

/**
 * The items of a concept written as a list ("football clubs, tennis players and match results"): the text split
 * at {@link LIST_SEPARATOR}, trimmed, empty and repeated items dropped. Fewer than two items: [] (not a list).
 */
export function conceptParts(concept: string): string[] {
  const parts = [
    ...new Set(
      concept
        .split(LIST_SEPARATOR)
        .map((part) => part.trim().replace(/\s+/g, ' '))
        .filter((part) => /[\p{L}\p{N}]/u.test(part)),
    ),
  ];
  return parts.length >= 2 ? parts : [];
}

/**
 * The feedback component f of a concept from the feedback of its texts (the whole concept first, then each item
 * of a list): every text's lift relative to its own best feature, averaged over the texts (a text that does not
 * lift a feature counts 0 for it). Each item then votes once, so one item that shares its words with another
 * topic cannot decide a list alone, and the whole text keeps the items' context. Features in no text: absent.
 */
export function combinedFeedback(scores: readonly FeedbackScores[]): Map<number, number> {
  const combined = new Map<number, number>();
  for (const found of scores) {
    let best = 0;
    for (const value of found.lift) best = Math.max(best, value);
    if (best <= 0) continue;
    for (let c = 0; c < found.features.length; c++) {
      const j = found.features[c]!;
      combined.set(j, (combined.get(j) ?? 0) + found.lift[c]! / best / scores.length);
    }
  }
  return combined;
}
