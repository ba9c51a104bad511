// Tests of createEmbedder's spec strings (the default embedder itself is covered by use-lite.test.ts).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createEmbedder, EmbedError, type CachedEmbedder } from '@steer/embed';
import { HIDDEN, makeWeights, writeTinyBert } from './helpers/tiny-bert.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'steer-embed-create-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('onnx:<dir> loads the ONNX embedder, wrapped by the cache when cacheDir is given', async () => {
  await writeTinyBert(join(dir, 'tiny'), makeWeights());
  const embedder = (await createEmbedder(`onnx:${join(dir, 'tiny')}`, {
    cacheDir: join(dir, 'cache'),
  })) as CachedEmbedder;
  assert.equal(embedder.id, 'onnx:tiny');
  assert.equal(embedder.dims, HIDDEN);
  await embedder.embed(['the cat']);
  await embedder.embed(['the cat']);
  assert.deepEqual(
    { hits: embedder.cacheStats().hits, misses: embedder.cacheStats().misses },
    { hits: 1, misses: 1 },
  );
  await embedder.dispose();
});

test('vectors:<path> answers from precomputed vectors', async () => {
  const path = join(dir, 'v.jsonl');
  await writeFile(path, JSON.stringify({ id: 'a', vector: [0.6, 0.8], text: 'hello' }) + '\n');
  const embedder = await createEmbedder(`vectors:${path}`);
  assert.equal(embedder.id, 'vectors:v.jsonl');
  assert.deepEqual(
    [...(await embedder.embed(['hello']))].map((v) => Math.round(v * 10) / 10),
    [0.6, 0.8],
  );
});

test('an unknown spec is refused with the accepted forms', async () => {
  for (const spec of ['bert', 'onnx:', '']) {
    await assert.rejects(createEmbedder(spec), (error: unknown) => {
      assert.ok(error instanceof EmbedError);
      assert.equal(error.code, 'unknown_embedder');
      assert.match(error.message, /"default", "use-lite", "onnx:<model folder>"/);
      return true;
    });
  }
});
