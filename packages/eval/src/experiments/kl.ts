// Figure 2 of the paper: the KL ablation. SAEs trained with the default recipe and with the KL term off (weight 0),
// same data, K and seeds, compared by the paired per-query difference of MRR@10 with its bootstrap interval.
import { embedderLabel } from '../provenance.js';
import type { EvalMethod } from '../run-eval.js';
import { bootstrapPairedDifference, compareInterval, meanAndSd, type Interval } from '../statistics.js';
import { DEFAULT_SEEDS, type ReportCode } from './shared.js';
import { barChartSvg } from './svg.js';
import {
  cellsOf,
  datasetProvenance,
  evaluateGrid,
  meanSd,
  numInterval,
  provenanceBlock,
  seedAveraged,
  summarizeCell,
  trainingTable,
  vectorCache,
  type Table1Cell,
  type Table1Entry,
  type Table1Options,
  type Table1Result,
} from './table1.js';

/** Result of {@link runKlAblation}: entries with the default KL weight and without the KL term (0). */
export interface KlResult {
  withKl: Table1Entry[];
  withoutKl: Table1Entry[];
  datasets: Table1Result['datasets'];
  embedder: string;
  seeds: number[];
}

/**
 * Trains (or reuses) and evaluates SAEs with and without the KL loss at each K (default 128) and seed. The
 * default-weight SAEs are the ones Table 1 caches, so running both reuses them.
 */
export async function runKlAblation(options: Table1Options): Promise<KlResult> {
  const ks = options.ks ?? [128];
  const vectors = vectorCache(options.embedder, options.onProgress);
  return {
    withKl: await evaluateGrid(options, ks, 'default', vectors),
    withoutKl: await evaluateGrid(options, ks, 0, vectors),
    datasets: datasetProvenance(options.datasets),
    embedder: embedderLabel(options.embedder),
    seeds: [...(options.seeds ?? DEFAULT_SEEDS)],
  };
}

/** The KL effect on one method of one dataset and K: paired per-query differences (with minus without). */
export interface KlComparison {
  dataset: string;
  k: number;
  method: EvalMethod;
  with: Table1Cell;
  without: Table1Cell;
  /** Mean ± sd over seeds of MRR@10, with and without KL. */
  mrrWith: { mean: number; sd: number };
  mrrWithout: { mean: number; sd: number };
  /** mean(RR with KL - RR without), seed-averaged per query, with its 95% bootstrap interval over queries. */
  difference: Interval;
  /** The same for nDCG@10 and for the top-10 overlap with the original (over every query). */
  ndcgDifference: Interval;
  overlapDifference: Interval;
  verdict: 'KL helps' | 'KL hurts' | 'within noise';
}

/** Pairs the cells with and without KL and compares sparse and reconstructed retrieval. */
export function compareKl(result: KlResult): KlComparison[] {
  const without = cellsOf(result.withoutKl);
  const out: KlComparison[] = [];
  for (const w of cellsOf(result.withKl)) {
    const wo = without.find((c) => c.dataset === w.dataset && c.k === w.k);
    if (!wo) continue;
    const sw = summarizeCell(w);
    const swo = summarizeCell(wo);
    for (const method of ['sparse', 'reconstructed'] as const) {
      const overlap = (cell: Table1Cell) =>
        cell.entries[0]!.result.rows.find((r) => r.method === method)!.perQueryOverlap.map(
          (_, q) =>
            cell.entries.reduce(
              (sum, e) => sum + e.result.rows.find((r) => r.method === method)!.perQueryOverlap[q]!,
              0,
            ) / cell.entries.length,
        );
      const difference = bootstrapPairedDifference(
        seedAveraged(w, method, 'mrr10'),
        seedAveraged(wo, method, 'mrr10'),
      );
      const verdict = compareInterval(difference, 0);
      out.push({
        dataset: w.dataset,
        k: w.k,
        method,
        with: w,
        without: wo,
        mrrWith: sw.find((s) => s.method === method)!.mrr10,
        mrrWithout: swo.find((s) => s.method === method)!.mrr10,
        difference,
        ndcgDifference: bootstrapPairedDifference(
          seedAveraged(w, method, 'ndcg10'),
          seedAveraged(wo, method, 'ndcg10'),
        ),
        overlapDifference: bootstrapPairedDifference(overlap(w), overlap(wo)),
        verdict: verdict === 'above' ? 'KL helps' : verdict === 'below' ? 'KL hurts' : 'within noise',
      });
    }
  }
  return out;
}

/** The ablation's bar chart: MRR@10 per dataset, K and method, with and without KL, with 95% intervals. */
export function renderKlSvg(result: KlResult): string {
  const comparisons = compareKl(result);
  const multi = new Set(comparisons.map((c) => c.dataset)).size > 1;
  const interval = (c: KlComparison, cell: Table1Cell) =>
    summarizeCell(cell).find((s) => s.method === c.method)!.mrr10Ci;
  return barChartSvg({
    title: 'KL ablation: MRR@10 with and without the KL loss (95% bootstrap intervals)',
    yLabel: 'MRR@10',
    categories: comparisons.map((c) => `${multi ? `${c.dataset}\n` : ''}K=${c.k} ${c.method}`),
    series: [
      {
        name: 'with KL (default recipe)',
        values: comparisons.map((c) => interval(c, c.with).value),
        intervals: comparisons.map((c) => [interval(c, c.with).low, interval(c, c.with).high] as const),
      },
      {
        name: 'without KL (weight 0)',
        values: comparisons.map((c) => interval(c, c.without).value),
        intervals: comparisons.map((c) => [interval(c, c.without).low, interval(c, c.without).high] as const),
      },
      {
        name: 'original dense',
        values: comparisons.map(
          (c) => summarizeCell(c.with).find((s) => s.method === 'original')!.mrr10Ci.value,
        ),
      },
    ],
  });
}

const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(4)}`;
const signedInterval = (i: Interval): string => `${signed(i.value)} [${signed(i.low)}, ${signed(i.high)}]`;

/** The ablation's Markdown report. */
export function renderKl(
  result: KlResult,
  command: string,
  date: Date,
  svgName: string,
  code: ReportCode,
): string {
  const comparisons = compareKl(result);
  const mse = (cell: Table1Cell) =>
    meanAndSd(cell.entries.map((e) => (typeof e.training.mse === 'number' ? e.training.mse : Number.NaN)));
  const lines = [
    '# Figure 2: the KL loss ablation',
    '',
    provenanceBlock(command, date, {
      embedder: result.embedder,
      datasets: result.datasets,
      seeds: result.seeds,
      plans: [...result.withKl, ...result.withoutKl].map((e) => e.plan),
      code,
      trainings: [...result.withKl, ...result.withoutKl].map((e) => e.training),
    }),
    '- The two arms differ in the KL weight only (the table below says which SAE is which).',
    '',
    `![KL ablation](${svgName})`,
    '',
    '| dataset | K | method | MRR@10 with KL (mean ± sd) | without KL | difference of MRR@10 [95% CI] | verdict | difference of nDCG@10 [95% CI] | difference of top-10 overlap [95% CI] | training MSE with / without |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const c of comparisons) {
    const a = mse(c.with);
    const b = mse(c.without);
    lines.push(
      `| ${c.dataset} | ${c.k} | ${c.method} | ${meanSd(c.mrrWith)} | ${meanSd(c.mrrWithout)} | ${signedInterval(c.difference)} | ${c.verdict} | ${signedInterval(c.ndcgDifference)} | ${signedInterval(c.overlapDifference)} | ${a.mean.toExponential(3)} / ${b.mean.toExponential(3)} |`,
    );
  }
  const originals = cellsOf(result.withKl).map(
    (cell) =>
      `${cell.dataset}: ${numInterval(summarizeCell(cell).find((s) => s.method === 'original')!.mrr10Ci)}`,
  );
  lines.push(
    '',
    `Original dense MRR@10 [95% CI]: ${[...new Set(originals)].join('; ')}.`,
    '',
    '- A difference is the mean over judged queries of (reciprocal rank with KL) - (without KL), each averaged over the',
    '  seeds first; its interval is a paired bootstrap over the queries. "KL helps" or "KL hurts" only when the whole',
    '  interval is on one side of 0; "within noise" otherwise. The overlap difference uses every query.',
    '- Trained on the corpus only (documents, and for corpora under 4,000 documents their lead sentences, as',
    '  pseudo-queries; see table1.md); evaluated on the judged test queries.',
    "- Sparse is Steer's rule (the query's latents dotted with each document's unit-normalised latents, see table1.md);",
    '  reconstructed ranks the reconstructions by dot product.',
    '',
    '## Every SAE',
    '',
    trainingTable([...result.withKl, ...result.withoutKl]),
    '',
  );
  return lines.join('\n');
}
