// Tests of the default embedder (Universal Sentence Encoder lite) with every network entry point blocked.
import assert from 'node:assert/strict';
import dns from 'node:dns';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { USE_LITE_ID, loadDefaultEmbedder, type Embedder } from '@steer/embed';

const networkCalls: string[] = [];
const original = {
  connect: net.Socket.prototype.connect,
  lookup: dns.lookup,
  promisesLookup: dns.promises.lookup,
  fetch: globalThis.fetch,
};
let embedder: Embedder;

function blocked(what: string): never {
  networkCalls.push(what);
  throw new Error(`use-lite test: network access attempted (${what})`);
}

before(async () => {
  net.Socket.prototype.connect = function connect(...args: unknown[]) {
    return blocked(`net.Socket.connect ${JSON.stringify(args[0])}`);
  } as typeof net.Socket.prototype.connect;
  dns.lookup = ((hostname: string) => blocked(`dns.lookup ${hostname}`)) as unknown as typeof dns.lookup;
  dns.promises.lookup = ((hostname: string) =>
    blocked(`dns.promises.lookup ${hostname}`)) as typeof dns.promises.lookup;
  globalThis.fetch = ((input: unknown) => blocked(`fetch ${String(input)}`)) as typeof fetch;
  // The traps work: each entry point is recorded and refused.
  assert.throws(() => net.connect(80, '192.0.2.1'), /network access attempted/);
  assert.throws(() => dns.lookup('example.com', () => undefined), /network access attempted/);
  assert.throws(() => fetch('https://tfhub.dev/'), /network access attempted/);
  assert.equal(networkCalls.length, 3);
  networkCalls.length = 0;
  embedder = await loadDefaultEmbedder();
});

after(async () => {
  await embedder?.dispose();
  net.Socket.prototype.connect = original.connect;
  dns.lookup = original.lookup;
  dns.promises.lookup = original.promisesLookup;
  globalThis.fetch = original.fetch;
});

function dot(vectors: Float32Array, a: number, b: number, dims: number): number {
  let sum = 0;
  for (let j = 0; j < dims; j++) sum += vectors[a * dims + j]! * vectors[b * dims + j]!;
  return sum;
}

test('loads and embeds offline: no socket, DNS lookup or fetch is attempted', async () => {
  assert.equal(embedder.id, USE_LITE_ID);
  assert.equal(embedder.dims, 512);
  assert.equal(embedder.normalized, true);
  const vectors = await embedder.embed(['what is the capital of France?']);
  assert.equal(vectors.length, 512);
  assert.deepEqual(networkCalls, []);
});

test('related sentences are closer than unrelated ones; vectors have unit norm', async () => {
  const texts = [
    'A man is playing a guitar on stage.',
    'Someone performs music with a string instrument.',
    'The central bank raised interest rates again.',
    'How do I bake sourdough bread?',
    'Recipe for making bread with a sourdough starter',
  ];
  const vectors = await embedder.embed(texts);
  for (let i = 0; i < texts.length; i++) assert.ok(Math.abs(dot(vectors, i, i, 512) - 1) < 1e-5);
  assert.ok(dot(vectors, 0, 1, 512) > dot(vectors, 0, 2, 512) + 0.1);
  assert.ok(dot(vectors, 3, 4, 512) > dot(vectors, 3, 2, 512) + 0.1);
  assert.ok(dot(vectors, 3, 4, 512) > dot(vectors, 3, 0, 512) + 0.1);
  assert.deepEqual(networkCalls, []);
});

test('rows stay aligned across internal batches and around empty texts', async () => {
  const texts = Array.from({ length: 70 }, (_, i) => `sentence number ${i} about topic ${i % 7}`);
  texts[5] = '';
  const batch = await embedder.embed(texts);
  assert.equal(batch.length, 70 * 512);
  for (const i of [5, 6, 63, 64, 69]) {
    const alone = await embedder.embed([texts[i]!]);
    let diff = 0;
    for (let j = 0; j < 512; j++) diff = Math.max(diff, Math.abs(alone[j]! - batch[i * 512 + j]!));
    assert.ok(diff < 1e-4, `text ${i} differs by ${diff}`);
  }
});

test('a text gets the same vector bit for bit whatever it is embedded with', async () => {
  const texts = [
    'what is the capital of France',
    'who is the king of the world today',
    'a b',
    'what is the capital of Spain',
    'one two three four five six seven eight nine ten eleven twelve',
  ];
  const together = await embedder.embed(texts);
  const reversed = await embedder.embed([...texts].reverse());
  for (let i = 0; i < texts.length; i++) {
    const alone = await embedder.embed([texts[i]!]);
    const mixed = await embedder.embed([
      texts[i]!,
      'a much longer text than any of the others, so that it is padded',
    ]);
    const j = texts.length - 1 - i;
    for (const [name, other] of [
      ['batch', together.subarray(i * 512, (i + 1) * 512)],
      ['reversed batch', reversed.subarray(j * 512, (j + 1) * 512)],
      ['batch with a longer text', mixed.subarray(0, 512)],
    ] as const) {
      assert.deepEqual([...other], [...alone], `text ${i} differs in the ${name}`);
    }
  }
  assert.match(embedder.version ?? '', /model-embeddings-en@0\.2\.0 .*rev2/);
});

test('an empty list is refused with empty_input', async () => {
  await assert.rejects(embedder.embed([]), { code: 'empty_input' });
});
