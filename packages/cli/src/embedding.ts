// Embedding many texts in batches with progress.
import type { Embedder } from '@steer/embed';
import type { Progress } from './progress.js';

/** Embeds `texts` as documents in batches of `batchSize`, reporting progress; returns [texts.length, dims]. */
export async function embedAll(
  embedder: Embedder,
  texts: readonly string[],
  batchSize: number,
  progress?: Progress,
): Promise<Float32Array> {
  const out = new Float32Array(texts.length * embedder.dims);
  for (let start = 0; start < texts.length; start += batchSize) {
    const batch = texts.slice(start, start + batchSize);
    out.set(await embedder.embed(batch, { kind: 'document' }), start * embedder.dims);
    progress?.update(start + batch.length, texts.length);
  }
  return out;
}
