// Retrieval metrics at a cutoff: MRR, precision, recall (binary relevance) and nDCG (graded relevance).

/** Graded judgments of one query: document id -> grade (> 0 judged relevant at some level). */
export type Judgments = ReadonlyMap<string, number>;

/** Relevance threshold: a document is relevant for the binary metrics when its grade is at least this. */
export interface MetricOptions {
  cutoff: number;
  minRelevantGrade: number;
}

/** Reciprocal rank of the first relevant document within the cutoff, else 0. */
export function reciprocalRank(
  ranking: readonly string[],
  judgments: Judgments,
  options: MetricOptions,
): number {
  const top = ranking.slice(0, options.cutoff);
  const rank = top.findIndex((id) => (judgments.get(id) ?? 0) >= options.minRelevantGrade);
  return rank < 0 ? 0 : 1 / (rank + 1);
}

/** Fraction of the top `cutoff` positions holding a relevant document (missing positions count as misses). */
export function precisionAt(
  ranking: readonly string[],
  judgments: Judgments,
  options: MetricOptions,
): number {
  const hits = ranking
    .slice(0, options.cutoff)
    .filter((id) => (judgments.get(id) ?? 0) >= options.minRelevantGrade);
  return hits.length / options.cutoff;
}

/** Fraction of all relevant documents found in the top `cutoff`; 0 when the query has none. */
export function recallAt(ranking: readonly string[], judgments: Judgments, options: MetricOptions): number {
  let relevant = 0;
  for (const grade of judgments.values()) if (grade >= options.minRelevantGrade) relevant++;
  if (relevant === 0) return 0;
  const hits = ranking
    .slice(0, options.cutoff)
    .filter((id) => (judgments.get(id) ?? 0) >= options.minRelevantGrade);
  return hits.length / relevant;
}

/**
 * nDCG with graded gains (gain = grade, the TREC convention used by trec_eval) and log2 discount:
 * DCG = sum_i grade_i / log2(i + 2), normalised by the DCG of the ideal ordering of all judged grades.
 */
export function ndcgAt(
  ranking: readonly string[],
  judgments: Judgments,
  options: Pick<MetricOptions, 'cutoff'>,
): number {
  const dcg = ranking
    .slice(0, options.cutoff)
    .reduce((sum, id, i) => sum + Math.max(0, judgments.get(id) ?? 0) / Math.log2(i + 2), 0);
  const ideal = [...judgments.values()]
    .filter((g) => g > 0)
    .sort((a, b) => b - a)
    .slice(0, options.cutoff)
    .reduce((sum, grade, i) => sum + grade / Math.log2(i + 2), 0);
  return ideal === 0 ? 0 : dcg / ideal;
}

export interface MetricSummary {
  mrr10: number;
  p10: number;
  r10: number;
  ndcg10: number;
  queries: number;
}

/** The @10 metrics of every query with at least one relevant judgment, in the order of `qrels`. */
export interface PerQueryMetrics {
  queryIds: string[];
  mrr10: number[];
  p10: number[];
  r10: number[];
  ndcg10: number[];
}

/**
 * The @10 metrics per query, for the queries that have at least one relevant judgment (grade >=
 * `minRelevantGrade`); queries without judgments are skipped, as trec_eval does. A query without a run scores 0.
 */
export function perQueryMetrics(
  runs: ReadonlyMap<string, readonly string[]>,
  qrels: ReadonlyMap<string, Judgments>,
  minRelevantGrade: number,
): PerQueryMetrics {
  const options = { cutoff: 10, minRelevantGrade };
  const out: PerQueryMetrics = { queryIds: [], mrr10: [], p10: [], r10: [], ndcg10: [] };
  for (const [queryId, judgments] of qrels) {
    if (![...judgments.values()].some((g) => g >= minRelevantGrade)) continue;
    const ranking = runs.get(queryId) ?? [];
    out.queryIds.push(queryId);
    out.mrr10.push(reciprocalRank(ranking, judgments, options));
    out.p10.push(precisionAt(ranking, judgments, options));
    out.r10.push(recallAt(ranking, judgments, options));
    out.ndcg10.push(ndcgAt(ranking, judgments, options));
  }
  return out;
}

/** Averages the @10 metrics of {@link perQueryMetrics} over the judged queries. */
export function evaluateRuns(
  runs: ReadonlyMap<string, readonly string[]>,
  qrels: ReadonlyMap<string, Judgments>,
  minRelevantGrade: number,
): MetricSummary {
  const per = perQueryMetrics(runs, qrels, minRelevantGrade);
  const n = per.queryIds.length;
  const avg = (xs: number[]) => (n === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / n);
  return { mrr10: avg(per.mrr10), p10: avg(per.p10), r10: avg(per.r10), ndcg10: avg(per.ndcg10), queries: n };
}

/** Fraction of `reference`'s top `cutoff` that `ranking`'s top `cutoff` also holds (1 when both are empty). */
export function topOverlap(ranking: readonly string[], reference: readonly string[], cutoff = 10): number {
  const top = new Set(reference.slice(0, cutoff));
  if (top.size === 0) return 1;
  return ranking.slice(0, cutoff).filter((id) => top.has(id)).length / top.size;
}
