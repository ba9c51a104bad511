// Figure 4 of the paper: amplifying the query-relevant feature on the query side (residual steering of the
// query) and on the document side (documents where the feature fires), over the paper's grid of strengths.
import type { SaeRuntime, SparseLatents } from '@steer/sae';
import type { EvalDataset, EvalQuery } from '../datasets.js';
import { evaluateRuns } from '../metrics.js';
import { provenance, type ReportCode } from './shared.js';
import { lineChartSvg } from './svg.js';

/** The paper's grid of amplification strengths: w = 0.0004 * 2^i for i = 0 .. steps - 1. */
export function amplificationGrid(steps = 13): number[] {
  return Array.from({ length: steps }, (_, i) => 0.0004 * 2 ** i);
}

/**
 * Where the amplified feature comes from: `concept`, concept search on the query's text (what a user does; the
 * judgments only score the result), or `judgments`, the query-relevant feature read from the relevance judgments
 * (the paper's choice; an upper bound, since the judgments that score the result also chose the feature).
 */
export type FeatureSource = 'concept' | 'judgments';

/** The query-relevant feature of one query, and how it was found. */
export interface RelevantFeature {
  queryId: string;
  feature: number;
  /**
   * judgments: query activation x (mean activation over the relevant documents - corpus mean), or that contrast
   * alone for a fallback; concept: the concept-search score.
   */
  score: number;
  /** True when no latent of the query scored above 0 (fallback to the contrast over the relevant documents alone). */
  fallback: boolean;
  /** Documents of the corpus where the feature is among the top K latents. */
  activeDocuments: number;
}

function row(latents: SparseLatents, r: number): Map<number, number> {
  const out = new Map<number, number>();
  for (let j = 0; j < latents.k; j++) {
    const value = latents.values[r * latents.k + j]!;
    if (value > 0) out.set(latents.indices[r * latents.k + j]!, value);
  }
  return out;
}

/**
 * The latent maximising query activation x (mean activation over the query's relevant documents - mean over
 * the whole corpus, `corpusMean`; 0 where a latent is outside a vector's top K): a feature the query carries and
 * that sets its relevant documents apart. Without `corpusMean` the plain mean over the relevant documents is used.
 * When no latent scores above 0, the latent with the highest (contrasted) mean over the relevant documents.
 * Ties go to the lower feature id. Returns null without relevant documents.
 */
export function queryRelevantFeature(
  query: ReadonlyMap<number, number>,
  relevantDocs: ReadonlyArray<ReadonlyMap<number, number>>,
  corpusMean?: ReadonlyMap<number, number>,
): { feature: number; score: number; fallback: boolean } | null {
  if (relevantDocs.length === 0) return null;
  const mean = new Map<number, number>();
  for (const doc of relevantDocs) {
    for (const [f, v] of doc) mean.set(f, (mean.get(f) ?? 0) + v / relevantDocs.length);
  }
  if (corpusMean) for (const [f, m] of mean) mean.set(f, m - (corpusMean.get(f) ?? 0));
  let best: { feature: number; score: number; fallback: boolean } | null = null;
  for (const [f, qv] of query) {
    const score = qv * (mean.get(f) ?? 0);
    if (score > 0 && (!best || score > best.score || (score === best.score && f < best.feature))) {
      best = { feature: f, score, fallback: false };
    }
  }
  if (best) return best;
  for (const [f, m] of mean) {
    if (!best || m > best.score || (m === best.score && f < best.feature))
      best = { feature: f, score: m, fallback: true };
  }
  return best;
}

/** Inputs of {@link runAmplify}. */
export interface AmplifyOptions {
  dataset: EvalDataset;
  sae: SaeRuntime;
  /** [documents, dims], in dataset.documents order. */
  documentVectors: Float32Array;
  /** [queries.length, dims] */
  queryVectors: Float32Array;
  queries: readonly EvalQuery[];
  /** Strengths to try; default {@link amplificationGrid}. */
  weights?: readonly number[];
  /**
   * Concept search: the feature to amplify for a query text and its score (for `source: 'concept'`; the
   * query's judgments are then only used to score the result).
   */
  conceptSearch?: (text: string) => Promise<{ feature: number; score: number } | undefined>;
}

/** MRR@10 and P@10 at each strength, per side. */
export interface AmplifyCurve {
  mrr10: number[];
  p10: number[];
}

/** Result of {@link runAmplify}. */
export interface AmplifyResult {
  dataset: string;
  source: FeatureSource;
  saeId: string;
  k: number;
  weights: number[];
  /** Original dense retrieval (w = 0) over the same queries. */
  baseline: { mrr10: number; p10: number };
  query: AmplifyCurve;
  document: AmplifyCurve;
  features: RelevantFeature[];
  /** Queries scored (judged, with at least one relevant document). */
  queries: number;
}

function topTen(scores: Float64Array): number[] {
  const top: number[] = [];
  for (let d = 0; d < scores.length; d++) {
    const s = scores[d]!;
    if (top.length === 10 && s <= scores[top[9]!]!) continue;
    let i = Math.min(top.length, 9);
    if (top.length < 10) top.push(d);
    while (i > 0 && s > scores[top[i - 1]!]!) {
      top[i] = top[i - 1]!;
      i--;
    }
    top[i] = d;
  }
  return top;
}

function dotAll(docs: Float32Array, dims: number, count: number, vector: Float32Array): Float64Array {
  const out = new Float64Array(count);
  for (let d = 0; d < count; d++) {
    let s = 0;
    const base = d * dims;
    for (let i = 0; i < dims; i++) s += docs[base + i]! * vector[i]!;
    out[d] = s;
  }
  return out;
}

/**
 * Runs the amplification experiment. Per judged query: find its query-relevant feature f (see
 * {@link queryRelevantFeature}; the document side uses the judgments by design: it measures controllability,
 * not retrieval quality). Query side: q' = q + W_dec (h' - h) with h'_f = h_f + w (residual steering), scored by
 * dot product against the original documents. Document side: d' = d + w W_dec[:, f] for every document whose
 * top-K latents include f (the others are unchanged: adding w to every document would shift all scores of a
 * query equally and change no ranking), scored against the original query. Retrieval is exact over all documents.
 */
export async function runAmplify(options: AmplifyOptions): Promise<AmplifyResult> {
  const { dataset, sae, documentVectors, queryVectors, queries } = options;
  const dims = sae.manifest.dModel;
  const nDocs = dataset.documents.length;
  const weights = [...(options.weights ?? amplificationGrid())];
  const ids = dataset.documents.map((d) => d.id);
  const index = new Map(ids.map((id, i) => [id, i]));
  const docLatents = await sae.encodeBatches(documentVectors, nDocs);
  const queryLatents = await sae.encode(queryVectors, queries.length);
  const activeIn = new Map<number, number[]>();
  const corpusMean = new Map<number, number>();
  for (let d = 0; d < nDocs; d++) {
    for (const [f, v] of row(docLatents, d)) {
      let list = activeIn.get(f);
      if (!list) activeIn.set(f, (list = []));
      list.push(d);
      corpusMean.set(f, (corpusMean.get(f) ?? 0) + v / nDocs);
    }
  }
  const features: RelevantFeature[] = [];
  const baselineRuns = new Map<string, string[]>();
  const queryRuns = weights.map(() => new Map<string, string[]>());
  const docRuns = weights.map(() => new Map<string, string[]>());
  const scoredQrels = new Map<string, Map<string, number>>();
  for (let q = 0; q < queries.length; q++) {
    const query = queries[q]!;
    const judgments = dataset.qrels.get(query.id);
    if (!judgments) continue;
    const relevant = [...judgments]
      .filter(([id, grade]) => grade >= dataset.minRelevantGrade && index.has(id))
      .map(([id]) => index.get(id)!);
    const found = options.conceptSearch
      ? relevant.length > 0
        ? await options.conceptSearch(query.text).then((m) => m && { ...m, fallback: false })
        : null
      : queryRelevantFeature(
          row(queryLatents, q),
          relevant.map((d) => row(docLatents, d)),
          corpusMean,
        );
    if (!found) continue;
    scoredQrels.set(query.id, judgments);
    const activeDocs = activeIn.get(found.feature) ?? [];
    features.push({ queryId: query.id, ...found, activeDocuments: activeDocs.length });
    const qv = queryVectors.subarray(q * dims, (q + 1) * dims);
    const base = dotAll(documentVectors, dims, nDocs, qv);
    baselineRuns.set(
      query.id,
      topTen(base).map((d) => ids[d]!),
    );
    const direction = sae.decoderDirection(found.feature);
    let queryDotDirection = 0;
    for (let i = 0; i < dims; i++) queryDotDirection += qv[i]! * direction[i]!;
    for (let w = 0; w < weights.length; w++) {
      const { vector } = await sae.steer(qv, [{ feature: found.feature, op: 'add', value: weights[w]! }], {
        mode: 'residual',
        returnLatents: false,
      });
      queryRuns[w]!.set(
        query.id,
        topTen(dotAll(documentVectors, dims, nDocs, vector)).map((d) => ids[d]!),
      );
      const shifted = Float64Array.from(base);
      for (const d of activeDocs) shifted[d]! += weights[w]! * queryDotDirection;
      docRuns[w]!.set(
        query.id,
        topTen(shifted).map((d) => ids[d]!),
      );
    }
  }
  const score = (runs: Map<string, string[]>) => evaluateRuns(runs, scoredQrels, dataset.minRelevantGrade);
  const baseline = score(baselineRuns);
  return {
    dataset: dataset.name,
    source: options.conceptSearch ? 'concept' : 'judgments',
    saeId: sae.manifest.id,
    k: sae.manifest.k,
    weights,
    baseline: { mrr10: baseline.mrr10, p10: baseline.p10 },
    query: { mrr10: queryRuns.map((r) => score(r).mrr10), p10: queryRuns.map((r) => score(r).p10) },
    document: { mrr10: docRuns.map((r) => score(r).mrr10), p10: docRuns.map((r) => score(r).p10) },
    features,
    queries: baseline.queries,
  };
}

const SOURCE_NAMES: Record<FeatureSource, string> = {
  concept: 'concept search',
  judgments: 'from judgments (upper bound)',
};

/** The amplification curves of one dataset, each source side by side, as an SVG line chart (x: w, log scale). */
export function renderAmplifySvg(results: readonly AmplifyResult[]): string {
  const first = results[0]!;
  const pts = (result: AmplifyResult, ys: readonly number[]) =>
    result.weights.map((w, i) => [w, ys[i]!] as const);
  return lineChartSvg({
    title: `Amplifying the query-relevant feature (${first.dataset}, K=${first.k})`,
    xLabel: 'amplification w (log scale)',
    yLabel: 'MRR@10',
    xLog: true,
    series: [
      ...results.flatMap((result) => [
        { name: `query side, ${SOURCE_NAMES[result.source]}`, points: pts(result, result.query.mrr10) },
        {
          name: `document side, ${SOURCE_NAMES[result.source]}`,
          points: pts(result, result.document.mrr10),
          dashed: true,
        },
      ]),
      {
        name: 'original (w = 0)',
        points: pts(
          first,
          first.weights.map(() => first.baseline.mrr10),
        ),
        dashed: true,
      },
    ],
  });
}

/** The amplification report of one dataset in Markdown, each feature source side by side. */
export function renderAmplify(
  results: readonly AmplifyResult[],
  command: string,
  date: Date,
  svgName: string,
  code?: ReportCode,
): string {
  const first = results[0]!;
  const f4 = (v: number) => v.toFixed(4);
  const header = results.flatMap((r) => [
    `query side MRR@10 (${SOURCE_NAMES[r.source]})`,
    `document side MRR@10 (${SOURCE_NAMES[r.source]})`,
  ]);
  const describe = (result: AmplifyResult) => {
    const fallbacks = result.features.filter((f) => f.fallback).length;
    const distinct = new Set(result.features.map((f) => f.feature)).size;
    const meanActive =
      result.features.reduce((s, f) => s + f.activeDocuments, 0) / Math.max(1, result.features.length);
    const best = (curve: number[]) => Math.max(...curve);
    return `- ${SOURCE_NAMES[result.source]}: ${distinct} distinct features over ${result.features.length} queries${result.source === 'judgments' ? ` (${fallbacks} fallbacks)` : ''}, active in ${meanActive.toFixed(1)} documents on average; best MRR@10 query side ${f4(best(result.query.mrr10))}, document side ${f4(best(result.document.mrr10))} (original ${f4(result.baseline.mrr10)}).`;
  };
  const lines = [
    `# Figure 4: amplifying the query-relevant feature (${first.dataset})`,
    '',
    provenance(command, date, code),
    '',
    `![amplification curves](${svgName})`,
    '',
    `SAE ${first.saeId} (K=${first.k}); ${first.queries} judged queries. At w = 0 (no amplification): MRR@10 ${f4(first.baseline.mrr10)}, P@10 ${f4(first.baseline.p10)}.`,
    '',
    ...results.map(describe),
    '',
    `| w | ${header.join(' | ')} |`,
    `|---|${header.map(() => '---|').join('')}`,
    `| 0 | ${results.flatMap(() => [f4(first.baseline.mrr10), f4(first.baseline.mrr10)]).join(' | ')} |`,
    ...first.weights.map(
      (w, i) =>
        `| ${Number(w.toPrecision(4))} | ${results.flatMap((r) => [f4(r.query.mrr10[i]!), f4(r.document.mrr10[i]!)]).join(' | ')} |`,
    ),
    '',
    '## Method',
    '',
    '- Concept search (what a user does): the feature is the best match of `steer features search "<query text>"`',
    "  in the SAE's catalog (built on the corpus with `steer label`); the judgments only score the result.",
    "- From judgments (the paper's choice, an upper bound): the latent maximising (query activation) x (mean activation",
    "  over the query's relevant documents - mean activation over all documents), using the SAE's top-K codes; when no",
    '  latent scores above 0, the latent with the highest contrast over the relevant documents alone. The judgments',
    '  that choose the feature also score the result, so its numbers are optimistic.',
    "- Query side: residual steering, q' = q + W_dec (h' - h) with h'_f = h_f + w, searched against the original documents.",
    "- Document side: d' = d + w W_dec[:, f] for every document whose top-K latents include f, searched with the",
    "  original query. Adding w to every document instead would shift all of a query's scores by the same amount and",
    '  change no ranking, so the documents where the feature fires are the meaningful reading.',
    "- Scores are dot products over all documents (exact); the grid is the paper's, w = 0.0004 x 2^i.",
    '',
  ];
  return lines.join('\n');
}
