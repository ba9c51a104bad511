// The dense part of concept search: one int8 onnxruntime MatMul over all features picks candidates, then the
// candidates are rescored from int8 copies of the encoder rows, unit decoder directions and top-document
// profiles. The index can be saved beside the catalog and loaded in a fraction of the time it takes to build.
import { availableParallelism } from 'node:os';
import type * as Onnx from '@steer/onnx';
import type { Session } from '@steer/onnx';
import type { SaeWeights } from '@steer/sae';
import { roundToInt, type QuantizedRows } from './storage.js';

/**
 * @steer/onnx, imported on first use. NOTE: it loads onnxruntime's native library (~25 ms at a language server's
 * start); opening a catalog for labels, aliases and hover never needs it, only the concept scan does.
 */
function onnx(): Promise<typeof Onnx> {
  return import('@steer/onnx');
}

/** Dense scores of one concept vector for a few features. */
export interface DenseScores {
  /** Candidate feature ids, in no particular order. */
  features: Int32Array;
  /** SAE activation of the concept (0 when the feature is not in the concept's top k). [features.length] */
  activation: Float32Array;
  /** Cosine between the concept vector and the feature's decoder direction. [features.length] */
  cosine: Float32Array;
  /**
   * Top-document similarity: the concept vector (scaled to unit length) dotted with the feature's top-document
   * profile (see featureCentroids); 0 when the index has no profiles. [features.length]
   */
  documents: Float32Array;
}

/** Options of {@link ConceptIndex.build}. */
export interface ConceptIndexOptions {
  /** Features rescored after the scan (default 1024); when it is at least nLatents every feature is rescored and no scan is built. */
  candidates?: number;
  /**
   * onnxruntime threads for the scan. Default: half the cores, 1 to 4 (the scan is memory-bound; leaving cores
   * free keeps latency steady while the editor works).
   */
  intraOpThreads?: number;
}

/** The arrays of an index, as built or as read from a file. */
export interface ConceptIndexArrays {
  nLatents: number;
  dModel: number;
  k: number;
  /** The int8 scan matrix [dModel, nLatents] with a scale and a bias per feature; absent when every feature is rescored. */
  scan?: { q: Int8Array; scale: Float32Array; bias: Float32Array };
  encoderRows: QuantizedRows; // [nLatents, dModel]
  /** b_enc[j] - W_enc[j]·b_dec. [nLatents] */
  encoderBias: Float32Array;
  /** Unit decoder directions. [nLatents, dModel] */
  decoderRows: QuantizedRows;
  /** Norms of the decoder columns. [nLatents] */
  decoderNorm: Float32Array;
  /** Top-document profiles. [nLatents, dModel] */
  profileRows?: QuantizedRows;
}

function quantizeRow(
  source: Float32Array,
  offset: number,
  dims: number,
  into: QuantizedRows,
  row: number,
): void {
  let maxAbs = 0;
  for (let i = 0; i < dims; i++) maxAbs = Math.max(maxAbs, Math.abs(source[offset + i]!));
  into.scale[row] = maxAbs > 0 ? maxAbs / 127 : 1;
  const base = row * dims;
  const inverse = maxAbs > 0 ? 127 / maxAbs : 0;
  for (let i = 0; i < dims; i++) into.q[base + i] = roundToInt(source[offset + i]! * inverse);
}

export function dotQuantized(rows: QuantizedRows, row: number, x: Float32Array, dims: number): number {
  // NOTE: four accumulators and local array references let V8 pipeline the loop (about 8x faster than one).
  const q = rows.q;
  const base = row * dims;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < dims; i += 4) {
    s0 += q[base + i]! * x[i]!;
    s1 += q[base + i + 1]! * x[i + 1]!;
    s2 += q[base + i + 2]! * x[i + 2]!;
    s3 += q[base + i + 3]! * x[i + 3]!;
  }
  for (; i < dims; i++) s0 += q[base + i]! * x[i]!;
  return (s0 + s1 + s2 + s3) * rows.scale[row]!;
}

/** Indices of the `count` largest values of `scores` (unordered); O(n) on average. */
export function topIndices(scores: Float32Array, count: number): Int32Array {
  const n = scores.length;
  if (count >= n) return Int32Array.from({ length: n }, (_, i) => i);
  // Threshold by sampling, then keep everything above it, then trim exactly.
  const sample = new Float32Array(Math.min(n, 4096));
  const step = n / sample.length;
  for (let i = 0; i < sample.length; i++) sample[i] = scores[Math.floor(i * step)]!;
  sample.sort();
  const wanted = Math.min(
    sample.length - 1,
    Math.max(0, Math.floor(sample.length * (1 - (2 * count) / n)) - 1),
  );
  let threshold = sample[wanted]!;
  for (;;) {
    const picked: number[] = [];
    for (let i = 0; i < n; i++) if (scores[i]! >= threshold) picked.push(i);
    if (picked.length >= count || threshold === -Infinity) {
      picked.sort((a, b) => scores[b]! - scores[a]!);
      return Int32Array.from(picked.slice(0, count));
    }
    threshold = -Infinity;
  }
}

/** The scan as an ONNX model whose int8 matrix is inline, or external data at `offset` of the file `location`. */
export async function scanModel(
  arrays: ConceptIndexArrays,
  matrix: { data: Int8Array } | { location: string; offset: number },
): Promise<Uint8Array> {
  const { dModel: d, nLatents: n, scan } = arrays;
  if (!scan) throw new RangeError('catalog: this concept index has no scan (every feature is rescored)');
  const { buildModel } = await onnx();
  return buildModel({
    name: 'steer-concept-scan',
    inputs: [{ name: 'x', type: 'float32', shape: [1, d] }],
    outputs: [{ name: 'scores', type: 'float32', shape: [1, n] }],
    nodes: [
      {
        op: 'DynamicQuantizeMatMul',
        domain: 'com.microsoft',
        inputs: ['x', 'scan_i8', 'scan_scale', '', 'scan_bias'],
        outputs: ['scores'],
      },
    ],
    initializers: [
      'data' in matrix
        ? { name: 'scan_i8', type: 'int8', dims: [d, n], data: matrix.data }
        : {
            name: 'scan_i8',
            type: 'int8',
            dims: [d, n],
            external: { location: matrix.location, offset: matrix.offset, length: d * n },
          },
      { name: 'scan_scale', type: 'float32', dims: [n], data: scan.scale },
      { name: 'scan_bias', type: 'float32', dims: [n], data: scan.bias },
    ],
  });
}

/** Threads of the scan session: the option, else half the cores (1 to 4). */
export function scanThreads(options: ConceptIndexOptions): number {
  return options.intraOpThreads ?? Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));
}

/**
 * A concept index over an SAE: the MatMul scans every feature with the linear score
 * `(W_enc[j]·(x - b_dec) + b_enc[j]) / |W_enc[j]| + d̂_j·x + α p_j·x` (encoder pre-activation per unit row
 * norm, cosine with the unit decoder direction d̂_j, and the top-document profile p_j scaled by α so that its
 * 95th-percentile norm is 1), stored as int8 with one scale per feature, and the best `candidates` features are
 * rescored. Memory: about 3 bytes per weight of W_dec (4 with profiles).
 */
export class ConceptIndex {
  private constructor(
    readonly arrays: ConceptIndexArrays,
    private readonly session: Session | undefined,
    private readonly candidateCount: number,
  ) {}

  get nLatents(): number {
    return this.arrays.nLatents;
  }
  get dModel(): number {
    return this.arrays.dModel;
  }

  /**
   * Builds the arrays of an index from dense SAE weights and optional top-document profiles [nLatents, dModel]
   * (the weights can be dropped afterwards). `k` is the SAE's number of active latents. Without a scan
   * (`candidates` >= nLatents) only the rescoring rows are made.
   */
  static buildArrays(
    weights: SaeWeights,
    k: number,
    profiles: QuantizedRows | undefined,
    options: ConceptIndexOptions = {},
  ): ConceptIndexArrays {
    const { dModel: d, nLatents: n, W_enc, b_enc, W_dec, b_dec } = weights;
    const encoderRows: QuantizedRows = { q: new Int8Array(n * d), scale: new Float32Array(n) };
    const decoderRows: QuantizedRows = { q: new Int8Array(n * d), scale: new Float32Array(n) };
    const encoderBias = new Float32Array(n);
    const inverseEncoderNorm = new Float32Array(n);
    const inverseDecoderNorm = new Float32Array(n);
    for (let i = 0; i < d; i++) {
      const base = i * n;
      // Squared norms first; inverted below.
      for (let j = 0; j < n; j++)
        inverseDecoderNorm[j] = inverseDecoderNorm[j]! + W_dec[base + j]! * W_dec[base + j]!;
    }
    const decoderNorm = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      decoderNorm[j] = Math.sqrt(inverseDecoderNorm[j]!);
      inverseDecoderNorm[j] = 1 / (decoderNorm[j] || 1);
      const row = j * d;
      let norm = 0;
      let bias = b_enc[j]!;
      for (let i = 0; i < d; i++) {
        norm += W_enc[row + i]! * W_enc[row + i]!;
        bias -= W_enc[row + i]! * b_dec[i]!;
      }
      inverseEncoderNorm[j] = 1 / (Math.sqrt(norm) || 1);
      encoderBias[j] = bias;
      quantizeRow(W_enc, row, d, encoderRows, j);
    }
    // α brings the profiles to the scale of the two cosines: their 95th-percentile row norm becomes 1.
    let alpha = 0;
    const profileNorm = new Float32Array(n);
    if (profiles) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let i = 0; i < d; i++) sum += profiles.q[j * d + i]! ** 2;
        profileNorm[j] = Math.sqrt(sum) * profiles.scale[j]!;
      }
      const sorted = Float32Array.from(profileNorm).sort();
      const p95 = sorted[Math.floor(0.95 * (n - 1))]!;
      alpha = p95 > 0 ? 1 / p95 : 0;
    }
    const scanning = (options.candidates ?? 1024) < n;
    const scan = scanning
      ? { q: new Int8Array(d * n), scale: new Float32Array(n), bias: new Float32Array(n) }
      : undefined;
    // NOTE: the scan matrix is [d, n] like W_dec: both are filled in blocks of columns so that the strided
    // reads of W_enc stay in cache. Each column j is quantized to int8 with its own scale.
    const block = 256;
    const unit = new Float32Array(block * d);
    const combined = new Float32Array(block * d);
    const blockMaxAbs = new Float32Array(block);
    for (let j0 = 0; j0 < n; j0 += block) {
      const j1 = Math.min(n, j0 + block);
      blockMaxAbs.fill(0);
      for (let i = 0; i < d; i++) {
        const row = i * n;
        for (let j = j0; j < j1; j++) {
          const direction = W_dec[row + j]! * inverseDecoderNorm[j]!;
          let value = W_enc[j * d + i]! * inverseEncoderNorm[j]! + direction;
          if (profiles) value += alpha * profiles.q[j * d + i]! * profiles.scale[j]!;
          unit[(j - j0) * d + i] = direction;
          combined[(j - j0) * d + i] = value;
          if (Math.abs(value) > blockMaxAbs[j - j0]!) blockMaxAbs[j - j0] = Math.abs(value);
        }
      }
      for (let j = j0; j < j1; j++) {
        quantizeRow(unit, (j - j0) * d, d, decoderRows, j);
        if (!scan) continue;
        const maxAbs = blockMaxAbs[j - j0]!;
        scan.scale[j] = maxAbs > 0 ? maxAbs / 127 : 0;
        scan.bias[j] = encoderBias[j]! * inverseEncoderNorm[j]!;
      }
      if (!scan) continue;
      // NOTE: written row by row of the [d, n] matrix, so that the writes are contiguous.
      for (let i = 0; i < d; i++) {
        const row = i * n;
        for (let j = j0; j < j1; j++) {
          const maxAbs = blockMaxAbs[j - j0]!;
          scan.q[row + j] = maxAbs > 0 ? roundToInt((combined[(j - j0) * d + i]! * 127) / maxAbs) : 0;
        }
      }
    }
    return {
      nLatents: n,
      dModel: d,
      k,
      ...(scan ? { scan } : {}),
      encoderRows,
      encoderBias,
      decoderRows,
      decoderNorm,
      ...(profiles ? { profileRows: profiles } : {}),
    };
  }

  /**
   * Builds an index from dense SAE weights (see {@link buildArrays}); peak memory is about three times W_dec.
   */
  static async build(
    weights: SaeWeights,
    k: number,
    options: ConceptIndexOptions & { profiles?: QuantizedRows } = {},
  ): Promise<ConceptIndex> {
    const arrays = ConceptIndex.buildArrays(weights, k, options.profiles, options);
    return ConceptIndex.open(
      arrays,
      arrays.scan ? await scanModel(arrays, { data: arrays.scan.q }) : undefined,
      options,
    );
  }

  /**
   * An index over `arrays` whose scan runs `model` (a path or the model's bytes; none when every feature is
   * rescored). The scan matrix itself may be dropped from `arrays` once the session holds it.
   */
  static async open(
    arrays: ConceptIndexArrays,
    model: string | Uint8Array | undefined,
    options: ConceptIndexOptions = {},
  ): Promise<ConceptIndex> {
    const n = arrays.nLatents;
    if (!model) return new ConceptIndex(arrays, undefined, n);
    const { createSession } = await onnx();
    const session = await createSession(model, { intraOpThreads: scanThreads(options) });
    const index = new ConceptIndex(arrays, session, Math.min(n, options.candidates ?? 1024));
    // Warm up onnxruntime and the JIT so that the first user query is as fast as the later ones.
    await index.score(new Float32Array(arrays.dModel).fill(1 / Math.sqrt(arrays.dModel)));
    return index;
  }

  /**
   * Scores a concept vector x [dModel]: the scan picks candidates, which get the SAE activation (pre-activation
   * kept only for the k largest positive values among the candidates, which equals the SAE's encode when the
   * true top k are candidates), the decoder cosine and the top-document similarity (both for x scaled to unit
   * length).
   */
  async score(x: Float32Array): Promise<DenseScores> {
    const { dModel: d, nLatents: n, k, encoderRows, encoderBias, decoderRows, profileRows } = this.arrays;
    if (x.length !== d)
      throw new RangeError(`catalog: concept vector has ${x.length} dims; the SAE expects ${d}`);
    let features: Int32Array;
    if (!this.session || this.candidateCount >= n) {
      features = Int32Array.from({ length: n }, (_, i) => i);
    } else {
      const out = await this.session.run({ x: { type: 'float32', data: x, dims: [1, d] } });
      features = topIndices(out.scores!.data as Float32Array, this.candidateCount);
    }
    let xNorm = 0;
    for (let i = 0; i < d; i++) xNorm += x[i]! * x[i]!;
    xNorm = Math.sqrt(xNorm) || 1;
    const pre = new Float32Array(features.length);
    const cosine = new Float32Array(features.length);
    const documents = new Float32Array(features.length);
    for (let c = 0; c < features.length; c++) {
      const j = features[c]!;
      pre[c] = dotQuantized(encoderRows, j, x, d) + encoderBias[j]!;
      cosine[c] = dotQuantized(decoderRows, j, x, d) / xNorm;
      if (profileRows) documents[c] = dotQuantized(profileRows, j, x, d) / xNorm;
    }
    const activation = new Float32Array(features.length);
    const order = Array.from({ length: features.length }, (_, c) => c).sort((a, b) => pre[b]! - pre[a]!);
    for (const c of order.slice(0, k)) if (pre[c]! > 0) activation[c] = pre[c]!;
    return { features, activation, cosine, documents };
  }

  /** Length of `sum_t weights[t] W_dec[:, features[t]]` (from the int8 unit directions and the column norms). */
  combinedNorm(features: readonly number[], weights: readonly number[]): number {
    let total = 0;
    for (const value of this.combinedSum(features, weights)) total += value * value;
    return Math.sqrt(total);
  }

  /** `sum_t weights[t] W_dec[:, features[t]]` [dModel] (from the int8 unit directions and the column norms). */
  combinedDirection(features: readonly number[], weights: readonly number[]): Float32Array {
    return Float32Array.from(this.combinedSum(features, weights));
  }

  private combinedSum(features: readonly number[], weights: readonly number[]): Float64Array {
    const { dModel: d, decoderRows, decoderNorm } = this.arrays;
    const sum = new Float64Array(d);
    features.forEach((j, t) => {
      const factor = weights[t]! * decoderNorm[j]! * decoderRows.scale[j]!;
      for (let i = 0; i < d; i++) sum[i]! += factor * decoderRows.q[j * d + i]!;
    });
    return sum;
  }

  /** Frees the onnxruntime session. */
  async dispose(): Promise<void> {
    await this.session?.dispose();
  }
}
