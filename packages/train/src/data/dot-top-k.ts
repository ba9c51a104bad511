// The one dense kernel of neighbour mining: for a block of queries and a block of documents, the top-m documents of
// each query by dot product (plus an optional per-document bias), as one onnxruntime graph, Gemm then TopK, on all
// CPU cores (MLAS), so the [queries, documents] score block never reaches JavaScript.
import { buildModel, createSession, type Session } from '@steer/onnx';

/** Top-m of a block: `values` // [queries, m] scores, best first, and `indices` // [queries, m] document rows. */
export interface TopKBlock {
  values: Float32Array;
  indices: Int32Array;
  m: number;
}

/** A reusable scorer; `dispose` frees its native session. */
export interface DotTopK {
  /**
   * Scores `queries` // [nq, dims] against `docs` // [nd, dims] as q . d + bias[d] (bias // [nd], default 0) and keeps
   * the min(m, nd) best documents of each query.
   */
  run(queries: Float32Array, docs: Float32Array, m: number, bias?: Float32Array): Promise<TopKBlock>;
  dispose(): Promise<void>;
}

/** Options of {@link createDotTopK}. */
export interface DotTopKOptions {
  /** CPU threads for one block (default: onnxruntime's, all cores). */
  threads?: number;
}

/** Builds the Gemm + TopK session for vectors of `dims` values. @throws OnnxError when onnxruntime cannot load it. */
export async function createDotTopK(dims: number, options: DotTopKOptions = {}): Promise<DotTopK> {
  const model = buildModel({
    name: 'steer_dot_top_k',
    inputs: [
      { name: 'queries', type: 'float32', shape: ['nq', dims] },
      { name: 'docs', type: 'float32', shape: ['nd', dims] },
      { name: 'bias', type: 'float32', shape: ['nd'] },
      { name: 'm', type: 'int64', shape: [1] },
    ],
    outputs: [
      { name: 'values', type: 'float32', shape: ['nq', 'm'] },
      { name: 'indices', type: 'int64', shape: ['nq', 'm'] },
    ],
    nodes: [
      { op: 'Gemm', inputs: ['queries', 'docs', 'bias'], outputs: ['scores'], attributes: { transB: 1 } },
      {
        op: 'TopK',
        inputs: ['scores', 'm'],
        outputs: ['values', 'indices'],
        attributes: { axis: -1, largest: 1, sorted: 1 },
      },
    ],
  });
  // NOTE: no spinning: between blocks the main thread merges results, and spinning pool threads would take its core.
  const session: Session = await createSession(model, {
    ...(options.threads !== undefined ? { intraOpThreads: options.threads } : {}),
    allowSpinning: false,
  });
  let zeros = new Float32Array(0);
  return {
    async run(queries, docs, m, bias) {
      const nq = queries.length / dims;
      const nd = docs.length / dims;
      const take = Math.min(m, nd);
      if (bias === undefined) {
        if (zeros.length < nd) zeros = new Float32Array(nd);
        bias = zeros.subarray(0, nd);
      }
      const out = await session.run({
        queries: { type: 'float32', data: queries, dims: [nq, dims] },
        docs: { type: 'float32', data: docs, dims: [nd, dims] },
        bias: { type: 'float32', data: bias, dims: [nd] },
        m: { type: 'int64', data: new BigInt64Array([BigInt(take)]), dims: [1] },
      });
      const wide = out.indices!.data as BigInt64Array;
      const indices = new Int32Array(wide.length);
      for (let i = 0; i < wide.length; i++) indices[i] = Number(wide[i]!);
      return { values: out.values!.data as Float32Array, indices, m: take };
    },
    dispose: () => session.dispose(),
  };
}
