// Tests of loadOnnxEmbedder on a tiny BERT-shaped model built here, against an independent float64 reference.
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BGE_QUERY_PREFIX, EmbedError, loadOnnxEmbedder, type Embedder } from '@steer/embed';
import {
  HIDDEN,
  VOCAB,
  makeWeights,
  maxAbsDiff,
  referenceEmbedding,
  sentenceEmbeddingModel,
  writeTinyBert,
} from './helpers/tiny-bert.js';

// float32 inference against a float64 reference on 8-dim vectors of values in [-1, 1]
const TOLERANCE = 1e-5;
const weights = makeWeights();
let root: string;
let modelDir: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'steer-embed-onnx-'));
  modelDir = join(root, 'tiny-bert');
  await writeTinyBert(modelDir, weights);
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function row(vectors: Float32Array, index: number, dims = HIDDEN): Float32Array {
  return vectors.subarray(index * dims, (index + 1) * dims);
}

async function withEmbedder<T>(embedder: Embedder, body: (embedder: Embedder) => Promise<T>): Promise<T> {
  try {
    return await body(embedder);
  } finally {
    await embedder.dispose();
  }
}

test('CLS pooling with normalization matches the reference computation', async () => {
  await withEmbedder(
    await loadOnnxEmbedder(modelDir, { pooling: 'cls', normalize: true }),
    async (embedder) => {
      assert.equal(embedder.id, 'onnx:tiny-bert');
      assert.equal(embedder.dims, HIDDEN);
      assert.equal(embedder.normalized, true);
      const vectors = await embedder.embed(['The cat sat on the mat.', 'hello', 'a dog runs']);
      assert.equal(vectors.length, 3 * HIDDEN);
      const expected = [
        ['[CLS]', 'the', 'cat', 'sat', 'on', 'the', 'mat', '.', '[SEP]'],
        ['[CLS]', 'hello', '[SEP]'],
        ['[CLS]', 'a', 'dog', 'runs', '[SEP]'],
      ].map((tokens) => referenceEmbedding(weights, tokens, { pooling: 'cls', normalize: true }));
      expected.forEach((reference, i) =>
        assert.ok(maxAbsDiff(row(vectors, i), reference) < TOLERANCE, `text ${i}`),
      );
    },
  );
});

test('mean pooling averages only real tokens (attention mask), without normalization', async () => {
  await withEmbedder(
    await loadOnnxEmbedder(modelDir, { pooling: 'mean', normalize: false }),
    async (embedder) => {
      assert.equal(embedder.normalized, false);
      const tokens = ['[CLS]', 'hello', '[SEP]'];
      const [short] = [await embedder.embed(['hello', 'the cat sat on the mat , a dog runs'])];
      const reference = referenceEmbedding(weights, tokens, { pooling: 'mean', normalize: false });
      assert.ok(maxAbsDiff(row(short, 0), reference) < TOLERANCE);
      // Averaging the [PAD] positions too would give a clearly different vector: the check above can fail.
      const unmasked = referenceEmbedding(weights, tokens, {
        pooling: 'mean',
        normalize: false,
        padTo: 13,
        ignoreMaskInMean: true,
      });
      assert.ok(maxAbsDiff(unmasked, reference) > 1e-2);
      const cls = referenceEmbedding(weights, tokens, { pooling: 'cls', normalize: false });
      assert.ok(maxAbsDiff(row(short, 0), cls) > 1e-2, 'mean differs from CLS');
    },
  );
});

test('a text gives the same vector alone and padded in a batch (cls and mean, any batch size)', async () => {
  const texts = ['the cat', 'hello world , the dog runs on the mat !', 'a', 'unaffable cats', 'the mat'];
  for (const pooling of ['cls', 'mean'] as const) {
    const alone = await withEmbedder(await loadOnnxEmbedder(modelDir, { pooling }), async (embedder) =>
      Promise.all(texts.map((text) => embedder.embed([text]))),
    );
    for (const batchSize of [2, 32]) {
      const batched = await withEmbedder(
        await loadOnnxEmbedder(modelDir, { pooling, batchSize }),
        (embedder) => embedder.embed(texts),
      );
      alone.forEach((vector, i) =>
        assert.ok(maxAbsDiff(row(batched, i), vector) < 1e-6, `${pooling} batch ${batchSize} text ${i}`),
      );
    }
  }
});

test('the query prefix is applied to queries only', async () => {
  await withEmbedder(
    await loadOnnxEmbedder(modelDir, { pooling: 'cls', queryPrefix: 'query: ' }),
    async (embedder) => {
      const query = await embedder.embed(['cat'], { kind: 'query' });
      const document = await embedder.embed(['cat'], { kind: 'document' });
      const byDefault = await embedder.embed(['cat']);
      const withPrefix = referenceEmbedding(weights, ['[CLS]', 'query', ':', 'cat', '[SEP]'], {
        pooling: 'cls',
        normalize: true,
      });
      const without = referenceEmbedding(weights, ['[CLS]', 'cat', '[SEP]'], {
        pooling: 'cls',
        normalize: true,
      });
      assert.ok(maxAbsDiff(query, withPrefix) < TOLERANCE);
      assert.ok(maxAbsDiff(document, without) < TOLERANCE);
      assert.ok(maxAbsDiff(byDefault, without) < TOLERANCE);
      assert.ok(maxAbsDiff(query, document) > 1e-2);
    },
  );
});

test('a BGE folder defaults to CLS pooling, normalization and the BGE query instruction', async () => {
  const bgeDir = join(root, 'bge-tiny-en-v1.5');
  await writeTinyBert(bgeDir, weights);
  await withEmbedder(await loadOnnxEmbedder(bgeDir), async (embedder) => {
    assert.equal(embedder.id, 'onnx:bge-tiny-en-v1.5');
    const query = await embedder.embed(['the cat'], { kind: 'query' });
    const prefixTokens = BGE_QUERY_PREFIX.toLowerCase().replace(':', ' :').trim().split(/\s+/);
    const reference = referenceEmbedding(weights, ['[CLS]', ...prefixTokens, 'the', 'cat', '[SEP]'], {
      pooling: 'cls',
      normalize: true,
    });
    assert.ok(maxAbsDiff(query, reference) < TOLERANCE);
  });
});

test('1_Pooling/config.json chooses the pooling; token_type_ids is optional', async () => {
  const dir = join(root, 'mean-no-types');
  await writeTinyBert(dir, weights, {
    withTokenTypes: false,
    files: { '1_Pooling/config.json': { word_embedding_dimension: HIDDEN, pooling_mode_mean_tokens: true } },
  });
  await withEmbedder(
    await loadOnnxEmbedder(dir, { normalize: false, id: 'onnx:custom' }),
    async (embedder) => {
      assert.equal(embedder.id, 'onnx:custom');
      const vector = await embedder.embed(['a dog']);
      const reference = referenceEmbedding(weights, ['[CLS]', 'a', 'dog', '[SEP]'], {
        pooling: 'mean',
        normalize: false,
        withTokenTypes: false,
      });
      assert.ok(maxAbsDiff(vector, reference) < TOLERANCE);
    },
  );
});

test('a sentence_embedding output is used as is (then normalized)', async () => {
  const dir = join(root, 'sentence-embedding');
  await writeTinyBert(dir, weights);
  await writeFile(join(dir, 'model.onnx'), sentenceEmbeddingModel(weights));
  await withEmbedder(await loadOnnxEmbedder(dir), async (embedder) => {
    const vectors = await embedder.embed(['a dog runs', 'cat']);
    const ids = ['[CLS]', 'cat', '[SEP]'].map((token) => VOCAB.indexOf(token));
    const sum = Array.from({ length: HIDDEN }, (_, j) =>
      ids.reduce((total, id) => total + weights.wordEmbeddings[id * HIDDEN + j]!, 0),
    );
    const norm = Math.sqrt(sum.reduce((total, v) => total + v * v, 0));
    assert.ok(
      maxAbsDiff(
        row(vectors, 1),
        sum.map((v) => v / norm),
      ) < TOLERANCE,
    );
  });
});

test('texts are truncated to maxLength tokens', async () => {
  await withEmbedder(
    await loadOnnxEmbedder(modelDir, { pooling: 'mean', maxLength: 4 }),
    async (embedder) => {
      const vector = await embedder.embed(['the cat sat on the mat']);
      const reference = referenceEmbedding(weights, ['[CLS]', 'the', 'cat', '[SEP]'], {
        pooling: 'mean',
        normalize: true,
      });
      assert.ok(maxAbsDiff(vector, reference) < TOLERANCE);
    },
  );
});

test('bad input and missing files give EmbedErrors that name the problem', async () => {
  const embedder = await loadOnnxEmbedder(modelDir);
  await assert.rejects(embedder.embed([]), (error: unknown) => {
    assert.ok(error instanceof EmbedError);
    assert.equal(error.code, 'empty_input');
    assert.match(error.message, /empty/);
    return true;
  });
  await assert.rejects(embedder.embed([42 as unknown as string]), { code: 'invalid_input' });
  await embedder.dispose();
  await assert.rejects(embedder.embed(['cat']), { code: 'disposed' });

  await assert.rejects(loadOnnxEmbedder(join(root, 'nowhere')), (error: unknown) => {
    assert.ok(error instanceof EmbedError);
    assert.equal(error.code, 'file_unreadable');
    assert.match(error.message, /tokenizer\.json/);
    return true;
  });
  const noModel = join(root, 'no-model');
  await writeTinyBert(noModel, weights);
  await unlink(join(noModel, 'model.onnx'));
  await assert.rejects(loadOnnxEmbedder(noModel), { code: 'file_unreadable' });
  await assert.rejects(loadOnnxEmbedder(modelDir, { batchSize: 0 }), { code: 'invalid_input' });
});
