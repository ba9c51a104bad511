// Provenance of experiment results: content hashes of a dataset's corpus, queries and judgments and of vectors,
// and the embedder's id and version, so that a result (and a cache entry) names exactly what made it.
import { createHash } from 'node:crypto';
import type { Embedder } from '@steer/embed';
import type { EvalDataset } from './datasets.js';

/** SHA-256 (hex, first 16 characters) of strings and float arrays, each prefixed by its length. */
export function contentHash(...parts: ReadonlyArray<string | Float32Array>): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    if (typeof part === 'string') {
      const bytes = Buffer.from(part, 'utf8');
      hash.update(`s${bytes.length}:`).update(bytes);
    } else {
      hash.update(`f${part.length}:`).update(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/** Hashes of what a dataset holds: documents (id, title, text), queries (id, text) and judgments. */
export interface DatasetHashes {
  corpus: string;
  queries: string;
  qrels: string;
}

/** Content hashes of a dataset, independent of file layout and line order of the judgments. */
export function datasetHashes(dataset: EvalDataset): DatasetHashes {
  const judgments = [...dataset.qrels]
    .flatMap(([query, docs]) => [...docs].map(([doc, grade]) => `${query}\t${doc}\t${grade}`))
    .sort();
  return {
    corpus: contentHash(...dataset.documents.flatMap((d) => [d.id, d.title ?? '', d.text])),
    queries: contentHash(...dataset.queries.flatMap((q) => [q.id, q.text])),
    qrels: contentHash(...judgments, `min${dataset.minRelevantGrade}`),
  };
}

/** The embedder as results record it: `id` plus `@version` when the embedder reports one. */
export function embedderLabel(embedder: Pick<Embedder, 'id' | 'version'>): string {
  return embedder.version === undefined ? embedder.id : `${embedder.id}@${embedder.version}`;
}
