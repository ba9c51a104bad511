// Controllability on a topic-labelled collection: held-out articles are the queries (their headlines), each is
// steered toward every other topic with the features concept search finds for the topic's name or description,
// and the topic mix of the top 10 is read from the corpus labels. Also concept search's precision on the topics.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { seededRandom, type Catalog } from '@steer/catalog';
import { bootstrapMean, type Interval } from '../statistics.js';
import type { Embedder } from '@steer/embed';
import { compileText, type SteeringPlan } from '@steer/grammar';
import { latentNorm, loadSae, type FeatureEdit, type SaeRuntime, type SparseLatents } from '@steer/sae';
import { EvalError } from '../errors.js';
import { embedTexts } from '../run-eval.js';
import { experimentCatalog } from './catalogs.js';
import { rankByVariant, SEARCH_VARIANTS } from './search-variants.js';
import {
  defaultPlan,
  documentText,
  provenance,
  type ReportCode,
  trainOrReuseSae,
  type ProgressSink,
  type SaeTrainingPlan,
} from './shared.js';
import { lineChartSvg } from './svg.js';

/** The topic descriptions shipped with @steer/eval for bbc-news (packages/eval/queries/bbc-topics.json). */
export const BBC_TOPICS_FILE = new URL('../../../queries/bbc-topics.json', import.meta.url);

/** A document of a topic-labelled corpus. */
export interface TopicDocument {
  id: string;
  title: string;
  text: string;
  topic: string;
}

/** A topic: its label in the corpus and a few words describing it. */
export interface TopicSpec {
  name: string;
  description: string;
}

/**
 * Reads a JSONL corpus whose documents carry their topic in `metadata.label` (bbc-news).
 * @throws EvalError `experiment_input` naming the file and line of a bad document.
 */
export async function loadTopicCorpus(path: string): Promise<TopicDocument[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new EvalError(
      `experiment: cannot read the topic corpus ${path} (${(error as Error).message}); pass --dataset <dir> holding corpus.jsonl`,
      'experiment_input',
    );
  }
  const out: TopicDocument[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: { _id?: unknown; title?: unknown; text?: unknown; metadata?: { label?: unknown } };
    try {
      value = JSON.parse(line);
    } catch {
      throw new EvalError(`experiment: ${path}:${i + 1} is not valid JSON`, 'experiment_input');
    }
    if (
      typeof value._id !== 'string' ||
      typeof value.text !== 'string' ||
      typeof value.metadata?.label !== 'string'
    ) {
      throw new EvalError(
        `experiment: ${path}:${i + 1} needs "_id", "text" and a metadata.label topic`,
        'experiment_input',
      );
    }
    out.push({
      id: value._id,
      title: typeof value.title === 'string' ? value.title : '',
      text: value.text,
      topic: value.metadata.label,
    });
  });
  return out;
}

/**
 * Reads topic descriptions (`{ topics: [{ name, description }] }`).
 * @throws EvalError `experiment_input` naming the file and the bad entry.
 */
export async function loadTopics(path: string): Promise<TopicSpec[]> {
  let parsed: { topics?: unknown };
  try {
    parsed = JSON.parse(await readFile(path, 'utf8')) as { topics?: unknown };
  } catch (error) {
    throw new EvalError(
      `experiment: cannot read the topics ${path} (${(error as Error).message}); pass --queries <topics.json>`,
      'experiment_input',
    );
  }
  const topics = parsed.topics;
  if (
    !Array.isArray(topics) ||
    topics.length < 2 ||
    !topics.every((t: Partial<TopicSpec>) => typeof t?.name === 'string' && typeof t.description === 'string')
  ) {
    throw new EvalError(
      `experiment: ${path} needs "topics": at least two { "name", "description" }; see packages/eval/queries/bbc-topics.json`,
      'experiment_input',
    );
  }
  return topics as TopicSpec[];
}

/**
 * Splits a corpus: `perTopic` documents of each topic (chosen by `seed`) become queries and are never indexed,
 * trained on or labelled; the rest is the collection. Both keep the corpus order.
 * @throws EvalError `experiment_input` when a topic has too few documents.
 */
export function holdOutQueries(
  documents: readonly TopicDocument[],
  topics: readonly string[],
  perTopic: number,
  seed: number,
): { collection: TopicDocument[]; queries: TopicDocument[] } {
  const random = seededRandom(seed);
  const held = new Set<string>();
  for (const topic of topics) {
    const ids = documents.filter((d) => d.topic === topic && d.title.trim() !== '').map((d) => d.id);
    if (ids.length < perTopic * 2) {
      throw new EvalError(
        `experiment: topic "${topic}" has ${ids.length} documents with a title; hold out at most half (--per-topic)`,
        'experiment_input',
      );
    }
    for (let i = 0; i < perTopic; i++) {
      const j = i + Math.floor(random() * (ids.length - i));
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
      held.add(ids[i]!);
    }
  }
  return {
    collection: documents.filter((d) => !held.has(d.id)),
    queries: documents.filter((d) => held.has(d.id)),
  };
}

/** How a setting finds its steering. */
export type SteeringSource = 'name' | 'description' | 'label-chosen';

/** One steering setting measured over every (query, other topic) pair. */
export interface SettingResult {
  /** `name` / `description`: concept search on the topic's name or description; `label-chosen`: upper bound. */
  source: SteeringSource;
  /** The edit as written after the query text, with `<topic>` for the concept (e.g. `+~"<topic>"*2x`). */
  edit: string;
  /** Relative strength (1 for the default). */
  strength: number;
  /** Target topic's share of the top 10 before steering. */
  shareBefore: Interval;
  shareAfter: Interval;
  /** Fraction of pairs whose target share rose. */
  gained: Interval;
  /** Fraction of the steered top 10 that was in the unsteered top 100. */
  kept: Interval;
  /**
   * What `1x` was for the edit's amplify, in units of the query's |h|: the median over pairs of the edit's unit
   * (the crossover of the headline and the concept's direction) divided by |h|; absent for absolute edits.
   */
  unitScale?: number;
}

/** Concept search on one topic text: is its best feature (and are its best 5) mostly of the topic? */
export interface ConceptPrecision {
  topic: string;
  source: 'name' | 'description';
  text: string;
  /** The 5 best features with the share of their top documents that is of the topic. */
  features: Array<{ id: number; label?: string; purity: number }>;
  precisionAt1: number;
  precisionAt5: number;
}

/** Result of {@link runControllability} for one seed. */
export interface ControllabilityResult {
  seed: number;
  saeId: string;
  k: number;
  nLatents: number;
  /** `1x` = scale x |h| of the query. */
  calibration?: { scale: number; typicalQueryNorm?: number };
  documents: number;
  queries: number;
  depth: number;
  keepDepth: number;
  settings: SettingResult[];
  precision: ConceptPrecision[];
  /** Precision of every concept-search variant (SEARCH_VARIANTS), averaged over the topics. */
  variants: Array<{
    name: string;
    rule: string;
    source: 'name' | 'description';
    precisionAt1: number;
    precisionAt5: number;
  }>;
}

/** Inputs of {@link runControllability}. */
export interface ControllabilityOptions {
  seed: number;
  topics: readonly TopicSpec[];
  collection: readonly TopicDocument[];
  /** [collection.length, dims] */
  collectionVectors: Float32Array;
  queries: readonly TopicDocument[];
  /** The queries' headlines embedded as queries. [queries.length, dims] */
  queryVectors: Float32Array;
  sae: SaeRuntime;
  /** The catalog of `sae` built on the collection. */
  catalog: Catalog;
  /** Relative strengths measured besides the default (default 0.5, 2, 4). */
  strengths?: readonly number[];
  onProgress?: (done: number, total: number) => void;
}

/** A steer-query string literal for `text` (whitespace collapsed). */
export function steerQueryLiteral(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\s+/g, ' ')}"`;
}

function topIndices(scores: Float64Array, count: number): number[] {
  return Array.from(scores.keys())
    .sort((a, b) => scores[b]! - scores[a]! || a - b)
    .slice(0, count);
}

function dotAll(docs: Float32Array, dims: number, vector: Float32Array): Float64Array {
  const count = docs.length / dims;
  const out = new Float64Array(count);
  for (let d = 0; d < count; d++) {
    let s = 0;
    for (let i = 0; i < dims; i++) s += docs[d * dims + i]! * vector[i]!;
    out[d] = s;
  }
  return out;
}

/**
 * The label-chosen feature of a topic (an upper bound: it reads the labels that judge it): the latent whose
 * mean top-K activation over the collection's documents of the topic most exceeds its mean over the others.
 */
export function labelChosenFeature(
  codes: SparseLatents,
  collection: readonly TopicDocument[],
  topic: string,
): number {
  const inside = new Map<number, number>();
  const outside = new Map<number, number>();
  const count = collection.filter((d) => d.topic === topic).length;
  const rest = collection.length - count;
  collection.forEach((doc, r) => {
    for (let j = 0; j < codes.k; j++) {
      const value = codes.values[r * codes.k + j]!;
      if (value <= 0) continue;
      const feature = codes.indices[r * codes.k + j]!;
      const into = doc.topic === topic ? inside : outside;
      into.set(feature, (into.get(feature) ?? 0) + value / (doc.topic === topic ? count : rest));
    }
  });
  let best = -1;
  let bestScore = -Infinity;
  for (const [feature, mean] of inside) {
    const score = mean - (outside.get(feature) ?? 0);
    if (score > bestScore || (score === bestScore && feature < best)) [best, bestScore] = [feature, score];
  }
  return best;
}

/** One steering setting: where the concept comes from and the edit written after the query. */
type SteeringSetting = Pick<SettingResult, 'source' | 'edit' | 'strength'>;

/** Per (setting, query) sums over the query's other topics, and how many topics were summed. */
interface PairSums {
  before: number;
  after: number;
  gained: number;
  kept: number;
  /** Each pair's `1x` of the first relative edit, in units of the headline's |h|. */
  units: number[];
  pairs: number;
}

/** What the steering of the queries reads besides the options. */
interface SteeringInputs {
  /** Each collection document's topic, by id. */
  topicOf: ReadonlyMap<string, string>;
  /** Each headline's vector (whitespace collapsed). */
  vectorOf: ReadonlyMap<string, Float32Array>;
  /** Each headline's |h|, the norm of its SAE code. */
  normOf: ReadonlyMap<string, number>;
  /** Each topic's label-chosen feature. */
  labelChosen: ReadonlyMap<string, number>;
  /** The compile context (catalog and query norms). */
  context: Parameters<typeof compileText>[1];
  depth: number;
  keepDepth: number;
}

/** The settings measured: per concept source the default, each relative strength, and the best feature alone. */
function steeringSettings(strengths: readonly number[]): SteeringSetting[] {
  const plans: SteeringSetting[] = [];
  for (const source of ['description', 'name'] as const) {
    plans.push({ source, edit: '+~"<topic>"', strength: 1 });
    for (const s of strengths) plans.push({ source, edit: `+~"<topic>"*${s}x`, strength: s });
    plans.push({ source, edit: '+~"<topic>"/1', strength: 1 });
  }
  plans.push({ source: 'label-chosen', edit: '+f<label-chosen>', strength: 1 });
  return plans;
}

/**
 * Steers each query toward each other topic with each setting (residual steering, exact dot-product search) and
 * sums, per setting and query, the target share before and after, whether it rose, and what was kept.
 */
async function steerQueryPairs(
  options: ControllabilityOptions,
  plans: readonly SteeringSetting[],
  inputs: SteeringInputs,
): Promise<PairSums[][]> {
  const { sae, collection, queries, topics } = options;
  const { topicOf, vectorOf, normOf, labelChosen, context, depth, keepDepth } = inputs;
  const dims = sae.manifest.dModel;
  const perQuery = plans.map(() =>
    queries.map(() => ({ before: 0, after: 0, gained: 0, kept: 0, units: [] as number[], pairs: 0 })),
  );
  let done = 0;
  for (let q = 0; q < queries.length; q++) {
    const query = queries[q]!;
    const title = query.title.replace(/\s+/g, ' ');
    const base = dotAll(options.collectionVectors, dims, vectorOf.get(title)!);
    const baseTop = topIndices(base, keepDepth);
    const unsteered = new Set(baseTop);
    for (const topic of topics) {
      if (topic.name === query.topic) continue;
      const share = (docs: number[]) =>
        docs.slice(0, depth).filter((d) => topicOf.get(collection[d]!.id) === topic.name).length / depth;
      const before = share(baseTop);
      for (const [p, setting] of plans.entries()) {
        const edit =
          setting.source === 'label-chosen'
            ? `+f${labelChosen.get(topic.name)}`
            : setting.edit.replace(
                '<topic>',
                (setting.source === 'name' ? topic.name : topic.description).replace(/"/g, ''),
              );
        const plan = await compileSteerQuery(`${steerQueryLiteral(title)} ${edit}`, context);
        const { vector } = await sae.steer(vectorOf.get(title)!, plan.edits.map(toSaeEdit), {
          mode: 'residual',
          returnLatents: false,
        });
        const top = topIndices(dotAll(options.collectionVectors, dims, vector), depth);
        const after = share(top);
        const cell = perQuery[p]![q]!;
        cell.before += before;
        cell.after += after;
        cell.gained += after > before ? 1 : 0;
        cell.kept += top.filter((d) => unsteered.has(d)).length / depth;
        const unit = plan.edits.find((e) => e.unit !== undefined)?.unit;
        const norm = normOf.get(title) ?? 0;
        if (unit !== undefined && norm > 0) cell.units.push(unit / norm);
        cell.pairs++;
      }
      options.onProgress?.(++done, queries.length * (topics.length - 1));
    }
  }
  return perQuery;
}

/** Each setting's per-query means, averaged over queries with bootstrap intervals seeded from `seed`. */
function summarizeSettings(
  plans: readonly SteeringSetting[],
  perQuery: readonly PairSums[][],
  seed: number,
): SettingResult[] {
  return plans.map((setting, p) => {
    const cells = perQuery[p]!.filter((c) => c.pairs > 0);
    const stat = (f: (c: (typeof cells)[number]) => number, salt: number) =>
      bootstrapMean(
        cells.map((c) => f(c) / c.pairs),
        { resamples: 2000, seed: seed * 101 + p * 7 + salt },
      );
    const units = cells.flatMap((c) => c.units).sort((a, b) => a - b);
    return {
      ...setting,
      shareBefore: stat((c) => c.before, 1),
      shareAfter: stat((c) => c.after, 2),
      gained: stat((c) => c.gained, 3),
      kept: stat((c) => c.kept, 4),
      ...(units.length > 0 ? { unitScale: units[Math.floor(units.length / 2)]! } : {}),
    };
  });
}

/**
 * Concept search's precision on each topic's name and description (best 5 features and their purity), and that
 * of every search variant (SEARCH_VARIANTS) averaged over the topics.
 */
async function conceptPrecision(
  catalog: Catalog,
  topics: readonly TopicSpec[],
  topicOf: ReadonlyMap<string, string>,
): Promise<Pick<ControllabilityResult, 'precision' | 'variants'>> {
  const precision: ConceptPrecision[] = [];
  const variants: ControllabilityResult['variants'] = [];
  const purityOf = new Map<string, number>();
  const purity = async (id: number, topic: string): Promise<number> => {
    const key = `${id} ${topic}`;
    if (!purityOf.has(key)) {
      const docs = (await catalog.describe(id)).topDocuments;
      purityOf.set(
        key,
        docs.length === 0 ? 0 : docs.filter((d) => topicOf.get(d.id) === topic).length / docs.length,
      );
    }
    return purityOf.get(key)!;
  };
  const variantHits = new Map<string, { at1: number; at5: number; texts: number }>();
  for (const topic of topics) {
    for (const source of ['name', 'description'] as const) {
      const text = source === 'name' ? topic.name : topic.description;
      const matches = await catalog.searchFeatures(text, 5);
      const features = [];
      for (const match of matches) {
        features.push({
          id: match.id,
          ...(match.label ? { label: match.label } : {}),
          purity: await purity(match.id, topic.name),
        });
      }
      precision.push({
        topic: topic.name,
        source,
        text,
        features,
        precisionAt1: features[0] && features[0].purity > 0.5 ? 1 : 0,
        precisionAt5: features.filter((f) => f.purity > 0.5).length / 5,
      });
      // Every feature with a component, re-ranked by each variant.
      const all = await catalog.searchFeatures(text, catalog.nLatents);
      for (const variant of SEARCH_VARIANTS) {
        const best = rankByVariant(variant, all, 5);
        const pure: boolean[] = [];
        for (const match of best) pure.push((await purity(match.id, topic.name)) > 0.5);
        const hits = variantHits.get(`${variant.name}\0${source}`) ?? { at1: 0, at5: 0, texts: 0 };
        hits.at1 += pure[0] ? 1 : 0;
        hits.at5 += pure.filter(Boolean).length / 5;
        hits.texts++;
        variantHits.set(`${variant.name}\0${source}`, hits);
      }
    }
  }
  for (const variant of SEARCH_VARIANTS) {
    for (const source of ['name', 'description'] as const) {
      const hits = variantHits.get(`${variant.name}\0${source}`)!;
      variants.push({
        name: variant.name,
        rule: variant.rule,
        source,
        precisionAt1: hits.at1 / hits.texts,
        precisionAt5: hits.at5 / hits.texts,
      });
    }
  }
  return { precision, variants };
}

/**
 * Runs the controllability measurement for one seed: for each held-out query and each other topic, the query
 * `"<headline>" <edit>` is compiled with the catalog (concept search, the query's own strength unit) and run by
 * residual steering and exact dot-product search over the collection; the target topic's share of the top 10
 * before and after, whether it rose, and how much of the steered top 10 comes from the unsteered top 100 are
 * averaged per query, then over queries with bootstrap intervals. Concept-search precision: a topic text's best
 * feature counts when more than half of its top documents in the catalog are of the topic.
 */
export async function runControllability(options: ControllabilityOptions): Promise<ControllabilityResult> {
  const { sae, catalog, collection, queries, topics } = options;
  const dims = sae.manifest.dModel;
  const depth = 10;
  const keepDepth = 100;
  const topicOf = new Map(collection.map((d) => [d.id, d.topic]));
  const codes = await sae.encodeBatches(options.collectionVectors, collection.length);
  const queryCodes = await sae.encode(options.queryVectors, queries.length);
  const vectorOf = new Map<string, Float32Array>();
  queries.forEach((q, i) =>
    vectorOf.set(q.title.replace(/\s+/g, ' '), options.queryVectors.subarray(i * dims, (i + 1) * dims)),
  );
  const normOf = new Map<string, number>();
  queries.forEach((q, i) => normOf.set(q.title.replace(/\s+/g, ' '), latentNorm(queryCodes, i)));
  const context = {
    catalog,
    // NOTE: the headlines were embedded and encoded above; the compiler asks for the norm of the query's code
    // and, for amplifying edits, where the headline's results and the edited direction meet (as the engine does).
    queryNorm: async (texts: ReadonlyArray<{ text: string }>) => normOf.get(texts[0]!.text) ?? 0,
    crossover: async (
      texts: ReadonlyArray<{ text: string }>,
      direction: ReadonlyArray<{ feature: number; weight: number }>,
    ) => catalog.crossoverStrength(vectorOf.get(texts[0]!.text)!, direction),
  };
  const labelChosen = new Map(topics.map((t) => [t.name, labelChosenFeature(codes, collection, t.name)]));
  const plans = steeringSettings([...(options.strengths ?? [0.5, 2, 4])]);
  const perQuery = await steerQueryPairs(options, plans, {
    topicOf,
    vectorOf,
    normOf,
    labelChosen,
    context,
    depth,
    keepDepth,
  });
  const settings = summarizeSettings(plans, perQuery, options.seed);
  const { precision, variants } = await conceptPrecision(catalog, topics, topicOf);
  const calibration = catalog.strengthCalibration();
  return {
    seed: options.seed,
    saeId: sae.manifest.id,
    k: sae.manifest.k,
    nLatents: sae.manifest.nLatents,
    ...(calibration
      ? { calibration: { scale: calibration.scale, typicalQueryNorm: calibration.typicalQueryNorm } }
      : {}),
    documents: collection.length,
    queries: queries.length,
    depth,
    keepDepth,
    settings,
    precision,
    variants,
  };
}

/**
 * Compiles one steer query as the engine does (concept search, the query's own strength unit).
 * @throws EvalError `experiment_input` when it does not compile.
 */
export async function compileSteerQuery(
  text: string,
  context: Parameters<typeof compileText>[1],
): Promise<SteeringPlan> {
  const { plans, diagnostics } = await compileText(text, context);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0 || plans.length !== 1) {
    throw new EvalError(
      `experiment: the steer query ${text} does not compile: ${errors.map((e) => e.message).join('; ')}`,
      'experiment_input',
    );
  }
  return plans[0]!;
}

/** A plan edit as the SAE runtime takes it. */
export function toSaeEdit(edit: SteeringPlan['edits'][number]): FeatureEdit {
  return edit.op === 'zero'
    ? { feature: edit.feature, op: 'zero' as const }
    : { feature: edit.feature, op: edit.op, value: edit.value };
}

/** Mean of an interval statistic over seeds, with the range of the per-seed means. */
function acrossSeeds(values: number[]): { mean: number; min: number; max: number } {
  return {
    mean: values.reduce((a, b) => a + b, 0) / Math.max(1, values.length),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
const interval = (i: Interval) => `${pct(i.value)} [${pct(i.low)}, ${pct(i.high)}]`;

/** Share of the target topic against relative strength, per source, averaged over seeds (SVG). */
export function renderControllabilitySvg(results: readonly ControllabilityResult[]): string {
  const series = (['description', 'name'] as const).flatMap((source) => {
    const points = (metric: 'shareAfter' | 'kept') => {
      const byStrength = new Map<number, number[]>();
      for (const result of results) {
        for (const s of result.settings) {
          if (s.source !== source || s.edit.endsWith('/1')) continue;
          byStrength.set(s.strength, [...(byStrength.get(s.strength) ?? []), s[metric].value]);
        }
      }
      return [...byStrength]
        .sort((a, b) => a[0] - b[0])
        .map(([s, v]) => [s, v.reduce((a, b) => a + b, 0) / v.length] as const);
    };
    return [
      { name: `target share, ${source}`, points: points('shareAfter') },
      { name: `kept from top 100, ${source}`, points: points('kept'), dashed: true },
    ];
  });
  return lineChartSvg({
    title: 'Steering toward another topic: top 10 against strength',
    xLabel: 'relative strength (x, log scale)',
    yLabel: 'fraction of the top 10',
    xLog: true,
    series,
  });
}

/** A seed's setting at the default strength (`+~"<topic>"`), concept search on `source`. */
function defaultSettingOf(r: ControllabilityResult, source: SteeringSource = 'description'): SettingResult {
  return r.settings.find((s) => s.source === source && s.edit === '+~"<topic>"')!;
}

/** A seed's concept-search precision (@1 or @5) averaged over the topics' names or descriptions. */
function meanPrecision(
  r: ControllabilityResult,
  source: 'name' | 'description',
  key: 'precisionAt1' | 'precisionAt5',
): number {
  const rows = r.precision.filter((p) => p.source === source);
  return rows.reduce((a, p) => a + p[key], 0) / rows.length;
}

/** The rows of the done-when table: one per seed, then the mean over seeds. */
function goalRows(results: readonly ControllabilityResult[], source: 'name' | 'description'): string[] {
  const p1 = (r: ControllabilityResult) => meanPrecision(r, 'name', 'precisionAt1');
  const defaultSetting = (r: ControllabilityResult) => defaultSettingOf(r, source);
  const rows = results.map((r) => {
    const s = defaultSetting(r);
    return `| ${r.seed} | ${r.saeId} | ${s.unitScale !== undefined ? s.unitScale.toFixed(2) : 'n/a'} | ${interval(s.shareBefore)} | ${interval(s.shareAfter)} | ${interval(s.gained)} | ${interval(s.kept)} | ${p1(r).toFixed(2)} |`;
  });
  const mean = (f: (r: ControllabilityResult) => number) => acrossSeeds(results.map(f));
  const across = (m: { mean: number; min: number; max: number }, asPct = true) =>
    asPct
      ? `${pct(m.mean)} (seeds ${pct(m.min)} to ${pct(m.max)})`
      : `${m.mean.toFixed(2)} (seeds ${m.min.toFixed(2)} to ${m.max.toFixed(2)})`;
  rows.push(
    `| mean of ${results.length} | | | ${across(mean((r) => defaultSetting(r).shareBefore.value))} | ${across(mean((r) => defaultSetting(r).shareAfter.value))} | ${across(mean((r) => defaultSetting(r).gained.value))} | ${across(mean((r) => defaultSetting(r).kept.value))} | ${across(
      mean((r) => p1(r)),
      false,
    )} |`,
  );
  return rows;
}

/** The done-when table for concept search on the topics' names or descriptions. */
function goalTable(results: readonly ControllabilityResult[], source: 'name' | 'description'): string[] {
  return [
    `## Done-when goals at the default strength (concept search on the ${source}, \`+~"<${source}>"\`)`,
    '',
    '| seed | SAE | 1x (median over pairs, x \\|h\\|) | target share before | target share after (goal >= 60%) | queries that gained (goal >= 90%) | kept from unsteered top 100 (goal >= 30%) | precision@1 names (goal >= 0.8) |',
    '|---|---|---|---|---|---|---|---|',
    ...goalRows(results, source),
    '',
  ];
}

/** The rows of the every-setting table: each setting's mean over seeds, with the extreme per-seed bounds. */
function settingRows(results: readonly ControllabilityResult[]): string[] {
  return results[0]!.settings.map((setting, i) => {
    const all = results.map((r) => r.settings[i]!);
    const cell = (f: (s: SettingResult) => Interval) =>
      `${pct(all.reduce((a, s) => a + f(s).value, 0) / all.length)} [${pct(Math.min(...all.map((s) => f(s).low)))}, ${pct(Math.max(...all.map((s) => f(s).high)))}]`;
    return `| ${setting.source} | \`${setting.edit}\` | ${cell((s) => s.shareBefore)} | ${cell((s) => s.shareAfter)} | ${cell((s) => s.gained)} | ${cell((s) => s.kept)} |`;
  });
}

/** The rows of the search-variant table: precision@1 per seed and its mean, precision@5 means. */
function variantRows(results: readonly ControllabilityResult[]): string[] {
  return (results[0]!.variants ?? [])
    .filter((v) => v.source === 'name')
    .map((v) => {
      const of = (source: 'name' | 'description') =>
        results.map((r) => r.variants.find((w) => w.name === v.name && w.source === source)!);
      const avg = (
        rows: Array<{ precisionAt1: number; precisionAt5: number }>,
        key: 'precisionAt1' | 'precisionAt5',
      ) => (rows.reduce((a, x) => a + x[key], 0) / rows.length).toFixed(2);
      const seeds = (source: 'name' | 'description') =>
        of(source)
          .map((x) => x.precisionAt1.toFixed(2))
          .join(' / ');
      return `| ${v.name} | ${v.rule} | ${seeds('name')} | ${avg(of('name'), 'precisionAt1')} | ${seeds('description')} | ${avg(of('description'), 'precisionAt1')} | ${avg(of('name'), 'precisionAt5')} | ${avg(of('description'), 'precisionAt5')} |`;
    });
}

/** The concept-search precision section: per seed, every variant, and the first seed's best features. */
function precisionSection(results: readonly ControllabilityResult[]): string[] {
  const first = results[0]!;
  const at = (
    r: ControllabilityResult,
    source: 'name' | 'description',
    key: 'precisionAt1' | 'precisionAt5',
  ) => meanPrecision(r, source, key).toFixed(2);
  return [
    '',
    '## Concept search precision (a feature counts when more than half of its top documents are of the topic)',
    '',
    '| seed | precision@1 names | precision@5 names | precision@1 descriptions | precision@5 descriptions |',
    '|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.seed} | ${at(r, 'name', 'precisionAt1')} | ${at(r, 'name', 'precisionAt5')} | ${at(r, 'description', 'precisionAt1')} | ${at(r, 'description', 'precisionAt5')} |`,
    ),
    '',
    '### Every concept-search variant measured (precision@1 per seed, then the mean; precision@5 mean)',
    '',
    'f feedback (the 10 pool documents nearest the concept: mean activation there minus the pool mean), t similarity',
    "to the feature's top-document profile, a the concept's own SAE activation, b decoder cosine, c text match; each",
    'relative to its best feature. The rule fixed before any measurement was `f + c`; after its first run here (0.40',
    'on the names at every seed) the shipped rule became f alone, the label-chosen rule with retrieved documents: that',
    'choice was made on this benchmark. On the demo corpus (25 perspective and topic texts, not bbc) the two rank alike.',
    'Reading a list description item by item (f averaged over the whole text and each item; `whole-text f` is the rule',
    'before it) was chosen on the development sets in `packages/eval/queries/bbc-dev/` (other descriptions of the same',
    'topics, never the ones reported here), by a selection rule fixed before measuring: highest mean precision@1 on',
    'the descriptions over all development sets and seeds. Their own reports are in `docs/results/bbc-dev/`.',
    'Every variant measured is listed; none of the others was adopted.',
    '',
    `| variant | rule | P@1 names (seeds ${results.map((r) => r.seed).join(', ')}) | mean | P@1 descriptions (seeds) | mean | P@5 names | P@5 descriptions |`,
    '|---|---|---|---|---|---|---|---|',
    ...variantRows(results),
    '',
    `Best features per topic text (seed ${first.seed}): id, label, share of its top documents of the topic.`,
    '',
    '| topic | text | best 5 features |',
    '|---|---|---|',
    ...first.precision.map(
      (p) =>
        `| ${p.topic} | ${p.text} | ${p.features.map((f) => `f${f.id} ${(f.label ?? '').split(', ').slice(0, 3).join(', ')} (${pct(f.purity)})`).join('; ')} |`,
    ),
  ];
}

/** The method section of the report (ends with an empty line). */
const METHOD_SECTION = [
  '',
  '## Method',
  '',
  '- Queries never enter the collection, the SAE training or the labelling. The SAE is trained on the collection with',
  '  the recipe written in the note above; `steer label` builds its catalog on the same collection.',
  "- Concept search (the catalog's default): the concept text is embedded, the 10 documents of the catalog's feedback",
  '  pool nearest to it (here the whole collection) are taken as its documents, and a feature scores f: its mean',
  '  activation over them minus its mean over the pool (the label-chosen rule below, with retrieved documents in place',
  "  of labelled ones), relative to the best feature; the text match of the concept's words only breaks ties.",
  '- `+~"<topic>"` resolves, by concept search, to a unit direction of up to 3 features (those scoring at least 70% of the',
  '  best); `/1` takes the best feature alone. Strengths are relative to the query: `1x` of an amplifying edit is the',
  "  crossover of this headline and the edited direction, the strength at which the direction's own top 10 documents",
  "  of the catalog's feedback pool score as high as the headline's top 10 (closed form, measured per pair as the",
  '  engine does for every query; the SAE-wide calibration `scale x |h|`, the median of the same crossover over 200',
  '  corpus pairs, is only the fallback). The goal tables give its median over pairs in units of |h|.',
  '- The crossover unit was chosen on development texts, not on the topic names and descriptions reported here: the',
  '  five sets in packages/eval/queries/bbc-dev/ (25 descriptions written before any measurement on them). There the',
  '  SAE-wide unit handed most of the top 10 to the topic and kept little of the unsteered top 100, and the per-query',
  '  crossover kept more at a similar gain. Multiples of it from 0.75 to 2 were measured there too; 1 is kept, by',
  '  definition the point where the two result lists meet. This command with `--queries <file>` measures a set;',
  '  docs/results/bbc-dev/ holds the five, produced that way (development texts: not an independent test).',
  "- `label-chosen` is an upper bound that reads the labels: the latent whose mean activation over the topic's",
  '  documents most exceeds its mean over the others, amplified at `1x`.',
  '- Residual steering, exact dot-product search over the collection; the unsteered top 100 is the same query without edits.',
  '',
];

/** The controllability report in Markdown (per seed, and the mean over seeds). */
export function renderControllability(
  results: readonly ControllabilityResult[],
  command: string,
  date: Date,
  svgName: string,
  note: string,
  code?: ReportCode,
): string {
  const first = results[0]!;
  return [
    '# Controllability: steering toward a topic with concept search',
    '',
    provenance(command, date, code),
    '',
    `![share against strength](${svgName})`,
    '',
    note,
    '',
    `Each seed holds out ${first.queries} articles (the same number per topic) as queries, trains an SAE on the other ${first.documents} (${first.nLatents} latents, K=${first.k}), labels it and searches the collection exactly. A query is the held-out article's headline, steered toward each of the other topics with \`"<headline>" <edit>\`; 95% bootstrap intervals over queries.`,
    '',
    ...goalTable(results, 'description'),
    ...goalTable(results, 'name'),
    '## Every setting (mean over seeds; in brackets the lowest and highest per-seed interval bound)',
    '',
    '| concept from | edit | target share before | after | gained | kept from top 100 |',
    '|---|---|---|---|---|---|',
    ...settingRows(results),
    ...precisionSection(results),
    ...METHOD_SECTION,
  ].join('\n');
}

/** Inputs of {@link runControllabilityStudy}. */
export interface ControllabilityStudyOptions {
  /** A folder holding a topic-labelled `corpus.jsonl` (bbc-news). */
  datasetDir: string;
  /** Topic descriptions (`{ topics: [{ name, description }] }`). */
  topicsPath: string;
  seeds: readonly number[];
  /** Held-out query articles per topic (default 10). */
  perTopic?: number;
  /** SAE sparsity (default 32) and training epochs (default 30, with early stopping). */
  k?: number;
  epochs?: number;
  /** Latents of the SAE (default 2,048). */
  nLatents?: number;
  cacheDir: string;
  embedder: Embedder;
  onProgress?: ProgressSink;
}

/**
 * The whole controllability study, seed by seed: hold out queries, embed, train (or reuse) the SAE on the
 * collection, label it (or reuse its catalog), and measure ({@link runControllability}).
 */
export async function runControllabilityStudy(
  options: ControllabilityStudyOptions,
): Promise<{ results: ControllabilityResult[]; note: string }> {
  const { embedder, cacheDir } = options;
  const corpusPath = join(options.datasetDir, 'corpus.jsonl');
  const corpus = await loadTopicCorpus(corpusPath);
  const corpusSha = createHash('sha256')
    .update(await readFile(corpusPath))
    .digest('hex');
  const topicsSha = createHash('sha256')
    .update(await readFile(options.topicsPath))
    .digest('hex');
  const topics = await loadTopics(options.topicsPath);
  const missing = topics.filter((t) => !corpus.some((d) => d.topic === t.name));
  if (missing.length > 0) {
    throw new EvalError(
      `experiment: topics ${missing.map((t) => `"${t.name}"`).join(', ')} have no documents in ${options.datasetDir}; check the topics file`,
      'experiment_input',
    );
  }
  const perTopic = options.perTopic ?? 10;
  const name = basename(options.datasetDir);
  const embedding = { model: embedder.id, dims: embedder.dims, normalized: embedder.normalized };
  const results: ControllabilityResult[] = [];
  let plan: SaeTrainingPlan | undefined;
  const trainedOn = new Set<string>();
  for (const seed of options.seeds) {
    const { collection, queries } = holdOutQueries(
      corpus,
      topics.map((t) => t.name),
      perTopic,
      seed,
    );
    const progress = (stage: string) => (done: number, total: number) =>
      options.onProgress?.({ stage: `${stage} (seed ${seed})`, done, total });
    const collectionVectors = await embedTexts(
      embedder,
      collection.map(documentText),
      'document',
      64,
      progress('embed collection'),
    );
    const queryVectors = await embedTexts(
      embedder,
      queries.map((q) => q.title),
      'query',
      64,
      progress('embed headlines'),
    );
    // The default recipe (scale-free loss, relative KL weight) at the issue's 2,048 latents.
    const recipe = await defaultPlan(collection.length, 0, embedder.dims, options.k ?? 32, seed);
    const seedPlan: SaeTrainingPlan = {
      ...recipe,
      nLatents: options.nLatents ?? 2048,
      epochs: options.epochs ?? 30,
    };
    plan = seedPlan;
    const cached = await trainOrReuseSae(
      cacheDir,
      `${name}-holdout${perTopic}-split${seed}`,
      collectionVectors,
      embedding,
      seedPlan,
      options.onProgress,
    );
    trainedOn.add(cached.key.backend);
    const sae = await loadSae(cached.dir);
    try {
      const catalog = await experimentCatalog(
        cached.dir,
        sae,
        embedder,
        collection.map((d) => ({ id: d.id, title: d.title, text: d.text })),
        options.onProgress,
        `label (seed ${seed})`,
      );
      try {
        results.push(
          await runControllability({
            seed,
            topics,
            collection,
            collectionVectors,
            queries,
            queryVectors,
            sae,
            catalog,
            onProgress: progress('steer'),
          }),
        );
      } finally {
        await catalog.dispose();
      }
    } finally {
      await sae.dispose();
    }
  }
  const note = plan
    ? `Collection ${name} (${corpus.length} articles, ${topics.length} topics; corpus.jsonl sha256 ${corpusSha.slice(0, 16)}…, topics file sha256 ${topicsSha.slice(0, 16)}…); per seed s: ${perTopic} articles per topic held out (split s), SAE trained on the rest by \`trainOrReuseSae\` (${plan.nLatents} latents, K=${plan.k}, up to ${plan.epochs} epochs with early stopping, the default recipe: ${plan.loss} loss, KL weight ${plan.kldWeight}, M = ${plan.neighbours}, training seed s, trained on the ${[...trainedOn].join(' and ')} backend), catalog by \`steer label\` defaults; embedder ${embedder.id}.`
    : '';
  return { results, note };
}
