// Builds a tiny BERT-like sentence encoder (embedding lookup, LayerNorm, one masked self-attention head,
// masked mean pooling, L2 normalization) with buildModel and checks onnxruntime against a JS reference.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '@steer/core';
import { buildModel, createSession } from '../src/index.js';

// Relative tolerance against the float64 reference (float32 arithmetic in onnxruntime).
const TOLERANCE = 1e-5;

function seeded(seed: number): () => number {
  const uniform = mulberry32(seed);
  return () => uniform() - 0.5;
}

const vocab = 11;
const hidden = 8;
const random = seeded(7);
const embeddings = Float32Array.from({ length: vocab * hidden }, random);
const gamma = Float32Array.from({ length: hidden }, () => 1 + random());
const beta = Float32Array.from({ length: hidden }, random);
const Wq = Float32Array.from({ length: hidden * hidden }, random);
const Wk = Float32Array.from({ length: hidden * hidden }, random);
const epsilon = 1e-5;

/** One sequence through the same computation, in float64. */
function reference(ids: number[], mask: number[]): number[] {
  const seq = ids.length;
  const ln = ids.map((id) => {
    const x = Array.from(embeddings.subarray(id * hidden, (id + 1) * hidden));
    const mean = x.reduce((a, b) => a + b, 0) / hidden;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / hidden;
    return x.map((v, j) => ((v - mean) / Math.sqrt(variance + epsilon)) * gamma[j]! + beta[j]!);
  });
  const project = (W: Float32Array) =>
    ln.map((row) =>
      Array.from({ length: hidden }, (_, c) => row.reduce((sum, v, r) => sum + v * W[r * hidden + c]!, 0)),
    );
  const q = project(Wq);
  const k = project(Wk);
  const scale = 1 / Math.sqrt(hidden);
  const context = q.map((qi) => {
    const scores = k.map(
      (kj, j) => qi.reduce((s, v, c) => s + v * kj[c]!, 0) * scale + (1 - mask[j]!) * -10000,
    );
    const max = Math.max(...scores);
    const exp = scores.map((s) => Math.exp(s - max));
    const total = exp.reduce((a, b) => a + b, 0);
    return Array.from({ length: hidden }, (_, c) => exp.reduce((s, e, j) => s + (e / total) * ln[j]![c]!, 0));
  });
  const count = mask.reduce((a, b) => a + b, 0);
  const pooled = Array.from({ length: hidden }, (_, c) => {
    let sum = 0;
    for (let i = 0; i < seq; i++) sum += context[i]![c]! * mask[i]!;
    return sum / count;
  });
  const norm = Math.sqrt(pooled.reduce((a, b) => a + b * b, 0));
  return pooled.map((v) => v / norm);
}

const model = buildModel({
  name: 'tiny_encoder',
  inputs: [
    { name: 'input_ids', type: 'int64', shape: ['batch', 'seq'] },
    { name: 'attention_mask', type: 'int64', shape: ['batch', 'seq'] },
  ],
  outputs: [{ name: 'sentence_embedding', type: 'float32', shape: ['batch', hidden] }],
  initializers: [
    { name: 'embeddings', type: 'float32', dims: [vocab, hidden], data: embeddings },
    { name: 'gamma', type: 'float32', dims: [hidden], data: gamma },
    { name: 'beta', type: 'float32', dims: [hidden], data: beta },
    { name: 'Wq', type: 'float32', dims: [hidden, hidden], data: Wq },
    { name: 'Wk', type: 'float32', dims: [hidden, hidden], data: Wk },
    { name: 'scale', type: 'float32', dims: [], data: new Float32Array([1 / Math.sqrt(hidden)]) },
    { name: 'one', type: 'float32', dims: [], data: new Float32Array([1]) },
    { name: 'big_negative', type: 'float32', dims: [], data: new Float32Array([-10000]) },
    { name: 'axis1', type: 'int64', dims: [1], data: new BigInt64Array([1n]) },
    { name: 'axis2', type: 'int64', dims: [1], data: new BigInt64Array([2n]) },
  ],
  nodes: [
    { op: 'Gather', inputs: ['embeddings', 'input_ids'], outputs: ['tokens'], attributes: { axis: 0 } },
    {
      op: 'LayerNormalization',
      inputs: ['tokens', 'gamma', 'beta'],
      outputs: ['ln'],
      attributes: { axis: -1, epsilon },
    },
    { op: 'MatMul', inputs: ['ln', 'Wq'], outputs: ['q'] },
    { op: 'MatMul', inputs: ['ln', 'Wk'], outputs: ['k'] },
    { op: 'Transpose', inputs: ['k'], outputs: ['kT'], attributes: { perm: [0, 2, 1] } },
    { op: 'MatMul', inputs: ['q', 'kT'], outputs: ['raw_scores'] },
    { op: 'Mul', inputs: ['raw_scores', 'scale'], outputs: ['scaled_scores'] },
    { op: 'Cast', inputs: ['attention_mask'], outputs: ['mask'], attributes: { to: 1 } },
    { op: 'Sub', inputs: ['one', 'mask'], outputs: ['inverted_mask'] },
    { op: 'Mul', inputs: ['inverted_mask', 'big_negative'], outputs: ['mask_bias'] },
    { op: 'Unsqueeze', inputs: ['mask_bias', 'axis1'], outputs: ['mask_bias_3d'] },
    { op: 'Add', inputs: ['scaled_scores', 'mask_bias_3d'], outputs: ['scores'] },
    { op: 'Softmax', inputs: ['scores'], outputs: ['attention'], attributes: { axis: -1 } },
    { op: 'MatMul', inputs: ['attention', 'ln'], outputs: ['context'] },
    { op: 'Unsqueeze', inputs: ['mask', 'axis2'], outputs: ['mask_3d'] },
    { op: 'Mul', inputs: ['context', 'mask_3d'], outputs: ['masked_context'] },
    {
      op: 'ReduceSum',
      inputs: ['masked_context', 'axis1'],
      outputs: ['summed'],
      attributes: { keepdims: 0 },
    },
    { op: 'ReduceSum', inputs: ['mask_3d', 'axis1'], outputs: ['counts'], attributes: { keepdims: 0 } },
    { op: 'Div', inputs: ['summed', 'counts'], outputs: ['pooled'] },
    {
      op: 'LpNormalization',
      inputs: ['pooled'],
      outputs: ['sentence_embedding'],
      attributes: { axis: -1, p: 2 },
    },
  ],
});

describe('tiny BERT-like encoder built with buildModel', () => {
  it('matches the float64 reference on a padded batch', async () => {
    const sentences = [
      { ids: [1, 5, 9, 2, 0, 0], mask: [1, 1, 1, 1, 0, 0] },
      { ids: [1, 3, 3, 7, 10, 2], mask: [1, 1, 1, 1, 1, 1] },
    ];
    const seq = 6;
    const session = await createSession(model);
    try {
      const { sentence_embedding: out } = await session.run({
        input_ids: {
          type: 'int64',
          data: BigInt64Array.from(sentences.flatMap((s) => s.ids.map(BigInt))),
          dims: [2, seq],
        },
        attention_mask: {
          type: 'int64',
          data: BigInt64Array.from(sentences.flatMap((s) => s.mask.map(BigInt))),
          dims: [2, seq],
        },
      });
      assert.deepEqual(out!.dims, [2, hidden]);
      const data = out!.data as Float32Array;
      sentences.forEach((sentence, row) => {
        const expected = reference(sentence.ids, sentence.mask);
        for (let c = 0; c < hidden; c++) {
          const actual = data[row * hidden + c]!;
          assert.ok(
            Math.abs(actual - expected[c]!) <= TOLERANCE * Math.max(1, Math.abs(expected[c]!)),
            `row ${row} dim ${c}: ${actual} vs ${expected[c]}`,
          );
        }
      });
    } finally {
      await session.dispose();
    }
  });
});
