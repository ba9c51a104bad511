// Test fixture: a tiny BERT-shaped ONNX model (token + type embeddings, masked context mixing, one tanh layer)
// with a WordPiece tokenizer.json, written to a folder, plus an independent float64 reference of its embedding.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mulberry32 } from '@steer/core';
import { buildModel } from '@steer/onnx';

export const HIDDEN = 8;

/** The fixture vocabulary: specials first, then words and continuation pieces. */
export const VOCAB = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  'the',
  'cat',
  'sat',
  'on',
  'mat',
  'a',
  'dog',
  'runs',
  'un',
  '##aff',
  '##able',
  'query',
  ':',
  ',',
  '!',
  '.',
  'hello',
  'world',
  '##s',
  'resume',
  'represent',
  'this',
  'sentence',
  'for',
  'searching',
  'relevant',
  'passages',
  '中',
  '国',
  'cafe',
];

/** A deterministic pseudo-random generator (mulberry32) giving values in [-1, 1). */
export function seededRandom(seed: number): () => number {
  const uniform = mulberry32(seed);
  return () => uniform() * 2 - 1;
}

export interface TinyBertWeights {
  wordEmbeddings: Float32Array; // [vocab, HIDDEN]
  typeEmbeddings: Float32Array; // [2, HIDDEN]
  weight: Float32Array; // [HIDDEN, HIDDEN]
  bias: Float32Array; // [HIDDEN]
}

export function makeWeights(seed = 7): TinyBertWeights {
  const random = seededRandom(seed);
  const fill = (n: number): Float32Array => Float32Array.from({ length: n }, () => random());
  return {
    wordEmbeddings: fill(VOCAB.length * HIDDEN),
    typeEmbeddings: fill(2 * HIDDEN),
    weight: fill(HIDDEN * HIDDEN),
    bias: fill(HIDDEN),
  };
}

/** tokenizer.json in Hugging Face format for {@link VOCAB} (BertNormalizer, BertPreTokenizer, [CLS] $A [SEP]). */
export function tokenizerJson(options: { maxLength?: number; stripAccents?: boolean | null } = {}): object {
  const ids = (token: string): number => VOCAB.indexOf(token);
  return {
    version: '1.0',
    truncation:
      options.maxLength === undefined ? null : { direction: 'Right', max_length: options.maxLength },
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((content) => ({
      id: ids(content),
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: options.stripAccents ?? null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [ids('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [ids('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(VOCAB.map((token, id) => [token, id])),
    },
  };
}

/** Serializes the tiny BERT graph: last_hidden_state = tanh((h0 + maskedMean(h0)) W + b), h0 = word + type embeddings. */
export function tinyBertModel(
  weights: TinyBertWeights,
  options: { withTokenTypes?: boolean } = {},
): Uint8Array {
  const withTypes = options.withTokenTypes ?? true;
  const batchSeq = ['batch', 'seq'];
  return buildModel({
    name: 'tiny-bert',
    inputs: [
      { name: 'input_ids', type: 'int64', shape: batchSeq },
      { name: 'attention_mask', type: 'int64', shape: batchSeq },
      ...(withTypes ? [{ name: 'token_type_ids', type: 'int64' as const, shape: batchSeq }] : []),
    ],
    outputs: [{ name: 'last_hidden_state', type: 'float32', shape: ['batch', 'seq', HIDDEN] }],
    initializers: [
      {
        name: 'word_embeddings',
        type: 'float32',
        dims: [VOCAB.length, HIDDEN],
        data: weights.wordEmbeddings,
      },
      { name: 'type_embeddings', type: 'float32', dims: [2, HIDDEN], data: weights.typeEmbeddings },
      { name: 'weight', type: 'float32', dims: [HIDDEN, HIDDEN], data: weights.weight },
      { name: 'bias', type: 'float32', dims: [HIDDEN], data: weights.bias },
      { name: 'axis_last', type: 'int64', dims: [1], data: BigInt64Array.from([-1n]) },
      { name: 'axis_seq', type: 'int64', dims: [1], data: BigInt64Array.from([1n]) },
    ],
    nodes: [
      { op: 'Gather', inputs: ['word_embeddings', 'input_ids'], outputs: ['word'] },
      ...(withTypes
        ? [
            { op: 'Gather', inputs: ['type_embeddings', 'token_type_ids'], outputs: ['type'] },
            { op: 'Add', inputs: ['word', 'type'], outputs: ['h0'] },
          ]
        : [{ op: 'Identity', inputs: ['word'], outputs: ['h0'] }]),
      { op: 'Cast', inputs: ['attention_mask'], outputs: ['mask'], attributes: { to: 1 } },
      { op: 'Unsqueeze', inputs: ['mask', 'axis_last'], outputs: ['mask3'] },
      { op: 'Mul', inputs: ['h0', 'mask3'], outputs: ['masked'] },
      { op: 'ReduceSum', inputs: ['masked', 'axis_seq'], outputs: ['sum'], attributes: { keepdims: 1 } },
      { op: 'ReduceSum', inputs: ['mask3', 'axis_seq'], outputs: ['count'], attributes: { keepdims: 1 } },
      { op: 'Div', inputs: ['sum', 'count'], outputs: ['context'] },
      { op: 'Add', inputs: ['h0', 'context'], outputs: ['h1'] },
      { op: 'MatMul', inputs: ['h1', 'weight'], outputs: ['h2'] },
      { op: 'Add', inputs: ['h2', 'bias'], outputs: ['h3'] },
      { op: 'Tanh', inputs: ['h3'], outputs: ['last_hidden_state'] },
    ],
  });
}

/** Writes model.onnx + tokenizer.json (+ extra JSON files by relative path) into `dir`. */
export async function writeTinyBert(
  dir: string,
  weights: TinyBertWeights,
  options: { maxLength?: number; withTokenTypes?: boolean; files?: Record<string, object> } = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.onnx'), tinyBertModel(weights, options));
  await writeFile(
    join(dir, 'tokenizer.json'),
    JSON.stringify(tokenizerJson({ maxLength: options.maxLength })),
  );
  for (const [name, content] of Object.entries(options.files ?? {})) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), JSON.stringify(content));
  }
}

/**
 * Independent float64 reference: hidden states of one unpadded sequence of vocabulary tokens, pooled.
 * `padTo` appends [PAD] positions that the mask excludes, and `ignoreMaskInMean` averages them in anyway
 * (the bug the tests guard against).
 */
export function referenceEmbedding(
  weights: TinyBertWeights,
  tokens: string[],
  options: {
    pooling: 'cls' | 'mean';
    normalize: boolean;
    withTokenTypes?: boolean;
    padTo?: number;
    ignoreMaskInMean?: boolean;
  },
): number[] {
  const ids = tokens.map((token) => {
    const id = VOCAB.indexOf(token);
    if (id < 0) throw new Error(`reference: token ${token} is not in the fixture vocabulary`);
    return id;
  });
  const h0 = ids.map((id) =>
    Array.from({ length: HIDDEN }, (_, j) => {
      const word = weights.wordEmbeddings[id * HIDDEN + j]!;
      return options.withTokenTypes === false ? word : word + weights.typeEmbeddings[j]!; // type id 0
    }),
  );
  const context = Array.from(
    { length: HIDDEN },
    (_, j) => h0.reduce((sum, row) => sum + row[j]!, 0) / h0.length,
  );
  const layer = (row: number[]): number[] =>
    Array.from({ length: HIDDEN }, (_, k) => {
      let sum = weights.bias[k]!;
      for (let j = 0; j < HIDDEN; j++) sum += (row[j]! + context[j]!) * weights.weight[j * HIDDEN + k]!;
      return Math.tanh(sum);
    });
  const hidden = h0.map(layer);
  if (options.ignoreMaskInMean && options.padTo !== undefined) {
    const pad = Array.from(
      { length: HIDDEN },
      (_, j) => weights.wordEmbeddings[j]! + weights.typeEmbeddings[j]!,
    );
    while (hidden.length < options.padTo) hidden.push(layer(pad));
  }
  let pooled =
    options.pooling === 'cls'
      ? hidden[0]!
      : Array.from(
          { length: HIDDEN },
          (_, j) => hidden.reduce((sum, row) => sum + row[j]!, 0) / hidden.length,
        );
  if (options.normalize) {
    const norm = Math.sqrt(pooled.reduce((sum, v) => sum + v * v, 0));
    pooled = pooled.map((v) => v / norm);
  }
  return pooled;
}

/** Largest absolute difference between two equal-length vectors. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths ${a.length} and ${b.length} differ`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** A model whose only output is `sentence_embedding` [b, HIDDEN] = sum of the word embeddings of real tokens. */
export function sentenceEmbeddingModel(weights: TinyBertWeights): Uint8Array {
  const batchSeq = ['batch', 'seq'];
  return buildModel({
    inputs: [
      { name: 'input_ids', type: 'int64', shape: batchSeq },
      { name: 'attention_mask', type: 'int64', shape: batchSeq },
    ],
    outputs: [{ name: 'sentence_embedding', type: 'float32', shape: ['batch', HIDDEN] }],
    initializers: [
      {
        name: 'word_embeddings',
        type: 'float32',
        dims: [VOCAB.length, HIDDEN],
        data: weights.wordEmbeddings,
      },
      { name: 'axis_last', type: 'int64', dims: [1], data: BigInt64Array.from([-1n]) },
      { name: 'axis_seq', type: 'int64', dims: [1], data: BigInt64Array.from([1n]) },
    ],
    nodes: [
      { op: 'Gather', inputs: ['word_embeddings', 'input_ids'], outputs: ['word'] },
      { op: 'Cast', inputs: ['attention_mask'], outputs: ['mask'], attributes: { to: 1 } },
      { op: 'Unsqueeze', inputs: ['mask', 'axis_last'], outputs: ['mask3'] },
      { op: 'Mul', inputs: ['word', 'mask3'], outputs: ['masked'] },
      {
        op: 'ReduceSum',
        inputs: ['masked', 'axis_seq'],
        outputs: ['sentence_embedding'],
        attributes: { keepdims: 0 },
      },
    ],
  });
}
