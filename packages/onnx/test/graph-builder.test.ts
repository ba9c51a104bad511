// Tests of the in-memory ONNX graph builder: models it builds run in onnxruntime and match a JS
// reference; malformed graphs are refused with invalid_graph.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mulberry32 } from '@steer/core';
import { buildModel, createSession, OnnxError, type GraphSpec } from '../src/index.js';

// Relative tolerance of float comparisons against the float64 reference (float32 accumulation error).
const TOLERANCE = 1e-5;

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]!));
    assert.ok(
      Math.abs(actual[i]! - expected[i]!) <= TOLERANCE * scale,
      `element ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

function seeded(seed: number): () => number {
  const uniform = mulberry32(seed);
  return () => uniform() - 0.5;
}

/** y = Relu(alpha * x W^T + b) for x [batch, d], W [n, d]. */
function gemmReluReference(
  x: Float32Array,
  W: Float32Array,
  b: Float32Array,
  d: number,
  n: number,
  alpha: number,
): number[] {
  const batch = x.length / d;
  const out: number[] = [];
  for (let row = 0; row < batch; row++) {
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let j = 0; j < d; j++) sum += x[row * d + j]! * W[i * d + j]!;
      out.push(Math.max(0, alpha * sum + b[i]!));
    }
  }
  return out;
}

const d = 6;
const n = 5;
const random = seeded(42);
const W = Float32Array.from({ length: n * d }, random);
const b = Float32Array.from({ length: n }, random);
const x = Float32Array.from({ length: 3 * d }, random);

function gemmSpec(weights: GraphSpec['initializers']): GraphSpec {
  return {
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', d] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', n] }],
    initializers: weights,
    nodes: [
      { op: 'Gemm', inputs: ['x', 'W', 'b'], outputs: ['pre'], attributes: { transB: 1, alpha: 2 } },
      { op: 'Relu', inputs: ['pre'], outputs: ['y'] },
    ],
  };
}

describe('buildModel', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'steer-onnx-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('builds a Gemm + Relu graph with inline weights that matches a JS reference', async () => {
    const model = buildModel(
      gemmSpec([
        { name: 'W', type: 'float32', dims: [n, d], data: W },
        { name: 'b', type: 'float32', dims: [n], data: b },
      ]),
    );
    const session = await createSession(model);
    try {
      assert.deepEqual(session.inputNames, ['x']);
      assert.deepEqual(session.outputNames, ['y']);
      const { y } = await session.run({ x: { type: 'float32', data: x, dims: [3, d] } });
      assert.deepEqual(y!.dims, [3, n]);
      assert.equal(y!.type, 'float32');
      // alpha = 2 must be encoded as a FLOAT attribute; an INT would make onnxruntime refuse the model.
      assertClose(y!.data as Float32Array, gemmReluReference(x, W, b, d, n, 2));
    } finally {
      await session.dispose();
    }
  });

  it('reads external data at a byte offset inside another file, relative to the model folder', async () => {
    const padding = new Uint8Array(20);
    const weights = Buffer.concat([
      padding,
      Buffer.from(W.buffer, W.byteOffset, W.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ]);
    await writeFile(join(dir, 'weights.bin'), weights);
    const model = buildModel(
      gemmSpec([
        {
          name: 'W',
          type: 'float32',
          dims: [n, d],
          external: { location: 'weights.bin', offset: 20, length: W.byteLength },
        },
        {
          name: 'b',
          type: 'float32',
          dims: [n],
          external: { location: 'weights.bin', offset: 20 + W.byteLength, length: b.byteLength },
        },
      ]),
    );
    const path = join(dir, 'gemm.onnx');
    await writeFile(path, model);
    const session = await createSession(path);
    try {
      const { y } = await session.run({ x: { type: 'float32', data: x, dims: [3, d] } });
      assertClose(y!.data as Float32Array, gemmReluReference(x, W, b, d, n, 2));
    } finally {
      await session.dispose();
    }
  });

  it('holds int8 constants inline and as external data (Cast to float32 gives the same values back)', async () => {
    const values = Int8Array.from([-128, -1, 0, 1, 7, 127]);
    await writeFile(join(dir, 'int8.bin'), Buffer.concat([Buffer.alloc(3), Buffer.from(values.buffer)]));
    const spec = (q: GraphSpec['initializers']): GraphSpec => ({
      inputs: [{ name: 'x', type: 'float32', shape: [2, 3] }],
      outputs: [{ name: 'y', type: 'float32', shape: [2, 3] }],
      nodes: [
        { op: 'Cast', inputs: ['q'], outputs: ['qf'], attributes: { to: 1 } },
        { op: 'Add', inputs: ['x', 'qf'], outputs: ['y'] },
      ],
      initializers: q,
    });
    const x = new Float32Array(6).fill(0.5);
    const inline = buildModel(spec([{ name: 'q', type: 'int8', dims: [2, 3], data: values }]));
    const path = join(dir, 'int8.onnx');
    await writeFile(
      path,
      buildModel(
        spec([
          { name: 'q', type: 'int8', dims: [2, 3], external: { location: 'int8.bin', offset: 3, length: 6 } },
        ]),
      ),
    );
    for (const model of [inline, path]) {
      const session = await createSession(model);
      try {
        const { y } = await session.run({ x: { type: 'float32', data: x, dims: [2, 3] } });
        assert.deepEqual(
          [...(y!.data as Float32Array)],
          [...values].map((v) => v + 0.5),
        );
      } finally {
        await session.dispose();
      }
    }
  });

  it('carries int64, int32 and bool tensors, ints attributes and TopK through a graph', async () => {
    const model = buildModel({
      inputs: [
        { name: 'values', type: 'float32', shape: [2, 4] },
        { name: 'flags', type: 'bool', shape: [3] },
        { name: 'counts', type: 'int32', shape: [2] },
      ],
      outputs: [
        { name: 'top', type: 'float32', shape: [2, 2] },
        { name: 'where', type: 'int64', shape: [2, 2] },
        { name: 'not_flags', type: 'bool', shape: [3] },
        { name: 'counts_twice', type: 'int32', shape: [2] },
        { name: 'sum', type: 'float32', shape: [2, 1] },
      ],
      initializers: [
        { name: 'k', type: 'int64', dims: [1], data: new BigInt64Array([2n]) },
        { name: 'two', type: 'int32', dims: [], data: new Int32Array([2]) },
      ],
      nodes: [
        { op: 'TopK', inputs: ['values', 'k'], outputs: ['top', 'where'], attributes: { axis: -1 } },
        { op: 'Not', inputs: ['flags'], outputs: ['not_flags'] },
        { op: 'Mul', inputs: ['counts', 'two'], outputs: ['counts_twice'] },
        {
          op: 'ReduceSum',
          inputs: ['values'],
          outputs: ['sum'],
          attributes: { axes: { ints: [1] }, keepdims: 1 },
        },
      ],
      opset: 12,
    });
    const session = await createSession(model);
    try {
      const out = await session.run({
        values: { type: 'float32', data: new Float32Array([1, 5, 3, 4, 9, -1, 0, 8]), dims: [2, 4] },
        flags: { type: 'bool', data: new Uint8Array([1, 0, 1]), dims: [3] },
        counts: { type: 'int32', data: new Int32Array([3, -7]), dims: [2] },
      });
      assert.deepEqual([...(out.top!.data as Float32Array)], [5, 4, 9, 8]);
      assert.deepEqual([...(out.where!.data as BigInt64Array)], [1n, 3n, 0n, 3n]);
      assert.equal(out.where!.type, 'int64');
      assert.deepEqual([...(out.not_flags!.data as Uint8Array)], [0, 1, 0]);
      assert.equal(out.not_flags!.type, 'bool');
      assert.deepEqual([...(out.counts_twice!.data as Int32Array)], [6, -14]);
      assert.deepEqual([...(out.sum!.data as Float32Array)], [13, 16]);
      const only = await session.run(
        {
          values: { type: 'float32', data: new Float32Array(8), dims: [2, 4] },
          flags: { type: 'bool', data: new Uint8Array(3), dims: [3] },
          counts: { type: 'int32', data: new Int32Array(2), dims: [2] },
        },
        ['counts_twice'],
      );
      assert.deepEqual(Object.keys(only), ['counts_twice']);
    } finally {
      await session.dispose();
    }
  });

  it('refuses a node that reads an undefined tensor, naming it', () => {
    assert.throws(
      () =>
        buildModel({
          inputs: [{ name: 'x', type: 'float32', shape: [1] }],
          outputs: [{ name: 'y', type: 'float32', shape: [1] }],
          nodes: [{ op: 'Add', inputs: ['x', 'missing'], outputs: ['y'] }],
        }),
      (error: unknown) =>
        error instanceof OnnxError && error.code === 'invalid_graph' && /"missing"/.test(error.message),
    );
  });

  it('refuses a graph output that no node produces', () => {
    assert.throws(
      () =>
        buildModel({
          inputs: [{ name: 'x', type: 'float32', shape: [1] }],
          outputs: [{ name: 'z', type: 'float32', shape: [1] }],
          nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
        }),
      (error: unknown) =>
        error instanceof OnnxError && error.code === 'invalid_graph' && /"z"/.test(error.message),
    );
  });

  it('refuses initializers whose data or external length disagrees with dims', () => {
    const spec = (init: NonNullable<GraphSpec['initializers']>[number]): GraphSpec => ({
      inputs: [{ name: 'x', type: 'float32', shape: [2] }],
      outputs: [{ name: 'y', type: 'float32', shape: [2] }],
      initializers: [init],
      nodes: [{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }],
    });
    for (const init of [
      { name: 'w', type: 'float32' as const, dims: [2], data: new Float32Array(3) },
      {
        name: 'w',
        type: 'float32' as const,
        dims: [2],
        external: { location: 'w.bin', offset: 0, length: 4 },
      },
      { name: 'w', type: 'float32' as const, dims: [2] },
    ]) {
      assert.throws(
        () => buildModel(spec(init)),
        (error: unknown) => error instanceof OnnxError && error.code === 'invalid_graph',
      );
    }
  });
});
