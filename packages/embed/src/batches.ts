// Embedding many texts in consecutive batches, with progress: what indexing, labelling and evaluation share.
import type { EmbedKind, Embedder } from './embedder.js';

/**
 * Embeds `texts` in batches of `batchSize` (default 64) as `kind` (default `document`), calling `onProgress`
 * after each batch. Returns [texts.length, dims]. Throws what the embedder throws.
 */
export async function embedInBatches(
  embedder: Embedder,
  texts: readonly string[],
  options: { kind?: EmbedKind; batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<Float32Array> {
  const batchSize = options.batchSize ?? 64;
  const out = new Float32Array(texts.length * embedder.dims);
  for (let start = 0; start < texts.length; start += batchSize) {
    const batch = texts.slice(start, start + batchSize);
    out.set(await embedder.embed(batch, { kind: options.kind ?? 'document' }), start * embedder.dims);
    options.onProgress?.(start + batch.length, texts.length);
  }
  return out;
}
