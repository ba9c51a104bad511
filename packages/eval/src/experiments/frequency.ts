// Figure 3 of the paper: how often SAE features fire across a corpus against how often bag-of-words terms occur
// in the same corpus (rank-frequency on log-log axes), with head / torso / tail feature examples.
import { featureFrequencies, frequencyBuckets, rankFrequencySvg, type FeatureStats } from '@steer/catalog';
import type { SaeRuntime, SparseLatents } from '@steer/sae';
import type { EvalDocument } from '../datasets.js';
import { meanAndSd } from '../statistics.js';
import { documentText } from './shared.js';

/** One example feature of a frequency bucket. */
export interface FrequencyExample {
  bucket: 'head' | 'torso' | 'tail';
  feature: number;
  /** Fraction of documents where the feature is in the top K. */
  frequency: number;
  keywords: string[];
  /** Title (or start) of the feature's strongest document. */
  topDocument: string;
}

/** Result of {@link runFrequency}. */
export interface FrequencyResult {
  corpus: string;
  saeId: string;
  k: number;
  nLatents: number;
  documents: number;
  liveFeatures: number;
  vocabulary: number;
  /** Document frequencies (fractions), most frequent first. */
  featureFrequencies: number[];
  termFrequencies: number[];
  /** Least-squares slope of log frequency over log rank (ranks 1 .. n), per curve. */
  featureSlope: number;
  termSlope: number;
  examples: FrequencyExample[];
}

/** Slope of log10(value) against log10(rank) by least squares over the positive values. */
export function logLogSlope(values: readonly number[]): number {
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  values.forEach((v, i) => {
    if (!(v > 0)) return;
    const x = Math.log10(i + 1);
    const y = Math.log10(v);
    n++;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  });
  const denominator = n * sxx - sx * sx;
  return denominator === 0 ? 0 : (n * sxy - sx * sy) / denominator;
}

const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;
const STOPWORDS = new Set(
  (
    'the of and to in a is that for on with as by are be this was it or at from an which can not have has were ' +
    'their its also more been but they than other these such into one two may used between about most when ' +
    'some there only all what how who your you our we will would should could do does did each per'
  ).split(' '),
);

/** Distinct lower-cased words of each text (stopwords kept): the bag-of-words vocabulary. */
export function documentTerms(texts: readonly string[]): Array<Set<string>> {
  return texts.map(
    (text) => new Set(Array.from(text.toLowerCase().matchAll(WORD), (m) => m[0].replace(/['’-]+$/u, ''))),
  );
}

/** Fraction of documents containing each term, most frequent first. */
export function termDocumentFrequencies(terms: ReadonlyArray<ReadonlySet<string>>): Map<string, number> {
  const df = new Map<string, number>();
  for (const set of terms) for (const term of set) df.set(term, (df.get(term) ?? 0) + 1);
  return new Map(
    [...df].map(([t, n]) => [t, n / terms.length] as [string, number]).sort((a, b) => b[1] - a[1]),
  );
}

/** Per-feature document counts and frequencies from top-K codes, plus each feature's strongest documents. */
export function featureStatsOf(
  codes: SparseLatents,
  nLatents: number,
  topN: number,
): { stats: FeatureStats; top: Map<number, number[]> } {
  const count = new Uint32Array(nLatents);
  const sum = new Float32Array(nLatents);
  const hits = new Map<number, Array<[number, number]>>();
  for (let d = 0; d < codes.batch; d++) {
    for (let j = 0; j < codes.k; j++) {
      const value = codes.values[d * codes.k + j]!;
      if (value <= 0) continue;
      const f = codes.indices[d * codes.k + j]!;
      count[f]!++;
      sum[f]! += value;
      let list = hits.get(f);
      if (!list) hits.set(f, (list = []));
      list.push([d, value]);
    }
  }
  const frequency = Float32Array.from(count, (c) => c / Math.max(1, codes.batch));
  const meanActivation = Float32Array.from(sum, (s, f) => (count[f]! > 0 ? s / count[f]! : 0));
  const top = new Map(
    [...hits].map(
      ([f, list]) =>
        [
          f,
          list
            .sort((a, b) => b[1] - a[1] || a[0] - b[0])
            .slice(0, topN)
            .map(([d]) => d),
        ] as [number, number[]],
    ),
  );
  return {
    stats: {
      nLatents,
      documents: codes.batch,
      count,
      frequency,
      meanActivation,
      // Only frequencies are plotted here; the activation quantiles are not needed.
      p99Activation: new Float32Array(nLatents),
      typicalActivation: new Float32Array(nLatents),
    },
    top,
  };
}

/** Terms over-represented in `docs` against the corpus (ratio of document frequencies, in at least 2 of them). */
function keywordsOf(
  terms: ReadonlyArray<ReadonlySet<string>>,
  df: ReadonlyMap<string, number>,
  docs: readonly number[],
  max: number,
): string[] {
  const inTop = new Map<string, number>();
  for (const d of docs) for (const t of terms[d]!) inTop.set(t, (inTop.get(t) ?? 0) + 1);
  const needed = Math.min(2, docs.length);
  return [...inTop]
    .filter(([t, n]) => n >= needed && t.length >= 3 && !STOPWORDS.has(t) && !/^[\d'’-]+$/u.test(t))
    .map(([t, n]) => [t, n / docs.length / (df.get(t)! + 1 / terms.length)] as const)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, max)
    .map(([t]) => t);
}

/**
 * Encodes every document with the SAE and compares the features' document frequencies with the terms'
 * (words of `title. text`, lower-cased, stopwords kept: the bag-of-words vocabulary).
 */
export async function runFrequency(options: {
  corpus: string;
  documents: readonly EvalDocument[];
  documentVectors: Float32Array;
  sae: SaeRuntime;
  perBucket?: number;
}): Promise<FrequencyResult> {
  const { documents, sae } = options;
  const texts = documents.map(documentText);
  const codes = await sae.encodeBatches(options.documentVectors, documents.length);
  const { stats, top: topDocuments } = featureStatsOf(codes, sae.manifest.nLatents, 10);
  const terms = documentTerms(texts);
  const df = termDocumentFrequencies(terms);
  const featureFreq = featureFrequencies(stats);
  const termFreq = [...df.values()];
  const buckets = frequencyBuckets(stats, options.perBucket ?? 3);
  const examples: FrequencyExample[] = [];
  for (const bucket of ['head', 'torso', 'tail'] as const) {
    for (const feature of buckets[bucket]) {
      const top = topDocuments.get(feature) ?? [];
      const doc = documents[top[0] ?? 0]!;
      examples.push({
        bucket,
        feature,
        frequency: stats.frequency[feature]!,
        keywords: keywordsOf(terms, df, top, 5),
        topDocument: (doc.title || doc.text).slice(0, 90),
      });
    }
  }
  return {
    corpus: options.corpus,
    saeId: sae.manifest.id,
    k: sae.manifest.k,
    nLatents: sae.manifest.nLatents,
    documents: documents.length,
    liveFeatures: featureFreq.length,
    vocabulary: df.size,
    featureFrequencies: featureFreq,
    termFrequencies: termFreq,
    featureSlope: logLogSlope(featureFreq),
    termSlope: logLogSlope(termFreq),
    examples,
  };
}

/** The rank-frequency plot (the catalog's log-log SVG) of features and terms. */
export function renderFrequencySvg(result: FrequencyResult): string {
  return rankFrequencySvg(
    [
      {
        name: `SAE features (K=${result.k}, ${result.liveFeatures} live)`,
        values: result.featureFrequencies,
      },
      { name: `bag-of-words terms (${result.vocabulary})`, values: result.termFrequencies },
    ],
    {
      title: `Feature vs term document frequency (${result.corpus})`,
      yLabel: 'fraction of documents (log scale)',
    },
  );
}

/**
 * The frequency report in Markdown for one corpus: `results` holds one SAE per training seed (the plot and the
 * examples are the first's; slopes are given per seed and as mean ± sd). `header` is the provenance block.
 */
export function renderFrequency(
  results: readonly FrequencyResult[],
  header: string,
  svgName: string,
): string {
  const first = results[0]!;
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const atRank = (values: readonly number[], rank: number) =>
    values[rank - 1] === undefined ? '—' : pct(values[rank - 1]!);
  const slopes = meanAndSd(results.map((r) => r.featureSlope));
  const live = meanAndSd(results.map((r) => r.liveFeatures));
  return [
    `# Figure 3: feature activation frequency vs term frequency (${first.corpus})`,
    '',
    header,
    '',
    `![rank-frequency](${svgName})`,
    '',
    `The plot shows SAE ${first.saeId} (K=${first.k}, ${first.nLatents} latents, the first seed); ${first.liveFeatures} of its features fire on at least one of the ${first.documents} documents.`,
    '',
    '| curve | SAE | items | rank 1 | rank 10 | rank 100 | rank 1000 | log-log slope |',
    '|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| SAE features | ${r.saeId} | ${r.liveFeatures} | ${atRank(r.featureFrequencies, 1)} | ${atRank(r.featureFrequencies, 10)} | ${atRank(r.featureFrequencies, 100)} | ${atRank(r.featureFrequencies, 1000)} | ${r.featureSlope.toFixed(2)} |`,
    ),
    `| bag-of-words terms | — | ${first.vocabulary} | ${atRank(first.termFrequencies, 1)} | ${atRank(first.termFrequencies, 10)} | ${atRank(first.termFrequencies, 100)} | ${atRank(first.termFrequencies, 1000)} | ${first.termSlope.toFixed(2)} |`,
    '',
    `Over the ${results.length} seeds: feature log-log slope ${slopes.mean.toFixed(2)} ± ${slopes.sd.toFixed(2)} (terms ${first.termSlope.toFixed(2)}); live features ${live.mean.toFixed(0)} ± ${live.sd.toFixed(0)} of ${first.nLatents}.`,
    '',
    '## Head, torso and tail features (first seed)',
    '',
    '| bucket | feature | documents | keywords of its top documents | strongest document |',
    '|---|---|---|---|---|',
    ...first.examples.map(
      (e) =>
        `| ${e.bucket} | ${e.feature} | ${pct(e.frequency)} | ${e.keywords.join(', ') || '—'} | ${e.topDocument.replace(/\|/g, '\\|')} |`,
    ),
    '',
    '## Method',
    '',
    '- Feature frequency: the fraction of documents whose top-K latents include the feature (dead features left out).',
    '- Term frequency: the fraction of documents containing the term; terms are the lower-cased words of `title. text`',
    "  (the catalog's tokenizer, stopwords kept), i.e. the bag-of-words vocabulary of the same corpus.",
    '- Head / torso / tail: the most frequent features, those around the median rank, and the rarest live ones; keywords',
    "  are the content words most over-represented (ratio of document frequencies) in each feature's ten strongest documents.",
    '- The SAEs are the Table 1 SAEs at this K (same cache), one per seed.',
    '',
  ].join('\n');
}
