// `steer eval`: original dense, sparse latent, reconstructed dense and residual (no-edit) retrieval of a
// dataset through an SAE, scored with MRR@10, P@10, R@10 and nDCG@10.
import { createHash } from 'node:crypto';
import { documentText } from '@steer/catalog';
import { embedInBatches } from '@steer/embed';
import type { Embedder } from '@steer/embed';
import type { SaeRuntime, SparseLatents } from '@steer/sae';
import type { SearchBackend, Similarity } from '@steer/search';
import type { EvalDataset } from './datasets.js';
import { evaluateRuns } from './metrics.js';
import type { MetricSummary } from './metrics.js';

export type EvalMethod = 'original' | 'sparse' | 'reconstructed' | 'residual';

export interface EvalRow extends Omit<MetricSummary, 'queries'> {
  method: EvalMethod;
  /** The SAE's k (active latents per vector); 0 for the original dense row. */
  k: number;
  /** Mean squared error per dimension between the vectors a method searches with and the originals. */
  mse: number;
}

export interface EvalResult {
  dataset: string;
  saeId: string;
  embedder: string;
  documents: number;
  queries: number;
  relevanceNote: string;
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
  queryVectors?: Float32Array;
  onProgress?: (progress: EvalProgress) => void;
  batchSize?: number;
}

const CUTOFF = 10;

/** Embeds `texts` in batches, returning [texts.length, dims]. */
export function embedTexts(
  embedder: Embedder,
  texts: readonly string[],
  kind: 'query' | 'document',
  batchSize = 64,
  onProgress?: (done: number, total: number) => void,
): Promise<Float32Array> {
  return embedInBatches(embedder, texts, { kind, batchSize, onProgress });
}

function meanSquaredError(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const diff = a[i]! - b[i]!;
    sum += diff * diff;
  }
  return sum / a.length;
}

/** Exact sparse retrieval: score(q, d) = sum over shared latents of q_i * d_i, via an inverted index. */
export function sparseSearch(docs: SparseLatents, queries: SparseLatents, cutoff: number): number[][] {
  const postings = new Map<number, Array<{ doc: number; value: number }>>();
  for (let d = 0; d < docs.batch; d++) {
    for (let j = 0; j < docs.k; j++) {
      const value = docs.values[d * docs.k + j]!;
      if (value <= 0) continue;
      const feature = docs.indices[d * docs.k + j]!;
      let list = postings.get(feature);
      if (!list) postings.set(feature, (list = []));
      list.push({ doc: d, value });
    }
  }
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

function contentHash(...parts: Array<string | Float32Array>): string {
  const hash = createHash('sha256');
  for (const part of parts)
    hash.update(
      typeof part === 'string' ? part : new Uint8Array(part.buffer, part.byteOffset, part.byteLength),
    );
  return hash.digest('hex').slice(0, 12);
}

/**
 * Evaluates the four retrieval methods of a dataset through `sae`. Dense methods search the backend
 * (original vectors under dot product when the embedder normalises, reconstructed vectors under cosine, as
 * reconstructions are not unit length); sparse retrieval is exact in memory over the documents' TopK latents.
 */
export async function evaluateSae(options: EvalOptions): Promise<EvalResult> {
  const { dataset, sae, embedder, backend, onProgress } = options;
  const dims = embedder.dims;
  if (sae.manifest.dModel !== dims) {
    throw new Error(
      `eval: the embedder ${embedder.id} gives ${dims}-d vectors but the SAE ${sae.manifest.id} expects ${sae.manifest.dModel}; use the SAE trained for this embedder`,
    );
  }
  const ids = dataset.documents.map((d) => d.id);
  const texts = dataset.documents.map(documentText);
  const judged = dataset.queries.filter((q) => dataset.qrels.has(q.id));
  const docVectors =
    options.documentVectors ??
    (await embedTexts(embedder, texts, 'document', options.batchSize, (done, total) =>
      onProgress?.({ stage: 'embed-documents', done, total }),
    ));
  const queryVectors =
    options.queryVectors ??
    (await embedTexts(
      embedder,
      judged.map((q) => q.text),
      'query',
      options.batchSize,
      (done, total) => onProgress?.({ stage: 'embed-queries', done, total }),
    ));

  const docLatents = await sae.encode(docVectors, ids.length);
  const queryLatents = await sae.encode(queryVectors, judged.length);
  onProgress?.({ stage: 'encode', done: ids.length + judged.length, total: ids.length + judged.length });
  const docRecon = await sae.decode(docLatents);
  const queryRecon = await sae.decode(queryLatents);
  const reconMse = meanSquaredError(concat(docVectors, queryVectors), concat(docRecon, queryRecon));

  const residual = new Float32Array(queryVectors.length);
  for (let q = 0; q < judged.length; q++) {
    const { vector } = await sae.steer(queryVectors.subarray(q * dims, (q + 1) * dims), []);
    residual.set(vector, q * dims);
  }

  const base = `eval-${contentHash(dataset.name, embedder.id, ids.join('\n'))}`;
  const originalIndex = `${base}-original`;
  const reconIndex = `${base}-recon-${sae.manifest.id}`;
  const indexProgress = (done: number, total: number) => onProgress?.({ stage: 'index', done, total });
  await ensureIndex(
    backend,
    originalIndex,
    docVectors,
    ids,
    texts,
    dims,
    embedder.normalized ? 'dot_product' : 'cosine',
    embedder.id,
    indexProgress,
  );
  await ensureIndex(
    backend,
    reconIndex,
    docRecon,
    ids,
    texts,
    dims,
    'cosine',
    `${embedder.id}+${sae.manifest.id}`,
    indexProgress,
  );

  let searched = 0;
  const denseRuns = async (index: string, vectors: Float32Array): Promise<Map<string, string[]>> => {
    const runs = new Map<string, string[]>();
    for (let q = 0; q < judged.length; q++) {
      const hits = await backend.knnSearch(index, {
        vector: vectors.subarray(q * dims, (q + 1) * dims),
        k: CUTOFF,
      });
      runs.set(
        judged[q]!.id,
        hits.map((h) => h.id),
      );
      onProgress?.({ stage: 'search', done: ++searched, total: judged.length * 3 });
    }
    return runs;
  };
  const sparseRuns = new Map(
    sparseSearch(docLatents, queryLatents, CUTOFF).map((docs, q) => [
      judged[q]!.id,
      docs.map((d) => ids[d]!),
    ]),
  );
  const k = sae.manifest.k;
  const row = (method: EvalMethod, rowK: number, mse: number, runs: Map<string, string[]>): EvalRow => {
    const { queries: _queries, ...metrics } = evaluateRuns(runs, dataset.qrels, dataset.minRelevantGrade);
    return { method, k: rowK, mse, ...metrics };
  };
  const rows = [
    row('original', 0, 0, await denseRuns(originalIndex, queryVectors)),
    row('sparse', k, reconMse, sparseRuns),
    row('reconstructed', k, reconMse, await denseRuns(reconIndex, queryRecon)),
    row('residual', k, meanSquaredError(queryVectors, residual), await denseRuns(originalIndex, residual)),
  ];
  return {
    dataset: dataset.name,
    saeId: sae.manifest.id,
    embedder: embedder.id,
    documents: ids.length,
    queries: evaluateRuns(new Map(), dataset.qrels, dataset.minRelevantGrade).queries,
    relevanceNote: dataset.relevanceNote,
    rows,
  };
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
