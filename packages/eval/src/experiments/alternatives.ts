// Rules tried against Steer's and not adopted, measured on every SAE of Table 1 beside the rules it adopts, so the
// reasons given in packages/train/RECIPE.md and the README come from the committed command instead of a probe:
// other sparse scoring rules, longer sparse queries, a pursued query against encoder-coded documents, and pursuit
// screened as an SAE of more than 4,096 latents would be.
import {
  decodeSparse,
  PURSUIT_CANDIDATES_PER_ATOM,
  pursueLatents,
  type SaeWeights,
  type SparseLatents,
} from '@steer/sae';
import { dataMoments } from '@steer/train';
import type { EvalDataset } from '../datasets.js';
import { perQueryMetrics, topOverlap } from '../metrics.js';
import {
  denseSearch,
  meanSquaredError,
  postingLists,
  sparseSearch,
  type EvalMethod,
  type EvalResult,
  type Reconstructions,
} from '../run-eval.js';
import {
  averageSeries,
  bootstrapPairedDifference,
  bootstrapRatio,
  compareInterval,
  meanAndSd,
  type Interval,
} from '../statistics.js';
import type { ErrorHeadroom } from './headroom.js';

/** One rule not adopted, measured on one SAE. */
export interface AlternativeRun {
  /** Stable name (the report's row key). */
  name: string;
  /** The rule, as the report writes it. */
  rule: string;
  /** The adopted rule it is compared with (a row of the evaluation). */
  against: Extract<EvalMethod, 'sparse' | 'reconstructed-pursuit'>;
  /** Reciprocal rank at 10 per judged query, in the order of the evaluation's `perQuery` series. */
  mrr10: number[];
  /** Mean top-10 overlap with the original dense ranking over every query. */
  overlap10: number;
  /** The test queries' NMSE (over the documents' variance) where the rule changes the query's reconstruction. */
  queryNmse?: number;
}

/** Multiples of k a longer sparse query keeps of the encoder's latents. */
export const LONGER_QUERY_FACTORS: readonly number[] = [2, 4, 8];
/** Weights of the per-document dense term b_dec · (x_d - b_dec) added to the raw code dot product. */
export const PRIOR_WEIGHTS: readonly number[] = [0.25, 0.5, 1, 2];

const CUTOFF = 10;

/** The encoder's pre-activations W_enc (x - b_dec) + b_enc of `rows` vectors [rows, nLatents], in float64. */
function preActivations(weights: SaeWeights, x: Float32Array, rows: number): Float64Array {
  const { W_enc, b_enc, b_dec, dModel, nLatents } = weights;
  const out = new Float64Array(rows * nLatents);
  const centred = new Float64Array(dModel);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < dModel; i++) centred[i] = x[r * dModel + i]! - b_dec[i]!;
    for (let j = 0; j < nLatents; j++) {
      let sum = b_enc[j]!;
      const w = j * dModel;
      for (let i = 0; i < dModel; i++) sum += W_enc[w + i]! * centred[i]!;
      out[r * nLatents + j] = sum;
    }
  }
  return out;
}

/** The `m` largest positive values of each row of `z` [rows, n] as sparse latents (ties to the lower latent). */
function topLatents(z: Float64Array, rows: number, n: number, m: number): SparseLatents {
  const indices = new Int32Array(rows * m);
  const values = new Float32Array(rows * m);
  for (let r = 0; r < rows; r++) {
    const row = z.subarray(r * n, (r + 1) * n);
    const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => row[b]! - row[a]! || a - b);
    for (let c = 0; c < m; c++) {
      const j = order[c]!;
      indices[r * m + c] = j;
      values[r * m + c] = Math.max(0, row[j]!);
    }
  }
  return { indices, values, batch: rows, k: m };
}

/**
 * Sparse retrieval over every document by the raw code dot product plus a per-document term: score(q, d) =
 * h_q · h_d + prior[d]. Returns the indices of the `cutoff` best documents per query (ties by document order).
 */
function sparseSearchWithPrior(
  docs: SparseLatents,
  queries: SparseLatents,
  prior: Float64Array,
  cutoff: number,
): number[][] {
  const postings = postingLists(docs, 'none');
  const scores = new Float64Array(docs.batch);
  const order = Array.from({ length: docs.batch }, (_, d) => d);
  return Array.from({ length: queries.batch }, (_, q) => {
    scores.set(prior);
    for (let j = 0; j < queries.k; j++) {
      const value = queries.values[q * queries.k + j]!;
      if (value <= 0) continue;
      for (const p of postings.get(queries.indices[q * queries.k + j]!) ?? [])
        scores[p.doc]! += value * p.value;
    }
    return [...order].sort((a, b) => scores[b]! - scores[a]! || a - b).slice(0, cutoff);
  });
}

/**
 * Measures the rules not adopted on one SAE: its weights, the dataset, and the vectors and codes the evaluation used
 * ({@link Reconstructions}, in the dataset's order). Judged like the evaluation's rows: MRR@10 per judged query and
 * the top-10 overlap with the original dense ranking (exact, by dot product) over every query.
 * @throws Error when the vectors do not match the dataset or the SAE.
 */
export function measureAlternatives(
  dataset: EvalDataset,
  weights: SaeWeights,
  k: number,
  vectors: Reconstructions,
): AlternativeRun[] {
  const { documents, queries, documentsHat, documentLatents, queryLatents } = vectors;
  const { dModel: dims, nLatents, b_dec } = weights;
  const nDocs = dataset.documents.length;
  const nQueries = dataset.queries.length;
  if (
    documents.length !== nDocs * dims ||
    queries.length !== nQueries * dims ||
    documentLatents.batch !== nDocs ||
    documentLatents.k !== k ||
    queryLatents.batch !== nQueries ||
    queryLatents.k !== k
  ) {
    throw new Error(
      `alternatives: expected the ${nDocs} documents and ${nQueries} queries of ${dataset.name} as ${dims}-d vectors and their ${k}-sparse codes; pass the evaluation's own vectors`,
    );
  }
  const ids = dataset.documents.map((d) => d.id);
  const named = (ranked: number[][]) => ranked.map((top) => top.map((d) => ids[d]!));
  const original = named(denseSearch(documents, queries, dims, CUTOFF, 'dot'));
  const judge = (
    name: string,
    rule: string,
    against: AlternativeRun['against'],
    ranked: number[][],
    queryNmse?: number,
  ): AlternativeRun => {
    const runs = named(ranked);
    const byQuery = new Map(dataset.queries.map((q, i) => [q.id, runs[i]!]));
    const overlap = runs.reduce((sum, top, i) => sum + topOverlap(top, original[i]!, CUTOFF), 0);
    return {
      name,
      rule,
      against,
      mrr10: perQueryMetrics(byQuery, dataset.qrels, dataset.minRelevantGrade).mrr10,
      overlap10: overlap / Math.max(1, nQueries),
      ...(queryNmse !== undefined ? { queryNmse } : {}),
    };
  };

  const runs: AlternativeRun[] = [];
  const z = preActivations(weights, queries, nQueries);
  const pursued = pursueLatents(weights, queries, nQueries, k);
  runs.push(
    judge(
      'sparse-query-pursuit',
      'cosine between codes, the query coded by pursuit over the decoder (k atoms), the documents by the encoder',
      'sparse',
      sparseSearch(documentLatents, pursued, CUTOFF, 'l2'),
    ),
  );
  for (const factor of LONGER_QUERY_FACTORS) {
    const m = Math.min(nLatents, factor * k);
    runs.push(
      judge(
        `sparse-query-top-${factor}k`,
        `cosine between codes, the query's ${factor}k largest encoder pre-activations (at most every latent) instead of its top k`,
        'sparse',
        sparseSearch(documentLatents, topLatents(z, nQueries, nLatents, m), CUTOFF, 'l2'),
      ),
    );
  }
  // b_dec · (x_d - b_dec): the dense score's exact per-document term (x_q · x_d = c_q · c_d + b · c_d + const).
  const bias = new Float64Array(nDocs);
  for (let d = 0; d < nDocs; d++) {
    let sum = 0;
    for (let i = 0; i < dims; i++) sum += b_dec[i]! * (documents[d * dims + i]! - b_dec[i]!);
    bias[d] = sum;
  }
  for (const w of PRIOR_WEIGHTS) {
    runs.push(
      judge(
        `sparse-dot-plus-bias-${w}`,
        `h_q · h_d + ${w} b_dec · (x_d - b_dec) (the raw code dot product plus the dense score's per-document term)`,
        'sparse',
        sparseSearchWithPrior(
          documentLatents,
          queryLatents,
          bias.map((b) => w * b),
          CUTOFF,
        ),
      ),
    );
  }
  const halfSquaredNorm = new Float64Array(nDocs);
  for (let d = 0; d < nDocs; d++) {
    let sum = 0;
    for (let c = 0; c < k; c++) sum += documentLatents.values[d * k + c]! ** 2;
    halfSquaredNorm[d] = -sum / 2;
  }
  runs.push(
    judge(
      'sparse-dot-minus-half-norm',
      'h_q · h_d - |h_d|²/2 (the dense ranking c_q · c_d - |c_d|²/2 with codes for c)',
      'sparse',
      sparseSearchWithPrior(documentLatents, queryLatents, halfSquaredNorm, CUTOFF),
    ),
  );

  const candidates = Math.min(nLatents, PURSUIT_CANDIDATES_PER_ATOM * k);
  if (candidates < nLatents) {
    const screenedHat = decodeSparse(weights, pursueLatents(weights, queries, nQueries, k, { candidates }));
    const { variance } = dataMoments(documents, nDocs, dims);
    runs.push(
      judge(
        'reconstructed-pursuit-screened',
        `the query by pursuit over only the ${PURSUIT_CANDIDATES_PER_ATOM}k atoms best aligned with x - b_dec (as an SAE of more than 4,096 latents is screened), dot`,
        'reconstructed-pursuit',
        denseSearch(documentsHat, screenedHat, dims, CUTOFF, 'dot'),
        meanSquaredError(queries, screenedHat) / variance,
      ),
    );
  }
  return runs;
}

/** The SAEs of one dataset and K, as Table 1 groups them (its `Table1Cell`). */
export interface AlternativeCell {
  dataset: string;
  k: number;
  entries: ReadonlyArray<{ result: EvalResult; alternatives?: AlternativeRun[]; headroom?: ErrorHeadroom }>;
}

/** One rule not adopted in one cell, over its seeds, against the adopted rule. */
export interface AlternativeSummary {
  dataset: string;
  k: number;
  name: string;
  rule: string;
  against: AlternativeRun['against'];
  overlap10: { mean: number; sd: number };
  /** Mean over seeds of the per-SAE overlap difference from the adopted rule. */
  overlapGain: number;
  /** Retention of MRR@10 (seed-averaged per query over the original's) with its interval. */
  retention: Interval;
  /** Seed-averaged MRR@10 minus the adopted rule's, paired over the judged queries, with its interval. */
  mrr10Gain: Interval;
  verdict: 'better' | 'worse' | 'within noise';
  /** The test queries' NMSE with this rule and with the adopted one (mean over seeds), where the rule changes it. */
  queryNmse?: { rule: number; adopted: number };
}

const rowOf = (result: EvalResult, method: EvalMethod) => result.rows.find((r) => r.method === method)!;

/** Summarises the rules not adopted of every cell whose SAEs all measured them. */
export function summarizeAlternatives(cells: readonly AlternativeCell[]): AlternativeSummary[] {
  const summaries: AlternativeSummary[] = [];
  for (const cell of cells) {
    const measured = cell.entries.map((e) => e.alternatives);
    if (measured.length === 0 || measured.some((m) => !m)) continue;
    const originalRr = averageSeries(cell.entries.map((e) => rowOf(e.result, 'original').perQuery.mrr10));
    for (const first of measured[0]!) {
      const runs = measured.map((m) => m!.find((r) => r.name === first.name));
      if (runs.some((r) => !r)) continue;
      const adopted = cell.entries.map((e) => rowOf(e.result, first.against));
      const rr = averageSeries(runs.map((r) => r!.mrr10));
      const adoptedRr = averageSeries(adopted.map((r) => r.perQuery.mrr10));
      const judged = rr.length > 0;
      const none: Interval = { value: 0, low: 0, high: 0 };
      const gain = judged ? bootstrapPairedDifference(rr, adoptedRr) : none;
      const comparison = judged ? compareInterval(gain, 0) : 'within noise';
      const { mean, sd } = meanAndSd(runs.map((r) => r!.overlap10));
      const nmse = runs.map((r) => r!.queryNmse);
      const adoptedNmse = cell.entries.map((e) => e.headroom?.nmse.queriesPursuit);
      summaries.push({
        dataset: cell.dataset,
        k: cell.k,
        name: first.name,
        rule: first.rule,
        against: first.against,
        overlap10: { mean, sd },
        overlapGain: meanAndSd(runs.map((r, i) => r!.overlap10 - adopted[i]!.overlap10)).mean,
        retention: judged ? bootstrapRatio(rr, originalRr) : none,
        mrr10Gain: gain,
        verdict: comparison === 'above' ? 'better' : comparison === 'below' ? 'worse' : 'within noise',
        ...(nmse.every((x) => x !== undefined) && adoptedNmse.every((x) => x !== undefined)
          ? {
              queryNmse: {
                rule: meanAndSd(nmse as number[]).mean,
                adopted: meanAndSd(adoptedNmse as number[]).mean,
              },
            }
          : {}),
      });
    }
  }
  return summaries;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const points = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}`;
const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}`;

/** The report's section on the rules tried and not adopted (empty when no SAE measured them). */
export function renderAlternatives(
  cells: readonly AlternativeCell[],
  labels: Record<EvalMethod, string>,
): string[] {
  const summaries = summarizeAlternatives(cells);
  if (summaries.length === 0) return [];
  const rules = new Map<string, string>();
  for (const s of summaries) if (!rules.has(s.name)) rules.set(s.name, s.rule);
  const lines = [
    '## Tried and not adopted',
    '',
    '| dataset | K | rule | compared with | top-10 overlap | Δ overlap (points) | retention [95% CI] | Δ MRR@10 [95% CI] | verdict | test-query NMSE (rule / adopted) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of summaries) {
    const ci = `${signed(s.mrr10Gain.value)} [${signed(s.mrr10Gain.low)}, ${signed(s.mrr10Gain.high)}]`;
    const retention = `${pct(s.retention.value)} [${(100 * s.retention.low).toFixed(1)}, ${(100 * s.retention.high).toFixed(1)}]`;
    lines.push(
      `| ${s.dataset} | ${s.k} | \`${s.name}\` | ${labels[s.against]} | ${pct(s.overlap10.mean)} ± ${(100 * s.overlap10.sd).toFixed(1)} | ${points(s.overlapGain)} | ${retention} | ${ci} | ${s.verdict} | ${s.queryNmse ? `${s.queryNmse.rule.toFixed(3)} / ${s.queryNmse.adopted.toFixed(3)}` : '—'} |`,
    );
  }
  lines.push(
    '',
    'Each rule is measured on the same SAEs, vectors and queries as the rows above and compared with the rule Steer',
    'adopted for that row. Top-10 overlap: mean ± sd over seeds of the fraction of the dense top 10 kept, over every',
    'query; Δ overlap: its mean difference from the adopted rule, in points. Δ MRR@10: the seed-averaged MRR@10 minus',
    "the adopted rule's, paired over the judged queries, with its 95% bootstrap interval; the verdict is `better` or",
    '`worse` only when that interval excludes 0. The rules:',
    '',
    ...[...rules].map(([name, rule]) => `- \`${name}\`: ${rule}.`),
    '',
    "The screened rule only appears where 8k is fewer than the SAE's latents; `steer` itself screens only SAEs of more",
    'than 4,096 latents (none here), so it shows what screening costs on an SAE that was also pursued exactly.',
    '',
  );
  return lines;
}
