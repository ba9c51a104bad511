// Markdown rendering of evaluation results, with the retention of the original MRR@10 beside the paper's.
import type { EvalResult, EvalRow } from './run-eval.js';

/** The paper's MS MARCO MRR@10 (BGE-base) per method and K, for retention comparisons. */
export const PAPER_MRR10 = {
  original: 0.3605,
  reconstructed: { 32: 0.2984, 64: 0.3194, 128: 0.3455 } as Record<number, number>,
  sparse: { 32: 0.2721, 64: 0.3062, 128: 0.3306 } as Record<number, number>,
};

/** Our MRR@10 of a row as a fraction of the original dense row's. */
export function retention(row: EvalRow, original: EvalRow): number {
  return original.mrr10 === 0 ? 0 : row.mrr10 / original.mrr10;
}

/** The paper's retention for a method and K, when the paper reports it. */
export function paperRetention(method: EvalRow['method'], k: number): number | undefined {
  if (method === 'original' || method === 'residual') return 1;
  const mrr = PAPER_MRR10[method === 'reconstructed-cosine' ? 'reconstructed' : method][k];
  return mrr === undefined ? undefined : mrr / PAPER_MRR10.original;
}

const pct = (x: number | undefined) => (x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
const num = (x: number) => x.toFixed(4);

/** Renders results as a Markdown table (one row per method and K) with retention columns. */
export function renderMarkdownTable(results: EvalResult[]): string {
  const lines = [
    '| dataset | method | K | MSE | MRR@10 | P@10 | R@10 | nDCG@10 | retention of MRR@10 | paper |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const result of results) {
    const original = result.rows.find((r) => r.method === 'original')!;
    for (const row of result.rows) {
      lines.push(
        `| ${result.dataset} | ${row.method} | ${row.k || '—'} | ${row.mse.toExponential(2)} | ${num(row.mrr10)} | ${num(row.p10)} | ${num(row.r10)} | ${num(row.ndcg10)} | ${pct(retention(row, original))} | ${pct(paperRetention(row.method, row.k))} |`,
      );
    }
  }
  return lines.join('\n');
}

/** A whole report: title, provenance, the table and the relevance notes. */
export function renderReport(
  title: string,
  command: string,
  results: EvalResult[],
  date = new Date(),
): string {
  const notes = [
    ...new Set(
      results.map(
        (r) =>
          `- ${r.dataset}: ${r.documents} documents, ${r.queries} judged queries; ${r.relevanceNote}; SAE ${r.saeId}; embedder ${r.embedder}`,
      ),
    ),
  ];
  return [
    `# ${title}`,
    '',
    `Produced by \`${command}\` on ${date.toISOString().slice(0, 10)}.`,
    '',
    renderMarkdownTable(results),
    '',
    ...notes,
    '- Retention is MRR@10 as a fraction of the original dense row; "paper" is the same ratio from the paper (MS MARCO dev, BGE-base).',
    '',
  ].join('\n');
}
