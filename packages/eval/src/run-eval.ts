// `steer eval`: original dense, sparse latent, reconstructed dense and residual (no-edit) retrieval of a
// dataset through an SAE, scored with MRR@10, P@10, R@10 and nDCG@10.
import { documentText } from '@steer/catalog';
import { embedInBatches } from '@steer/embed';
import type { Embedder } from '@steer/embed';
import { latentNorm } from '@steer/sae';
import type { SaeRuntime, SparseLatents, SteerOptions } from '@steer/sae';
import type { SearchBackend, Similarity } from '@steer/search';
import type { EvalDataset } from './datasets.js';
import { evaluateRuns, perQueryMetrics, topOverlap } from './metrics.js';
import type { MetricSummary } from './metrics.js';
import { contentHash, datasetHashes, embedderLabel, type DatasetHashes } from './provenance.js';
import { bootstrapMean, bootstrapRatio, type Interval } from './statistics.js';

/**
 * The retrieval methods: the original dense vectors; the SAE's sparse latents (exact inverted index) with each
 * document's code unit-normalised (Steer's rule, what `steer index --latents` writes) and, as an extra row, by the raw
 * code dot product (`sparse-dot`, the paper's rule); the reconstructions ranked by dot product (the paper's rule) and,
 * as an extra row, by cosine; the reconstructed documents against the query coded by pursuit over the decoder
 * (`reconstructed-pursuit`: the k atoms whose non-negative combination is closest to the query, instead of the
 * encoder's TopK) by dot product; residual steering with no edits (the query vector itself); and what
 * `steer=reconstructed` searches a user's index with when no edit changes anything: the query's reconstruction from
 * the encoder's code (`steer-reconstructed`, `code=encoder`) or from its pursuit code (`steer-reconstructed-pursuit`,
 * the default `code=auto`), against the original document vectors (not the paper's protocol, which reconstructs both).
 */
export type EvalMethod =
  | 'original'
  | 'sparse'
  | 'sparse-dot'
  | 'reconstructed'
  | 'reconstructed-cosine'
  | 'reconstructed-pursuit'
  | 'residual'
  | 'steer-reconstructed'
  | 'steer-reconstructed-pursuit';

/**
 * How sparse retrieval normalises each document's code before the dot product with the query's: `l2` divides it by
 * its Euclidean norm (cosine between codes, since the query's norm does not change its ranking); `none` keeps it
 * (the paper's h_q · h_d).
 */
export type SparseDocumentNorm = 'l2' | 'none';

export interface EvalRow extends Omit<MetricSummary, 'queries'> {
  method: EvalMethod;
  /** The SAE's k (active latents per vector); 0 for the original dense row. */
  k: number;
  /** Mean squared error per dimension between the vectors a method searches with and the originals. */
  mse: number;
  /** 95% bootstrap intervals over the judged queries of MRR@10 and nDCG@10. */
  mrr10Ci: Interval;
  ndcg10Ci: Interval;
  /** MRR@10 as a fraction of the original's, with its paired 95% bootstrap interval over the judged queries. */
  retention: Interval;
  /**
   * Judgment-free faithfulness: mean over EVERY query of the dataset (judged or not) of the fraction of the
   * original top 10 that this method's top 10 also holds.
   */
  overlap10: number;
  /** Per judged query (in the order of {@link EvalResult.judgedQueryIds}): reciprocal rank and nDCG@10. */
  perQuery: { mrr10: number[]; ndcg10: number[] };
  /** Per query of the dataset (in the order of `dataset.queries`): the top-10 overlap with the original. */
  perQueryOverlap: number[];
}

export interface EvalResult {
  dataset: string;
  saeId: string;
  /** The embedder's id, with `@version` when it reports one. */
  embedder: string;
  documents: number;
  /** Judged queries (with at least one relevant document): the ones the metrics average over. */
  queries: number;
  /** Every query of the dataset: the ones the overlap averages over. */
  allQueries: number;
  judgedQueryIds: string[];
  relevanceNote: string;
  /** Content hashes of the dataset's corpus, queries and judgments. */
  hashes: DatasetHashes;
  rows: EvalRow[];
}

export interface EvalProgress {
  stage: 'embed-documents' | 'embed-queries' | 'encode' | 'index' | 'search';
  done: number;
  total: number;
}

export interface EvalOptions {
  dataset: EvalDataset;
  sae: SaeRuntime;
  embedder: Embedder;
  backend: SearchBackend;
  /** Precomputed document embeddings [documents, dims] (e.g. shared between several SAEs). */
  documentVectors?: Float32Array;
  /** Precomputed embeddings of EVERY query of the dataset, in `dataset.queries` order [queries, dims]. */
  queryVectors?: Float32Array;
  onProgress?: (progress: EvalProgress) => void;
  batchSize?: number;
  /** Called once with the vectors and their SAE reconstructions, for analyses that need them (Table 1's headroom). */
  onReconstructed?: (vectors: Reconstructions) => void;
}

/** The vectors of an evaluation and their reconstructions through the SAE, in the dataset's order [rows, dims]. */
export interface Reconstructions {
  documents: Float32Array;
  queries: Float32Array;
  documentsHat: Float32Array;
  queriesHat: Float32Array;
  /** The queries decoded from their pursuit codes (`reconstructed-pursuit`). */
  queriesPursuedHat: Float32Array;
  /** The encoder's codes of the documents and queries (the `sparse` rows). */
  documentLatents: SparseLatents;
  queryLatents: SparseLatents;
}

const CUTOFF = 10;

/** Embeds `texts` in batches, returning [texts.length, dims]. */
export function embedTexts(
  embedder: Embedder,
  texts: string[],
  kind: 'query' | 'document',
  batchSize = 64,
  onProgress?: (done: number, total: number) => void,
): Promise<Float32Array> {
  return embedInBatches(embedder, texts, { kind, batchSize, onProgress });
}

/** Mean of (a_i - b_i)^2 over every element. */
export function meanSquaredError(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const diff = a[i]! - b[i]!;
    sum += diff * diff;
  }
  return sum / a.length;
}

/** Inverted index of documents' positive latents: feature -> (document, value, divided by |d| under `l2`). */
export function postingLists(
  docs: SparseLatents,
  documentNorm: SparseDocumentNorm,
): Map<number, Array<{ doc: number; value: number }>> {
  const postings = new Map<number, Array<{ doc: number; value: number }>>();
  for (let d = 0; d < docs.batch; d++) {
    const norm = documentNorm === 'l2' ? latentNorm(docs, d) : 0;
    const scale = norm > 0 ? 1 / norm : 1;
    for (let j = 0; j < docs.k; j++) {
      const value = docs.values[d * docs.k + j]!;
      if (value <= 0) continue;
      const feature = docs.indices[d * docs.k + j]!;
      let list = postings.get(feature);
      if (!list) postings.set(feature, (list = []));
      list.push({ doc: d, value: value * scale });
    }
  }
  return postings;
}

/**
 * Exact sparse retrieval via an inverted index: score(q, d) = sum over shared latents of q_i * d_i / |d| with
 * `documentNorm: 'l2'` (|d| the Euclidean norm of the document's positive latents), or q_i * d_i with `'none'`.
 * Returns, per query, the indices of the `cutoff` best documents sharing at least one latent with it, best first,
 * ties broken by document order. A document without any positive latent (zero norm) is never returned.
 */
export function sparseSearch(
  docs: SparseLatents,
  queries: SparseLatents,
  cutoff: number,
  documentNorm: SparseDocumentNorm,
): number[][] {
  const postings = postingLists(docs, documentNorm);
  const results: number[][] = [];
  const scores = new Float64Array(docs.batch);
  for (let q = 0; q < queries.batch; q++) {
    scores.fill(0);
    const touched: number[] = [];
    for (let j = 0; j < queries.k; j++) {
      const value = queries.values[q * queries.k + j]!;
      if (value <= 0) continue;
      for (const posting of postings.get(queries.indices[q * queries.k + j]!) ?? []) {
        if (scores[posting.doc] === 0) touched.push(posting.doc);
        scores[posting.doc]! += value * posting.value;
      }
    }
    touched.sort((a, b) => scores[b]! - scores[a]! || a - b);
    results.push(touched.slice(0, cutoff));
  }
  return results;
}

async function ensureIndex(
  backend: SearchBackend,
  name: string,
  vectors: Float32Array,
  ids: string[],
  texts: string[],
  dims: number,
  similarity: Similarity,
  embeddingModel: string,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  if ((await backend.listIndexes()).includes(name)) {
    const info = await backend.describeIndex(name);
    if (info.count === ids.length && info.dims === dims) return;
  }
  await backend.createIndex(name, { dims, similarity, embeddingModel, overwrite: true });
  await backend.addDocuments(
    name,
    ids.map((id, i) => ({ id, text: texts[i]!, vector: vectors.subarray(i * dims, (i + 1) * dims) })),
    { total: ids.length, onProgress: (p) => onProgress?.(p.done, p.total) },
  );
}

/**
 * Exact dense retrieval in memory: the `cutoff` documents with the highest score (dot product, or cosine) for each
 * query, ties broken by document order. Scores accumulate in float64, so rankings do not depend on a store.
 */
export function denseSearch(
  docs: Float32Array, // [nDocs, dims]
  queries: Float32Array, // [nQueries, dims]
  dims: number,
  cutoff: number,
  similarity: 'dot' | 'cosine',
): number[][] {
  const nDocs = docs.length / dims;
  const nQueries = queries.length / dims;
  const inverseNorm = new Float64Array(nDocs).fill(1);
  if (similarity === 'cosine') {
    for (let d = 0; d < nDocs; d++) {
      let sum = 0;
      for (let c = 0; c < dims; c++) sum += docs[d * dims + c]! ** 2;
      inverseNorm[d] = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    }
  }
  const scores = new Float64Array(nDocs);
  const results: number[][] = [];
  for (let q = 0; q < nQueries; q++) {
    const offset = q * dims;
    for (let d = 0; d < nDocs; d++) {
      let sum = 0;
      const row = d * dims;
      for (let c = 0; c < dims; c++) sum += queries[offset + c]! * docs[row + c]!;
      scores[d] = sum * inverseNorm[d]!;
    }
    const top: number[] = [];
    for (let d = 0; d < nDocs; d++) {
      if (top.length === cutoff && scores[d]! <= scores[top[cutoff - 1]!]!) continue;
      let at = top.length < cutoff ? top.length : cutoff - 1;
      top[at] = d;
      while (at > 0 && scores[top[at - 1]!]! < scores[d]!) {
        top[at] = top[at - 1]!;
        top[--at] = d;
      }
    }
    results.push(top);
  }
  return results;
}

/** The document and query embeddings of an evaluation: given, or embedded here; checked against the dataset. */
async function datasetVectors(
  options: EvalOptions,
  ids: string[],
  texts: string[],
): Promise<{ docVectors: Float32Array; queryVectors: Float32Array }> {
  const { dataset, embedder, onProgress } = options;
  const dims = embedder.dims;
  const queries = dataset.queries;
  const docVectors =
    options.documentVectors ??
    (await embedTexts(embedder, texts, 'document', options.batchSize, (done, total) =>
      onProgress?.({ stage: 'embed-documents', done, total }),
    ));
  const queryVectors =
    options.queryVectors ??
    (await embedTexts(
      embedder,
      queries.map((q) => q.text),
      'query',
      options.batchSize,
      (done, total) => onProgress?.({ stage: 'embed-queries', done, total }),
    ));
  if (queryVectors.length !== queries.length * dims || docVectors.length !== ids.length * dims) {
    throw new Error(
      `eval: expected vectors of ${ids.length} documents and ${queries.length} queries (every query of ${dataset.name}) of ${dims} dims`,
    );
  }
  return { docVectors, queryVectors };
}

/** Each query as `sae.steer` forms it with no edits under `options` [queries, dims]: what a search with that rule sends. */
async function steeredQueries(
  sae: SaeRuntime,
  queryVectors: Float32Array,
  nQueries: number,
  dims: number,
  options: SteerOptions,
): Promise<Float32Array> {
  const steered = new Float32Array(queryVectors.length);
  for (let q = 0; q < nQueries; q++) {
    const { vector } = await sae.steer(queryVectors.subarray(q * dims, (q + 1) * dims), [], options);
    steered.set(vector, q * dims);
  }
  return steered;
}

/** The rankings of every method, per query of the dataset in order, as document ids. */
async function methodRuns(
  options: EvalOptions,
  ids: string[],
  texts: string[],
): Promise<{
  runs: Record<EvalMethod, string[][]>;
  reconMse: number;
  pursuitMse: number;
  residualMse: number;
  steeredMse: number;
  steeredPursuitMse: number;
}> {
  const { dataset, sae, embedder, backend, onProgress } = options;
  const dims = embedder.dims;
  const queries = dataset.queries;
  const { docVectors, queryVectors } = await datasetVectors(options, ids, texts);

  const docLatents = await sae.encode(docVectors, ids.length);
  const queryLatents = await sae.encode(queryVectors, queries.length);
  onProgress?.({ stage: 'encode', done: ids.length + queries.length, total: ids.length + queries.length });
  const docRecon = await sae.decode(docLatents);
  const queryRecon = await sae.decode(queryLatents);
  const originals = concat(docVectors, queryVectors);
  const reconMse = meanSquaredError(originals, concat(docRecon, queryRecon));
  const queryPursued = await sae.decode(await sae.encodePursuit(queryVectors, queries.length));
  const pursuitMse = meanSquaredError(originals, concat(docRecon, queryPursued));
  options.onReconstructed?.({
    documents: docVectors,
    queries: queryVectors,
    documentsHat: docRecon,
    queriesHat: queryRecon,
    queriesPursuedHat: queryPursued,
    documentLatents: docLatents,
    queryLatents,
  });
  const steerEach = (steer: SteerOptions) => steeredQueries(sae, queryVectors, queries.length, dims, steer);
  const residual = await steerEach({});
  const steered = await steerEach({ mode: 'reconstructed', coding: 'encoder' });
  const steeredPursuit = await steerEach({ mode: 'reconstructed', coding: 'pursuit' });

  const originalIndex = `eval-${contentHash(dataset.name, embedderLabel(embedder), ids.join('\n'), docVectors)}-original`;
  await ensureIndex(
    backend,
    originalIndex,
    docVectors,
    ids,
    texts,
    dims,
    embedder.normalized ? 'dot_product' : 'cosine',
    embedder.id,
    (done, total) => onProgress?.({ stage: 'index', done, total }),
  );

  let searched = 0;
  const backendRuns = async (vectors: Float32Array): Promise<string[][]> => {
    const runs: string[][] = [];
    for (let q = 0; q < queries.length; q++) {
      const hits = await backend.knnSearch(originalIndex, {
        vector: vectors.subarray(q * dims, (q + 1) * dims),
        k: CUTOFF,
      });
      runs.push(hits.map((h) => h.id));
      onProgress?.({ stage: 'search', done: ++searched, total: queries.length * 4 });
    }
    return runs;
  };
  const named = (rankings: number[][]): string[][] => rankings.map((docs) => docs.map((d) => ids[d]!));
  const runs: Record<EvalMethod, string[][]> = {
    original: await backendRuns(queryVectors),
    sparse: named(sparseSearch(docLatents, queryLatents, CUTOFF, 'l2')),
    'sparse-dot': named(sparseSearch(docLatents, queryLatents, CUTOFF, 'none')),
    reconstructed: named(denseSearch(docRecon, queryRecon, dims, CUTOFF, 'dot')),
    'reconstructed-cosine': named(denseSearch(docRecon, queryRecon, dims, CUTOFF, 'cosine')),
    'reconstructed-pursuit': named(denseSearch(docRecon, queryPursued, dims, CUTOFF, 'dot')),
    residual: await backendRuns(residual),
    'steer-reconstructed': await backendRuns(steered),
    'steer-reconstructed-pursuit': await backendRuns(steeredPursuit),
  };
  return {
    runs,
    reconMse,
    pursuitMse,
    residualMse: meanSquaredError(queryVectors, residual),
    steeredMse: meanSquaredError(queryVectors, steered),
    steeredPursuitMse: meanSquaredError(queryVectors, steeredPursuit),
  };
}

/**
 * Evaluates the retrieval methods of a dataset through `sae`. The original and residual rows search the backend
 * (dot product when the embedder normalises, else cosine), as users' searches do; the SAE's own methods are exact in
 * memory: sparse over the documents' TopK latents (unit-normalised document codes, as `steer index --latents`
 * writes them; the raw dot product, the paper's rule, as `sparse-dot`), reconstructed by dot product (the paper's
 * rule; stores' dot product needs unit vectors, and reconstructions are not), by cosine, and with the query coded by
 * pursuit over the decoder instead of by the encoder; the `steer-reconstructed` rows search the backend with the
 * queries `steer=reconstructed` forms (unit vectors when the embedder normalises). Metrics average over the judged queries,
 * with 95% bootstrap intervals; the top-10 overlap with the original averages over every query.
 */
export async function evaluateSae(options: EvalOptions): Promise<EvalResult> {
  const { dataset, sae, embedder } = options;
  const dims = embedder.dims;
  if (sae.manifest.dModel !== dims) {
    throw new Error(
      `eval: the embedder ${embedder.id} gives ${dims}-d vectors but the SAE ${sae.manifest.id} expects ${sae.manifest.dModel}; use the SAE trained for this embedder`,
    );
  }
  const ids = dataset.documents.map((d) => d.id);
  const texts = dataset.documents.map(documentText);
  const queries = dataset.queries;
  const { runs, reconMse, pursuitMse, residualMse, steeredMse, steeredPursuitMse } = await methodRuns(
    options,
    ids,
    texts,
  );

  const byQuery = (method: EvalMethod): Map<string, string[]> =>
    new Map(queries.map((q, i) => [q.id, runs[method][i]!]));
  const original = perQueryMetrics(byQuery('original'), dataset.qrels, dataset.minRelevantGrade);
  const k = sae.manifest.k;
  const row = (method: EvalMethod, rowK: number, mse: number): EvalRow => {
    const ranked = byQuery(method);
    const { queries: _queries, ...metrics } = evaluateRuns(ranked, dataset.qrels, dataset.minRelevantGrade);
    const per = perQueryMetrics(ranked, dataset.qrels, dataset.minRelevantGrade);
    const perQueryOverlap = queries.map((_, i) => topOverlap(runs[method][i]!, runs.original[i]!, CUTOFF));
    const judged = per.queryIds.length > 0;
    const empty: Interval = { value: 0, low: 0, high: 0 };
    return {
      method,
      k: rowK,
      mse,
      ...metrics,
      mrr10Ci: judged ? bootstrapMean(per.mrr10) : empty,
      ndcg10Ci: judged ? bootstrapMean(per.ndcg10) : empty,
      retention: judged ? bootstrapRatio(per.mrr10, original.mrr10) : empty,
      overlap10: perQueryOverlap.reduce((a, b) => a + b, 0) / Math.max(1, perQueryOverlap.length),
      perQuery: { mrr10: per.mrr10, ndcg10: per.ndcg10 },
      perQueryOverlap,
    };
  };
  const rows = [
    row('original', 0, 0),
    row('sparse', k, reconMse),
    row('sparse-dot', k, reconMse),
    row('reconstructed', k, reconMse),
    row('reconstructed-cosine', k, reconMse),
    row('reconstructed-pursuit', k, pursuitMse),
    row('residual', k, residualMse),
    row('steer-reconstructed', k, steeredMse),
    row('steer-reconstructed-pursuit', k, steeredPursuitMse),
  ];
  return {
    dataset: dataset.name,
    saeId: sae.manifest.id,
    embedder: embedderLabel(embedder),
    documents: ids.length,
    queries: original.queryIds.length,
    allQueries: queries.length,
    judgedQueryIds: original.queryIds,
    relevanceNote: dataset.relevanceNote,
    hashes: datasetHashes(dataset),
    rows,
  };
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
