// Where a query's results and a steering direction's results meet, measured on the catalog's feedback pool: the
// per-query meaning of `1x` for amplifying edits (the calibration of profiles.ts, for one query and one direction).
import { dotQuantized } from './concept-index.js';
import { crossoverGap } from './profiles.js';
import type { FeedbackPoolData } from './storage.js';

/** Documents averaged on each side of the crossover (the calibration's depth). */
export const CROSSOVER_DEPTH = 10;

/**
 * The strength v (in units of `direction`, a dense vector such as a weighted sum of decoder columns) at which,
 * for the query x + v * direction, the direction's own top `depth` pool documents score as high on average as
 * the query's own top `depth` documents: before it the query's results lead, after it the direction's do.
 * Closed form: v = (Q_q - C_q) / (C_c - Q_c), with Q the query's top documents, C the direction's, and the
 * subscript the vector they are scored against. Undefined when the pool is too small (fewer than 2 x depth
 * documents), the direction is zero, or the two sets do not cross (the query's documents already score as high
 * on the direction as the direction's own, or the direction's documents as high on the query as the query's).
 */
export function crossoverStrength(
  pool: FeedbackPoolData,
  query: Float32Array, // [dModel]
  direction: Float32Array, // [dModel]
  depth = CROSSOVER_DEPTH,
): number | undefined {
  const { documents: m, dModel: d, vectors } = pool;
  if (query.length !== d || direction.length !== d) {
    throw new RangeError(
      `catalog: crossover needs ${d}-dim vectors, got a query of ${query.length} and a direction of ${direction.length}`,
    );
  }
  if (m < 2 * depth || !direction.some((value) => value !== 0)) return undefined;
  const queryScores = new Float32Array(m);
  const directionScores = new Float32Array(m);
  for (let r = 0; r < m; r++) {
    queryScores[r] = dotQuantized(vectors, r, query, d);
    directionScores[r] = dotQuantized(vectors, r, direction, d);
  }
  const { lead, gain } = crossoverGap(queryScores, directionScores, depth);
  if (!(lead > 0) || !(gain > 0)) return undefined;
  return lead / gain;
}
