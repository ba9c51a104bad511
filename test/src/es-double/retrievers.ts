// Retrievers in the Elasticsearch TEST DOUBLE: standard, knn and rrf, ranked across every shard of the search as
// the coordinating node ranks them, with RRF's float arithmetic, tie-breaks and licence check per version.
import { badRequest, EsHttpError, isObject, parsingError } from './errors.js';
import type { Json } from './errors.js';
import type { DoubleIndex, StoredDoc } from './documents.js';
import { runKnn, runQuery } from './query.js';
import type { QueryContext } from './query.js';
import { indexOrder } from './sort.js';
import type { RankedHit } from './sort.js';
import { licenceAllows } from './versions.js';
import type { EsDoubleLicence, VersionBehaviour } from './versions.js';

/** Where a search runs: its indexes (one shard each, in this order) and the cluster around it. */
export interface SearchScope {
  indexes: DoubleIndex[];
  models?: QueryContext['models'];
  behaviour: VersionBehaviour;
  licence: EsDoubleLicence;
  /** Set when the search runs under a point in time (then `indexes` holds its frozen view). */
  pitId?: string;
  /** URL parameters (`size`, `from`, `_source*`, `track_total_hits`). */
  params: URLSearchParams;
}

export function keyOf(hit: { shard: number; doc: StoredDoc }): string {
  return `${hit.shard}\u0000${hit.doc.id}`;
}

/** Best score first; equal scores in index order (shard, then Lucene doc id). */
export function byScore(hits: RankedHit[]): RankedHit[] {
  return hits.sort((a, b) => b.score - a.score || indexOrder(a, b));
}

/** Runs a per-index scorer over every index of the scope and gathers the hits. */
export function gather(
  scope: SearchScope,
  score: (ctx: QueryContext, docs: StoredDoc[]) => Map<string, number>,
): RankedHit[] {
  const out: RankedHit[] = [];
  scope.indexes.forEach((index, shard) => {
    const scored = score({ index, models: scope.models }, [...index.docs.values()]);
    for (const [id, value] of scored) out.push({ index, shard, doc: index.docs.get(id)!, score: value });
  });
  return out;
}

interface Fused {
  hit: RankedHit;
  /** Per child retriever: the hit's score there, or undefined when that child did not return it. */
  childScores: Array<number | undefined>;
}

/**
 * Orders fused RRF results: by RRF score (a float, as Elasticsearch sums it), then as the version breaks ties.
 * 8.16+ (RankDoc.compareTo): shard, then Lucene doc id. 8.15 (legacy rank phase): per child in order, the one
 * with the higher child score, or the one the child returned; then doc id.
 */
function rrfOrder(legacy: boolean): (a: Fused, b: Fused) => number {
  return (a, b) => {
    if (a.hit.score !== b.hit.score) return b.hit.score - a.hit.score;
    if (legacy) {
      for (let i = 0; i < a.childScores.length; i++) {
        const sa = a.childScores[i];
        const sb = b.childScores[i];
        if (sa !== undefined && sb !== undefined) {
          if (sa !== sb) return sb - sa;
        } else if (sa !== undefined) return -1;
        else if (sb !== undefined) return 1;
      }
    }
    return indexOrder(a.hit, b.hit);
  };
}

function runRrf(scope: SearchScope, body: Record<string, Json>, windowSize: number): RankedHit[] {
  if (!licenceAllows(scope.licence, 'rrf')) {
    throw new EsHttpError(
      403,
      'security_exception',
      'current license is non-compliant for [Reciprocal Rank Fusion (RRF)]',
      {
        'license.expired.feature': 'Reciprocal Rank Fusion (RRF)',
      },
    );
  }
  if (!Array.isArray(body.retrievers) || body.retrievers.length < 2) {
    throw badRequest('[rrf] requires at least 2 [retrievers]');
  }
  const window = typeof body.rank_window_size === 'number' ? body.rank_window_size : windowSize;
  const rankConstant = typeof body.rank_constant === 'number' ? body.rank_constant : 60;
  if (rankConstant < 1) throw badRequest('[rank_constant] must be greater or equal to [1] for [rrf]');
  const children = body.retrievers;
  const fused = new Map<string, Fused>();
  children.forEach((child, childIndex) => {
    runRetriever(scope, child, window).forEach((hit, position) => {
      const key = keyOf(hit);
      let entry = fused.get(key);
      if (!entry) {
        entry = { hit: { ...hit, score: 0 }, childScores: children.map(() => undefined) };
        fused.set(key, entry);
      }
      // NOTE: Elasticsearch sums 1.0f / (rank_constant + rank) in float32, rank counted from 1.
      entry.hit.score = Math.fround(entry.hit.score + Math.fround(1 / (rankConstant + position + 1)));
      entry.childScores[childIndex] = hit.score;
    });
  });
  return [...fused.values()]
    .sort(rrfOrder(scope.behaviour.legacyRrfTieBreak))
    .slice(0, window)
    .map((entry) => entry.hit);
}

/** Runs a retriever tree (standard, knn, rrf) and returns its top `windowSize` hits, best first. */
export function runRetriever(scope: SearchScope, retriever: Json, windowSize: number): RankedHit[] {
  if (!isObject(retriever)) throw parsingError('[retriever] malformed, expected an object');
  const keys = Object.keys(retriever);
  if (keys.length !== 1)
    throw parsingError(`[retriever] expects exactly one retriever, found [${keys.join(', ')}]`);
  const kind = keys[0]!;
  const body = retriever[kind]!;
  if (!isObject(body)) throw parsingError(`[${kind}] retriever malformed`);
  if (kind === 'standard') {
    return byScore(
      gather(scope, (ctx, docs) => {
        let candidates = docs;
        if (body.filter !== undefined) {
          // Elasticsearch takes one query or an array of them here, as in a bool query's filter.
          const filter = Array.isArray(body.filter) ? { bool: { filter: body.filter } } : body.filter;
          const allowed = runQuery(ctx, docs, filter);
          candidates = docs.filter((d) => allowed.has(d.id));
        }
        return runQuery(ctx, candidates, body.query ?? { match_all: {} });
      }),
    ).slice(0, windowSize);
  }
  if (kind === 'knn') {
    const k = typeof body.k === 'number' ? body.k : windowSize;
    return byScore(gather(scope, (ctx, docs) => runKnn(ctx, docs, body, windowSize))).slice(0, k);
  }
  if (kind === 'rrf') return runRrf(scope, body, windowSize);
  throw parsingError(`unknown retriever [${kind}]`);
}
