// Tables 3 and 4 of the paper: steering toward a perspective. For binary-perspective queries over the labelled
// demo corpus, count how many of the top 5 belong to each perspective before and after amplifying that
// perspective's feature in the query (residual steering).
import { readFile } from 'node:fs/promises';
import { parseJsonl } from '@steer/core';
import type { Catalog } from '@steer/catalog';
import type { FeatureCatalog } from '@steer/grammar';
import { latentNorm, type SaeRuntime, type SparseLatents } from '@steer/sae';
import { EvalError } from '../errors.js';
import { compileSteerQuery, steerQueryLiteral, toSaeEdit } from './controllability.js';
import { provenance, type ReportCode } from './shared.js';
import { barChartSvg } from './svg.js';

/** The perspective queries shipped with @steer/eval (packages/eval/queries/perspectives.json). */
export const PERSPECTIVE_QUERIES_FILE = new URL('../../../queries/perspectives.json', import.meta.url);

/** A query with the two perspectives of its topic (names are the corpus's metadata.perspective labels). */
export interface PerspectiveQuery {
  id: string;
  query: string;
  topic: string;
  perspectives: [{ name: string; description: string }, { name: string; description: string }];
}

/** A passage of the demo corpus with its hand-written topic and perspective labels. */
export interface LabelledPassage {
  id: string;
  title: string;
  text: string;
  topic: string;
  perspective: string;
}

/**
 * Reads the perspective queries (`{ queries: PerspectiveQuery[] }`).
 * @throws EvalError `experiment_input` naming the file and the bad entry.
 */
export async function loadPerspectiveQueries(path: string): Promise<PerspectiveQuery[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new EvalError(
      `experiment: cannot read the perspective queries ${path} (${(error as Error).message}); pass --queries <file.json>`,
      'experiment_input',
    );
  }
  const queries = (parsed as { queries?: unknown }).queries;
  if (!Array.isArray(queries) || queries.length === 0) {
    throw new EvalError(
      `experiment: ${path} has no "queries" array; see packages/eval/queries/perspectives.json`,
      'experiment_input',
    );
  }
  queries.forEach((q: Partial<PerspectiveQuery>, i) => {
    const ok =
      typeof q.id === 'string' &&
      typeof q.query === 'string' &&
      typeof q.topic === 'string' &&
      Array.isArray(q.perspectives) &&
      q.perspectives.length === 2 &&
      q.perspectives.every((p) => typeof p?.name === 'string' && typeof p?.description === 'string');
    if (!ok) {
      throw new EvalError(
        `experiment: ${path} query ${i} needs "id", "query", "topic" and two "perspectives" of { name, description }`,
        'experiment_input',
      );
    }
  });
  return queries as PerspectiveQuery[];
}

/**
 * Reads a JSONL corpus whose passages carry `metadata.topic` and `metadata.perspective` (the demo corpus).
 * @throws EvalError `experiment_input` for a line without them.
 */
export async function loadLabelledCorpus(path: string): Promise<LabelledPassage[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new EvalError(
      `experiment: cannot read the corpus ${path} (${(error as Error).message}); pass --corpus <file.jsonl>`,
      'experiment_input',
    );
  }
  const notJson = (n: number) =>
    new EvalError(`experiment: ${path}:${n} is not valid JSON`, 'experiment_input');
  return Array.from(parseJsonl(text, notJson), ({ value: line, line: n }) => {
    const value = line as {
      _id?: unknown;
      title?: unknown;
      text?: unknown;
      metadata?: { topic?: unknown; perspective?: unknown };
    };
    const { topic, perspective } = value.metadata ?? {};
    if (
      typeof value._id !== 'string' ||
      typeof value.text !== 'string' ||
      typeof topic !== 'string' ||
      typeof perspective !== 'string'
    ) {
      throw new EvalError(
        `experiment: ${path}:${n} needs "_id", "text" and metadata.topic / metadata.perspective labels`,
        'experiment_input',
      );
    }
    return {
      id: value._id,
      title: typeof value.title === 'string' ? value.title : '',
      text: value.text,
      topic,
      perspective,
    };
  });
}

/**
 * Counts how many of the first `depth` documents of `ranking` carry each of `perspectives` (by `labelOf`);
 * documents with any other label (or none) count under `other`.
 */
export function countPerspectives(
  ranking: readonly string[],
  labelOf: ReadonlyMap<string, string>,
  perspectives: readonly string[],
  depth = 5,
): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries([...perspectives, 'other'].map((p) => [p, 0]));
  for (const id of ranking.slice(0, depth)) {
    const label = labelOf.get(id);
    if (label !== undefined && perspectives.includes(label)) counts[label]!++;
    else counts.other!++;
  }
  return counts;
}

/** The feature chosen for a perspective and the evidence for it. */
export interface PerspectiveFeature {
  topic: string;
  perspective: string;
  feature: number;
  /** Mean activation over the perspective's passages minus over the other perspective's passages of the topic. */
  enrichment: number;
  /** Fractions of the perspective's and of the other perspective's passages where the feature is in the top K. */
  towardFrequency: number;
  awayFrequency: number;
  /** Median activation where the feature fires in the corpus: the unit of steering strength. */
  typicalActivation: number;
}

/**
 * The latent most enriched in a perspective's passages of a topic against the other perspective's passages of
 * the same topic (mean top-K activation, 0 where inactive). Ties go to the lower feature id.
 * @throws EvalError `experiment_input` when the topic has no passages of either perspective.
 */
export function perspectiveFeature(
  codes: SparseLatents,
  passages: readonly LabelledPassage[],
  topic: string,
  toward: string,
  away: string,
): PerspectiveFeature {
  const mean = (perspective: string) => {
    const rows = passages.flatMap((p, i) => (p.topic === topic && p.perspective === perspective ? [i] : []));
    const sum = new Map<number, number>();
    const fired = new Map<number, number>();
    for (const r of rows) {
      for (let j = 0; j < codes.k; j++) {
        const v = codes.values[r * codes.k + j]!;
        if (v <= 0) continue;
        const f = codes.indices[r * codes.k + j]!;
        sum.set(f, (sum.get(f) ?? 0) + v / rows.length);
        fired.set(f, (fired.get(f) ?? 0) + 1 / rows.length);
      }
    }
    return { rows: rows.length, sum, fired };
  };
  const a = mean(toward);
  const b = mean(away);
  if (a.rows === 0 || b.rows === 0) {
    throw new EvalError(
      `experiment: topic "${topic}" has ${a.rows} "${toward}" and ${b.rows} "${away}" passages; each perspective needs labelled passages in the corpus`,
      'experiment_input',
    );
  }
  let best = { feature: -1, enrichment: -Infinity };
  for (const [f, m] of a.sum) {
    const e = m - (b.sum.get(f) ?? 0);
    if (e > best.enrichment || (e === best.enrichment && f < best.feature))
      best = { feature: f, enrichment: e };
  }
  const active: number[] = [];
  for (let i = 0; i < codes.batch * codes.k; i++) {
    if (codes.indices[i] === best.feature && codes.values[i]! > 0) active.push(codes.values[i]!);
  }
  active.sort((x, y) => x - y);
  const typical = active.length === 0 ? 0 : active[Math.floor((active.length - 1) / 2)]!;
  return {
    topic,
    perspective: toward,
    feature: best.feature,
    enrichment: best.enrichment,
    towardFrequency: a.fired.get(best.feature) ?? 0,
    awayFrequency: b.fired.get(best.feature) ?? 0,
    typicalActivation: typical,
  };
}

/** How the amplified feature was found: concept search on the perspective's description, or from the labels. */
export type PerspectiveSource = 'concept' | 'labels';

/** One (query, amplified perspective) pair under one feature source. */
export interface PerspectiveRow {
  queryId: string;
  query: string;
  toward: string;
  away: string;
  source: PerspectiveSource;
  /** The features amplified (a concept direction may hold several), as `f12` ids. */
  features: number[];
  before: Record<string, number>;
  /** Counts after amplifying with each strength (same order as the result's strengths). */
  after: Array<Record<string, number>>;
  /** Top documents before and at the strongest amplification, for the report. */
  topBefore: string[];
  topAfter: string[];
}

/** Result of {@link runPerspectives}. */
export interface PerspectivesResult {
  saeId: string;
  k: number;
  depth: number;
  /** Relative strengths (`1x` = the SAE's calibration scale x |h| of the query). */
  strengths: number[];
  rows: PerspectiveRow[];
  /** The label-chosen feature of each (topic, perspective): the upper bound's choice and its evidence. */
  labelFeatures: PerspectiveFeature[];
}

/** Passage indices ordered by dot product with `vector`, best first (ties: lower index). */
function rankByDot(docs: Float32Array, dims: number, count: number, vector: Float32Array): number[] {
  const scores = new Float64Array(count);
  for (let d = 0; d < count; d++) {
    let s = 0;
    for (let i = 0; i < dims; i++) s += docs[d * dims + i]! * vector[i]!;
    scores[d] = s;
  }
  return Array.from({ length: count }, (_, d) => d).sort((x, y) => scores[y]! - scores[x]! || x - y);
}

/**
 * Runs the perspective experiment: for each query and each of its two perspectives, steer the query toward the
 * perspective at each strength with `"<query>" +~"<description>"*{s}x` (concept search, what a user does; the
 * labels only judge) and with `"<query>" +f<label-chosen>*{s}x` (the feature read from the labels that judge it:
 * an upper bound), compiled against `catalog` with the query's own strength unit and run by residual steering;
 * count the perspectives of the top `depth` passages (by the corpus's metadata.perspective labels) before and
 * after. Retrieval is exact dot product over all passages of the corpus.
 */
export async function runPerspectives(options: {
  passages: readonly LabelledPassage[];
  /** [passages, dims] */
  documentVectors: Float32Array;
  queries: readonly PerspectiveQuery[];
  /** [queries, dims] */
  queryVectors: Float32Array;
  sae: SaeRuntime;
  /**
   * The SAE's feature catalog: concept search and strength calibration, and (when it has a feedback pool) where a
   * query and an edited direction meet, the unit of amplifying edits.
   */
  catalog: FeatureCatalog & Partial<Pick<Catalog, 'crossoverStrength'>>;
  strengths?: readonly number[];
  depth?: number;
}): Promise<PerspectivesResult> {
  const { passages, sae, queries, catalog } = options;
  const dims = sae.manifest.dModel;
  const depth = options.depth ?? 5;
  const strengths = [...(options.strengths ?? [0.5, 1, 2, 4])];
  const codes = await sae.encodeBatches(options.documentVectors, passages.length);
  const queryCodes = await sae.encode(options.queryVectors, queries.length);
  const labelOf = new Map(passages.map((p) => [p.id, p.perspective]));
  const rank = (vector: Float32Array) =>
    rankByDot(options.documentVectors, dims, passages.length, vector)
      .slice(0, depth)
      .map((d) => passages[d]!.id);
  const features = new Map<string, PerspectiveFeature>();
  const rows: PerspectiveRow[] = [];
  for (let q = 0; q < queries.length; q++) {
    const query = queries[q]!;
    const names = query.perspectives.map((p) => p.name);
    const qv = options.queryVectors.subarray(q * dims, (q + 1) * dims);
    const context = {
      catalog,
      queryNorm: async () => latentNorm(queryCodes, q),
      crossover: async (_texts: unknown, direction: ReadonlyArray<{ feature: number; weight: number }>) =>
        catalog.crossoverStrength?.(qv, direction),
    };
    const topBefore = rank(qv);
    const before = countPerspectives(topBefore, labelOf, names, depth);
    for (const [t, toward] of names.entries()) {
      const away = names[1 - t]!;
      const key = `${query.topic}\u0000${toward}`;
      let feature = features.get(key);
      if (!feature)
        features.set(key, (feature = perspectiveFeature(codes, passages, query.topic, toward, away)));
      const description = query.perspectives[t]!.description.replace(/"/g, '');
      for (const source of ['concept', 'labels'] as const) {
        const after: Array<Record<string, number>> = [];
        let topAfter = topBefore;
        let edited: number[] = [];
        for (const s of strengths) {
          const edit = source === 'concept' ? `+~"${description}"*${s}x` : `+f${feature.feature}*${s}x`;
          const plan = await compileSteerQuery(`${steerQueryLiteral(query.query)} ${edit}`, context);
          edited = plan.edits.map((e) => e.feature);
          const { vector } = await sae.steer(qv, plan.edits.map(toSaeEdit), {
            mode: 'residual',
            returnLatents: false,
          });
          topAfter = rank(vector);
          after.push(countPerspectives(topAfter, labelOf, names, depth));
        }
        rows.push({
          queryId: query.id,
          query: query.query,
          toward,
          away,
          source,
          features: edited,
          before,
          after,
          topBefore,
          topAfter,
        });
      }
    }
  }
  return {
    saeId: sae.manifest.id,
    k: sae.manifest.k,
    depth,
    strengths,
    rows,
    labelFeatures: [...features.values()],
  };
}

/**
 * Mean count of the amplified (and of the other) perspective in the top `depth`, before and per strength, for
 * the rows of one feature source.
 */
export function perspectiveSummary(
  result: PerspectivesResult,
  source: PerspectiveSource,
): { label: string; toward: number; away: number }[] {
  const rows = result.rows.filter((r) => r.source === source);
  const n = Math.max(1, rows.length);
  const mean = (f: (r: PerspectiveRow) => number) => rows.reduce((s, r) => s + f(r), 0) / n;
  return [
    { label: 'before', toward: mean((r) => r.before[r.toward]!), away: mean((r) => r.before[r.away]!) },
    ...result.strengths.map((s, i) => ({
      label: `${s}x`,
      toward: mean((r) => r.after[i]![r.toward]!),
      away: mean((r) => r.after[i]![r.away]!),
    })),
  ];
}

/** Bar chart of the summary: the amplified perspective's mean count, for each feature source. */
export function renderPerspectivesSvg(result: PerspectivesResult): string {
  const concept = perspectiveSummary(result, 'concept');
  const labels = perspectiveSummary(result, 'labels');
  return barChartSvg({
    title: `Steering toward a perspective: mean count in the top ${result.depth}`,
    yLabel: `passages of the amplified perspective in the top ${result.depth}`,
    categories: concept.map((s) => (s.label === 'before' ? 'before' : `amplified ${s.label}`)),
    series: [
      { name: 'concept search', values: concept.map((s) => s.toward) },
      { name: 'label-chosen (upper bound)', values: labels.map((s) => s.toward) },
    ],
  });
}

/** The perspective report in Markdown. */
export function renderPerspectives(
  result: PerspectivesResult,
  command: string,
  date: Date,
  svgName: string,
  saeNote: string,
  code?: ReportCode,
): string {
  const counts = (c: Record<string, number>, r: PerspectiveRow) =>
    `${c[r.toward]} / ${c[r.away]} / ${c.other}`;
  const concept = perspectiveSummary(result, 'concept');
  const labels = perspectiveSummary(result, 'labels');
  const strongest = result.strengths.length - 1;
  const gains = (source: PerspectiveSource, i: number) => {
    const rows = result.rows.filter((r) => r.source === source);
    const raised = rows.filter((r) => r.after[i]![r.toward]! > r.before[r.toward]!).length;
    return `${raised} of ${rows.length}`;
  };
  const defaultIndex = result.strengths.indexOf(1);
  const table = (source: PerspectiveSource) => [
    `| query | amplify | features | before | ${result.strengths.map((s) => `${s}x`).join(' | ')} |`,
    `|---|---|---|---|${result.strengths.map(() => '---|').join('')}`,
    ...result.rows
      .filter((r) => r.source === source)
      .map(
        (r) =>
          `| ${r.query} | ${r.toward} | ${r.features.map((f) => `f${f}`).join(' ')} | ${counts(r.before, r)} | ${r.after.map((c) => counts(c, r)).join(' | ')} |`,
      ),
  ];
  return [
    '# Tables 3 and 4: steering retrieval toward a perspective',
    '',
    provenance(command, date, code),
    '',
    `![perspective counts](${svgName})`,
    '',
    `SAE ${result.saeId} (K=${result.k}; ${saeNote}). Counts are passages of the amplified perspective / the other perspective / anything else in the top ${result.depth}.`,
    '',
    '## Summary',
    '',
    `| | amplified perspective in top ${result.depth}, concept search (mean) | other perspective | amplified perspective, label-chosen upper bound (mean) | other perspective |`,
    '|---|---|---|---|---|',
    ...concept.map(
      (s, i) =>
        `| ${s.label} | ${s.toward.toFixed(2)} | ${s.away.toFixed(2)} | ${labels[i]!.toward.toFixed(2)} | ${labels[i]!.away.toFixed(2)} |`,
    ),
    '',
    ...(defaultIndex >= 0
      ? [
          `At the default strength (1x) the amplified perspective gained places in ${gains('concept', defaultIndex)} (query, perspective) pairs with concept search and ${gains('labels', defaultIndex)} with the label-chosen feature; at ${result.strengths[strongest]}x in ${gains('concept', strongest)} and ${gains('labels', strongest)}.`,
          '',
        ]
      : []),
    '## Concept search: `"<query>" +~"<perspective description>"*<s>x`',
    '',
    ...table('concept'),
    '',
    '## Label-chosen upper bound: `"<query>" +f<feature>*<s>x`',
    '',
    ...table('labels'),
    '',
    "| topic | perspective | label-chosen feature | enrichment | fires in its passages | fires in the other's |",
    '|---|---|---|---|---|---|',
    ...result.labelFeatures.map(
      (f) =>
        `| ${f.topic} | ${f.perspective} | ${f.feature} | ${f.enrichment.toFixed(4)} | ${(100 * f.towardFrequency).toFixed(0)}% | ${(100 * f.awayFrequency).toFixed(0)}% |`,
    ),
    '',
    '## Method',
    '',
    '- Queries: packages/eval/queries/perspectives.json, written for this experiment, neutral wording, two per topic.',
    '- Judge: a passage belongs to a perspective when its `metadata.perspective` label in the corpus says so. The labels',
    '  were written by hand with each passage (packages/cli/demo/README.md); no embedding judge is involved.',
    '- Concept search (what a user does): `+~"<description>"` resolves, by the catalog\'s concept search on the',
    "  perspective's description in the queries file, to a unit direction of up to 3 features; the labels only judge.",
    "- Label-chosen (upper bound): the latent whose mean top-K activation over the topic's passages of that perspective",
    "  most exceeds its mean over the topic's passages of the other perspective; it is chosen with the labels that judge it.",
    "- Strengths are relative to the query's own unit, compiled as the engine compiles them: `1x` of an amplifying edit is",
    "  the strength at which the query's own top 10 passages and the edited direction's top 10 score alike on the catalog's",
    '  pool (the crossover, measured per query and direction); residual steering, exact dot-product search over all',
    `  passages, top ${result.depth}.`,
    '',
  ].join('\n');
}
