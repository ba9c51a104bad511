// embedInBatches: batch boundaries, row order, kind and progress.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { embedInBatches } from '../src/batches.js';
import type { Embedder, EmbedOptions } from '../src/embedder.js';

/** A 2-d embedder whose vector for text `t<i>` is [i, kind === 'query' ? 1 : 0]; records its calls. */
function recordingEmbedder(calls: Array<{ texts: readonly string[]; kind?: string }>): Embedder {
  return {
    id: 'recording-2',
    dims: 2,
    normalized: false,
    async embed(texts: readonly string[], options?: EmbedOptions) {
      calls.push({ texts, kind: options?.kind });
      return Float32Array.from(texts.flatMap((t) => [Number(t.slice(1)), options?.kind === 'query' ? 1 : 0]));
    },
    async dispose() {},
  };
}

test('embeds in consecutive batches, keeps row order, and reports progress after each batch', async () => {
  const calls: Array<{ texts: readonly string[]; kind?: string }> = [];
  const progress: Array<[number, number]> = [];
  const texts = Array.from({ length: 7 }, (_, i) => `t${i}`);
  const out = await embedInBatches(recordingEmbedder(calls), texts, {
    batchSize: 3,
    onProgress: (done, total) => progress.push([done, total]),
  });
  assert.deepEqual(
    calls.map((c) => [c.texts.length, c.kind]),
    [
      [3, 'document'],
      [3, 'document'],
      [1, 'document'],
    ],
  );
  assert.deepEqual(Array.from(out), [0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0]);
  assert.deepEqual(progress, [
    [3, 7],
    [6, 7],
    [7, 7],
  ]);
});

test('passes the kind through and returns an empty array for no texts', async () => {
  const calls: Array<{ texts: readonly string[]; kind?: string }> = [];
  const out = await embedInBatches(recordingEmbedder(calls), ['t5'], { kind: 'query' });
  assert.deepEqual(Array.from(out), [5, 1]);
  assert.equal((await embedInBatches(recordingEmbedder(calls), [])).length, 0);
  assert.equal(calls.length, 1);
});
