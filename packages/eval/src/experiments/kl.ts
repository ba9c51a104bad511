// Figure 2 of the paper: the KL ablation. SAEs trained with and without the KL term of the loss (kld weight 1
// vs 0) at the same K, compared by sparse and reconstructed MRR@10 as bars.
import type { EvalMethod } from '../run-eval.js';
import { provenance } from './shared.js';
import { barChartSvg } from './svg.js';
import { evaluateGrid, vectorCache, type Table1Entry, type Table1Options } from './table1.js';

/** Result of {@link runKlAblation}: entries with the KL loss (kldWeight 1) and without (0). */
export interface KlResult {
  withKl: Table1Entry[];
  withoutKl: Table1Entry[];
}

/**
 * Trains (or reuses) and evaluates SAEs with and without the KL loss at each K (default 128).
 * The KL-weight-1 SAEs are the ones Table 1 caches, so running both reuses them.
 */
export async function runKlAblation(options: Table1Options): Promise<KlResult> {
  const ks = options.ks ?? [128];
  const vectors = vectorCache(options.embedder, options.onProgress);
  return {
    withKl: await evaluateGrid(options, ks, 1, vectors),
    withoutKl: await evaluateGrid(options, ks, 0, vectors),
  };
}

const mrr = (entry: Table1Entry, method: EvalMethod): number =>
  entry.result.rows.find((r) => r.method === method)!.mrr10;

function categories(
  result: KlResult,
): Array<{ label: string; method: EvalMethod; with: Table1Entry; without: Table1Entry }> {
  const out: Array<{ label: string; method: EvalMethod; with: Table1Entry; without: Table1Entry }> = [];
  for (const w of result.withKl) {
    const wo = result.withoutKl.find((e) => e.dataset === w.dataset && e.k === w.k);
    if (!wo) continue;
    const prefix = `${result.withKl.some((e) => e.dataset !== w.dataset) ? `${w.dataset}\n` : ''}K=${w.k}`;
    for (const method of ['sparse', 'reconstructed'] as const)
      out.push({ label: `${prefix} ${method}`, method, with: w, without: wo });
  }
  return out;
}

/** The ablation's bar chart: sparse and reconstructed MRR@10 per K, with vs without KL, original as reference. */
export function renderKlSvg(result: KlResult): string {
  const cats = categories(result);
  return barChartSvg({
    title: 'KL ablation: MRR@10 with and without the KL loss',
    yLabel: 'MRR@10',
    categories: cats.map((c) => c.label),
    series: [
      { name: 'MSE + KL (weight 1)', values: cats.map((c) => mrr(c.with, c.method)) },
      { name: 'MSE only (weight 0)', values: cats.map((c) => mrr(c.without, c.method)) },
      { name: 'original dense', values: cats.map((c) => mrr(c.with, 'original')) },
    ],
  });
}

/** The ablation's Markdown report. */
export function renderKl(result: KlResult, command: string, date: Date, svgName: string): string {
  const lines = [
    '# Figure 2: the KL loss ablation',
    '',
    provenance(command, date),
    '',
    `![KL ablation](${svgName})`,
    '',
    '| dataset | K | method | MRR@10 with KL | MRR@10 without KL | difference | original | training MSE with / without |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const c of categories(result)) {
    const a = mrr(c.with, c.method);
    const b = mrr(c.without, c.method);
    lines.push(
      `| ${c.with.dataset} | ${c.with.k} | ${c.method} | ${a.toFixed(4)} | ${b.toFixed(4)} | ${(a - b >= 0 ? '+' : '') + (a - b).toFixed(4)} | ${mrr(c.with, 'original').toFixed(4)} | ${c.with.trainingMse?.toExponential(3) ?? '—'} / ${c.without.trainingMse?.toExponential(3) ?? '—'} |`,
    );
  }
  lines.push(
    '',
    '- Both SAEs of a pair share everything (data, latents, K, epochs, seed, pseudo-query groups with M = 8) except the KL weight.',
    '- Trained on the corpus only (documents, and for corpora under 4,000 documents their lead sentences, as pseudo-queries;',
    '  see table1.md); evaluated on the judged test queries.',
    '',
  );
  return lines.join('\n');
}
