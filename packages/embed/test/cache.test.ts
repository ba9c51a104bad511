// Tests of withCache: hits on a second run, per-kind keys, corrupt and truncated shards tolerated.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { withCache, type EmbedOptions, type Embedder } from '@steer/embed';

const DIMS = 4;

/** A deterministic embedder that records every text it is asked to embed. */
function countingEmbedder(id = 'fake-4'): Embedder & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    id,
    dims: DIMS,
    normalized: false,
    calls,
    async embed(texts: readonly string[], options?: EmbedOptions) {
      calls.push([...texts]);
      const out = new Float32Array(texts.length * DIMS);
      texts.forEach((text, i) => {
        out.set([text.length, text.charCodeAt(0) || 0, options?.kind === 'query' ? 1 : 0, i], i * DIMS);
      });
      return out;
    },
    async dispose() {},
  };
}

let cacheDir: string;
before(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'steer-embed-cache-'));
});
after(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

async function shardFiles(dir: string): Promise<string[]> {
  const [folder] = await readdir(dir);
  return (await readdir(join(dir, folder!))).map((name) => join(dir, folder!, name));
}

test('a second run on the same texts is answered from disk without calling the embedder', async () => {
  const dir = join(cacheDir, 'second-run');
  const texts = ['alpha', 'beta', 'gamma', 'alpha'];
  const first = countingEmbedder();
  const cachedFirst = withCache(first, dir);
  const vectors = await cachedFirst.embed(texts);
  assert.deepEqual(first.calls, [['alpha', 'beta', 'gamma']]);
  assert.deepEqual(cachedFirst.cacheStats(), {
    hits: 1,
    misses: 3,
    corruptShards: 0,
    shardsWritten: 1,
    writeErrors: 0,
  });
  assert.deepEqual([...vectors.subarray(3 * DIMS, 4 * DIMS)], [...vectors.subarray(0, DIMS)]);

  const second = countingEmbedder();
  const cachedSecond = withCache(second, dir); // a new process would start like this
  const again = await cachedSecond.embed(texts);
  assert.deepEqual(second.calls, []);
  assert.equal(cachedSecond.cacheStats().hits, 4);
  assert.equal(cachedSecond.cacheStats().misses, 0);
  assert.deepEqual([...again], [...vectors]);

  // A new text only embeds that text; a query of a cached document text is a different key.
  await cachedSecond.embed(['beta', 'delta']);
  await cachedSecond.embed(['beta'], { kind: 'query' });
  assert.deepEqual(second.calls, [['delta'], ['beta']]);
  assert.equal((await shardFiles(dir)).length, 3);
});

test('different embedder ids do not share vectors', async () => {
  const dir = join(cacheDir, 'ids');
  await withCache(countingEmbedder('model-a'), dir).embed(['same text']);
  const other = countingEmbedder('model-b');
  await withCache(other, dir).embed(['same text']);
  assert.deepEqual(other.calls, [['same text']]);
});

test('corrupt and truncated shards are ignored and their texts embedded again', async () => {
  const dir = join(cacheDir, 'corrupt');
  await withCache(countingEmbedder(), dir).embed(['one', 'two']);
  await withCache(countingEmbedder(), dir).embed(['three']);
  const [shardA, shardB] = (await shardFiles(dir)).sort();
  const bytesA = await readFile(shardA!);
  await writeFile(shardA!, bytesA.subarray(0, bytesA.length - 7)); // truncated
  const bytesB = await readFile(shardB!);
  bytesB[bytesB.length - 40]! ^= 0xff; // one flipped byte in the vectors
  await writeFile(shardB!, bytesB);
  await writeFile(join(shardA!, '..', 'shard-garbage.bin'), 'not a shard at all');

  const inner = countingEmbedder();
  const cached = withCache(inner, dir);
  const vectors = await cached.embed(['one', 'two', 'three']);
  assert.deepEqual(inner.calls.flat().sort(), ['one', 'three', 'two']);
  assert.equal(cached.cacheStats().corruptShards, 3);
  assert.deepEqual([...vectors.subarray(0, DIMS)], [3, 'o'.charCodeAt(0), 0, 0]);

  const next = countingEmbedder();
  await withCache(next, dir).embed(['one', 'two', 'three']);
  assert.deepEqual(next.calls, [], 'the re-embedded vectors were cached');
});

test('more than 64 shards are merged into one on load, keeping every vector', async () => {
  const dir = join(cacheDir, 'compact');
  const texts = Array.from({ length: 65 }, (_, i) => `text ${i}`);
  const writer = withCache(countingEmbedder(), dir);
  for (const text of texts) await writer.embed([text]);
  assert.equal((await shardFiles(dir)).length, 65);
  const reader = withCache(countingEmbedder(), dir);
  const vectors = await reader.embed(texts);
  assert.equal(reader.cacheStats().hits, 65);
  const shards = await shardFiles(dir);
  assert.equal(shards.length, 1);
  assert.match(shards[0]!, /merged/);
  const inner = countingEmbedder();
  assert.deepEqual([...(await withCache(inner, dir).embed(texts))], [...vectors]);
  assert.deepEqual(inner.calls, []);
});

test('an embedder that returns the wrong number of values is reported as dims_mismatch', async () => {
  const broken: Embedder = { ...countingEmbedder('broken'), embed: async () => new Float32Array(3) };
  await assert.rejects(withCache(broken, join(cacheDir, 'broken')).embed(['x']), { code: 'dims_mismatch' });
  await assert.rejects(withCache(countingEmbedder(), join(cacheDir, 'empty')).embed([]), {
    code: 'empty_input',
  });
});

test('vectors cached by another version of the same model are not reused', async () => {
  const dir = join(cacheDir, 'versions');
  const old = { ...countingEmbedder(), version: 'rev1' };
  await withCache(old, dir).embed(['alpha']);
  const current = Object.assign(countingEmbedder(), { version: 'rev2' });
  const cached = withCache(current, dir);
  await cached.embed(['alpha']);
  assert.deepEqual(current.calls, [['alpha']], 'rev2 embeds the text again');
  assert.equal(cached.version, 'rev2');
  const again = Object.assign(countingEmbedder(), { version: 'rev2' });
  await withCache(again, dir).embed(['alpha']);
  assert.deepEqual(again.calls, [], 'rev2 reuses its own vectors');
});
