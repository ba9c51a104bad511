// Picks an embedder from a spec string, as written in configs and on the command line.
import { basename } from 'node:path';
import { withCache } from './cache.js';
import type { Embedder } from './embedder.js';
import { EmbedError } from './errors.js';
import { loadOnnxEmbedder } from './onnx-embedder.js';
import { loadPrecomputedEmbeddings } from './precomputed.js';
import { loadDefaultEmbedder } from './use-lite.js';

/**
 * Creates an embedder from a spec: `default` or `use-lite` (bundled Universal Sentence Encoder lite),
 * `onnx:<dir>` (see loadOnnxEmbedder) or `vectors:<path>` (precomputed vectors looked up by text; id
 * `vectors:<file name>`). With `cacheDir`, model embedders are wrapped by withCache.
 * @throws EmbedError `unknown_embedder` for any other spec, plus the errors of the chosen loader.
 */
export async function createEmbedder(spec: string, options: { cacheDir?: string } = {}): Promise<Embedder> {
  const cache = (embedder: Embedder): Embedder =>
    options.cacheDir === undefined ? embedder : withCache(embedder, options.cacheDir);
  if (spec === 'default' || spec === 'use-lite') return cache(await loadDefaultEmbedder());
  if (spec.startsWith('onnx:') && spec.length > 'onnx:'.length)
    return cache(await loadOnnxEmbedder(spec.slice(5)));
  if (spec.startsWith('vectors:') && spec.length > 'vectors:'.length) {
    const path = spec.slice('vectors:'.length);
    // NOTE: not cached: the vectors are already on disk.
    return (await loadPrecomputedEmbeddings(path)).embedderFor(`vectors:${basename(path)}`);
  }
  throw new EmbedError(
    'unknown_embedder',
    `embed: embedder spec ${JSON.stringify(spec)} is unknown; use "default", "use-lite", "onnx:<model folder>" or "vectors:<file.npy|file.jsonl>"`,
  );
}
