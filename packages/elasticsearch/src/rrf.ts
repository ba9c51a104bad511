// Reciprocal rank fusion done by Steer, for clusters whose licence lacks the rrf retriever: the same arithmetic
// and tie-breaks as Elasticsearch's, so both give the same hits in the same order for the same result lists.

/** One hit of a child result list. */
export interface RankedListHit {
  _index: string;
  _id?: string;
  /** The child's own score (8.15 breaks RRF ties with it). */
  _score?: number | null;
  /**
   * Sort values of a point-in-time search sorted on `_score`: `[score, _shard_doc]`. The `_shard_doc` (shard
   * ordinal << 32 | Lucene doc id) is what Elasticsearch breaks equal RRF scores with.
   */
  sort?: unknown[];
}

export interface FuseOptions {
  /** Elasticsearch's `rank_constant` (default 60). */
  rankConstant?: number;
  /** Elasticsearch's `rank_window_size`: each list is cut to it, and so is the result. */
  rankWindowSize: number;
  /** 8.15's rule for equal scores: per list in order, the higher child score, or the hit that list holds. */
  legacyTieBreak?: boolean;
}

export interface FusedHit<T extends RankedListHit> {
  /** The hit as the first list that returned it holds it. */
  hit: T;
  /** The RRF score, summed in float32 as Elasticsearch sums it. */
  score: number;
}

interface Entry<T extends RankedListHit> extends FusedHit<T> {
  childScores: Array<number | undefined>;
  shardDoc: number;
}

function shardDocOf(hit: RankedListHit): number {
  const value = hit.sort?.at(-1);
  return typeof value === 'number' ? value : Number.MAX_SAFE_INTEGER;
}

/**
 * Fuses ranked lists by reciprocal rank: a hit scores sum over lists of 1 / (rankConstant + rank), rank from 1,
 * accumulated in float32 (Elasticsearch's `1.0f / (rank_constant + rank)`). Equal scores are ordered as
 * RankDoc orders them (by `_shard_doc`), or as 8.15 did with `legacyTieBreak`. Returns the top
 * `rankWindowSize` hits, best first.
 */
export function fuseReciprocalRank<T extends RankedListHit>(
  lists: T[][],
  options: FuseOptions,
): FusedHit<T>[] {
  const rankConstant = options.rankConstant ?? 60;
  const fused = new Map<string, Entry<T>>();
  lists.forEach((list, listIndex) => {
    list.slice(0, options.rankWindowSize).forEach((hit, position) => {
      const key = `${hit._index}\u0000${hit._id}`;
      let entry = fused.get(key);
      if (!entry) {
        entry = { hit, score: 0, childScores: lists.map(() => undefined), shardDoc: shardDocOf(hit) };
        fused.set(key, entry);
      }
      entry.score = Math.fround(entry.score + Math.fround(1 / (rankConstant + position + 1)));
      entry.childScores[listIndex] = hit._score ?? undefined;
    });
  });
  const order = (a: Entry<T>, b: Entry<T>): number => {
    if (a.score !== b.score) return b.score - a.score;
    if (options.legacyTieBreak) {
      for (let i = 0; i < lists.length; i++) {
        const sa = a.childScores[i];
        const sb = b.childScores[i];
        if (sa !== undefined && sb !== undefined) {
          if (sa !== sb) return sb - sa;
        } else if (sa !== undefined) return -1;
        else if (sb !== undefined) return 1;
      }
    }
    return a.shardDoc - b.shardDoc;
  };
  return [...fused.values()]
    .sort(order)
    .slice(0, options.rankWindowSize)
    .map(({ hit, score }) => ({ hit, score }));
}
