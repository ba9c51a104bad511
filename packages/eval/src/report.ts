// Markdown rendering of evaluation results, with the retention of the original MRR@10 beside the paper's.
import type { EvalResult, EvalRow } from './run-eval.js';

/** The paper's MS MARCO MRR@10 (BGE-base) per method and K, for retention comparisons. */
export const PAPER_MRR10 = {
  original: 0.3605,
  reconstructed: { 32: 0.2984, 64: 0.3194, 128: 0.3455 } as Record<number, number>,
  sparse: { 32: 0.2721, 64: 0.3062, 128: 0.3306 } as Record<number, number>,
};

/** The paper's retention for a method and K, when the paper reports it. */
export function paperRetention(method: EvalRow['method'], k: number): number | undefined {
  if (method === 'original' || method === 'residual') return 1;
  // Steer's searches of the original index: the paper reconstructs documents too, so it has no such figure.
  if (method === 'steer-reconstructed' || method === 'steer-reconstructed-pursuit') return undefined;
  const paperMethod =
    method === 'reconstructed-cosine' || method === 'reconstructed-pursuit'
      ? 'reconstructed'
      : method === 'sparse-dot'
        ? 'sparse'
        : method;
  const mrr = PAPER_MRR10[paperMethod][k];
  return mrr === undefined ? undefined : mrr / PAPER_MRR10.original;
}

const pct = (x: number | undefined) => (x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
const num = (x: number) => x.toFixed(4);

/** Renders results as a Markdown table (one row per method and K) with intervals, retention and overlap. */
export function renderMarkdownTable(results: EvalResult[]): string {
  const lines = [
    '| dataset | method | K | MSE | MRR@10 [95% CI] | P@10 | R@10 | nDCG@10 [95% CI] | retention of MRR@10 [95% CI] | paper | top-10 overlap |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const interval = (i: { value: number; low: number; high: number }) =>
    `${num(i.value)} [${num(i.low)}, ${num(i.high)}]`;
  for (const result of results) {
    for (const row of result.rows) {
      const r = row.retention;
      lines.push(
        `| ${result.dataset} | ${row.method} | ${row.k || '—'} | ${row.mse.toExponential(2)} | ${interval(row.mrr10Ci)} | ${num(row.p10)} | ${num(row.r10)} | ${interval(row.ndcg10Ci)} | ${pct(r.value)} [${(100 * r.low).toFixed(1)}, ${(100 * r.high).toFixed(1)}] | ${pct(paperRetention(row.method, row.k))} | ${pct(row.overlap10)} |`,
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
          `- ${r.dataset}: ${r.documents} documents (corpus hash ${r.hashes.corpus}), ${r.queries} judged of ${r.allQueries} queries (hashes ${r.hashes.queries}, judgments ${r.hashes.qrels}); ${r.relevanceNote}; SAE ${r.saeId}; embedder ${r.embedder}`,
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
    '- Intervals: 95% percentile bootstrap over the judged queries (10,000 resamples, seed 0). Top-10 overlap: the fraction of the',
    "  original top 10 that the method's top 10 holds, averaged over every query (judged or not).",
    "- Reconstructed ranks the reconstructions by dot product (the paper's rule); reconstructed-cosine by cosine;",
    '  reconstructed-pursuit codes each query by pursuit over the decoder (the k atoms whose non-negative combination',
    '  is closest to it; how `steer=reconstructed` codes a query by default) instead of by the encoder, and ranks the',
    '  reconstructed documents by dot product with it.',
    '- steer-reconstructed and steer-reconstructed-pursuit search the original index with each query as `steer=reconstructed`',
    "  sends it with no edit (its reconstruction from the encoder's code, `code=encoder`, or from the pursuit code, the",
    "  default `code=auto`, normalised as `steer` does); only the query's reconstruction error counts, and the paper",
    '  reports no such figure.',
    "- Sparse ranks by the query's latents dotted with each document's unit-normalised latents (Steer's rule, what",
    "  `steer index --latents` writes); sparse-dot by the raw dot product of the codes (the paper's rule).",
    '',
  ].join('\n');
}
