// Embedding many texts in batches with progress.
import { embedInBatches } from '@steer/embed';
import type { Embedder } from '@steer/embed';
import type { Progress } from './progress.js';

/** Embeds `texts` as documents in batches of `batchSize`, reporting progress; returns [texts.length, dims]. */
export function embedAll(
  embedder: Embedder,
  texts: readonly string[],
  batchSize: number,
  progress?: Progress,
): Promise<Float32Array> {
  return embedInBatches(embedder, texts, {
    batchSize,
    onProgress: (done, total) => progress?.update(done, total),
  });
}
