// The dense half of concept search: one int8 onnxruntime MatMul over all features picks candidates, then
// the candidates are rescored from int8 copies of the encoder rows and unit decoder directions.
import { availableParallelism } from 'node:os';
import { buildModel, createSession, type Session } from '@steer/onnx';
import type { SaeWeights } from '@steer/sae';

/** Dense scores of one concept vector for a few features. */
export interface DenseScores {
  /** Candidate feature ids, in no particular order. */
  features: Int32Array;
  /** SAE activation of the concept (0 when the feature is not in the concept's top k). [features.length] */
  activation: Float32Array;
  /** Cosine between the concept vector and the feature's decoder direction. [features.length] */
  cosine: Float32Array;
}

/** Options of {@link buildConceptIndex}. */
export interface ConceptIndexOptions {
  /** Features rescored after the scan (default 1024); when it is at least nLatents every feature is rescored and no scan is built. */
  candidates?: number;
  /**
   * onnxruntime threads for the scan. Default: half the cores, 1 to 4 (the scan is memory-bound; leaving cores
   * free keeps latency steady while the editor works).
   */
  intraOpThreads?: number;
}

/** ONNX TensorProto data type of int8. */
const INT8 = 3;

/** Int8 rows with one float scale per row: row j is `scale[j] * q[j * dims .. (j + 1) * dims]`. */
interface QuantizedRows {
  q: Int8Array; // [rows, dims]
  scale: Float32Array; // [rows]
}

/** Rounds half away from zero to an integer; several times faster than Math.round in V8's hot loops. */
function roundToInt(value: number): number {
  return (value + (value >= 0 ? 0.5 : -0.5)) | 0;
}

function quantizeRow(
  source: Float32Array,
  offset: number,
  dims: number,
  into: QuantizedRows,
  row: number,
  divisor: number,
): void {
  let maxAbs = 0;
  for (let i = 0; i < dims; i++) maxAbs = Math.max(maxAbs, Math.abs(source[offset + i]!));
  const scale = maxAbs > 0 ? maxAbs / divisor / 127 : 1;
  into.scale[row] = scale;
  const base = row * dims;
  const inverse = maxAbs > 0 ? 127 / maxAbs : 0;
  for (let i = 0; i < dims; i++) into.q[base + i] = roundToInt(source[offset + i]! * inverse);
}

function dotQuantized(rows: QuantizedRows, row: number, x: Float32Array, dims: number): number {
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

/**
 * A concept index over an SAE: the MatMul scans every feature with the linear score
 * `(W_enc[j]·(x - b_dec) + b_enc[j]) / |W_enc[j]| + d̂_j·x` (encoder pre-activation per unit row norm plus
 * the cosine with the unit decoder direction d̂_j), stored as int8 with one scale per feature, and the best
 * `candidates` features are rescored. Memory: about 3 bytes per weight of W_dec (scan, encoder and decoder rows).
 */
export class ConceptIndex {
  private constructor(
    readonly nLatents: number,
    readonly dModel: number,
    readonly k: number,
    private readonly session: Session | undefined,
    private readonly encoderRows: QuantizedRows,
    private readonly encoderBias: Float32Array, // [nLatents] b_enc[j] - W_enc[j]·b_dec
    private readonly decoderRows: QuantizedRows, // unit decoder directions
    private readonly candidateCount: number,
  ) {}

  /**
   * Builds the index from dense SAE weights (the weights can be dropped afterwards). Peak memory is about
   * three times W_dec. `k` is the SAE's number of active latents.
   */
  static async build(
    weights: SaeWeights,
    k: number,
    options: ConceptIndexOptions = {},
  ): Promise<ConceptIndex> {
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
    for (let j = 0; j < n; j++) {
      inverseDecoderNorm[j] = 1 / (Math.sqrt(inverseDecoderNorm[j]!) || 1);
      const row = j * d;
      let norm = 0;
      let bias = b_enc[j]!;
      for (let i = 0; i < d; i++) {
        norm += W_enc[row + i]! * W_enc[row + i]!;
        bias -= W_enc[row + i]! * b_dec[i]!;
      }
      inverseEncoderNorm[j] = 1 / (Math.sqrt(norm) || 1);
      encoderBias[j] = bias;
      quantizeRow(W_enc, row, d, encoderRows, j, 1);
    }
    const scanning = (options.candidates ?? 1024) < n;
    // NOTE: the scan matrix is [d, n] and W_dec is [d, n]: both are filled in blocks of columns so that the
    // strided reads of W_enc stay in cache. Each column j is quantized to int8 with its own scale.
    const scan = scanning ? new Float32Array(d * n) : undefined;
    const scanScale = new Float32Array(n);
    const scanBias = new Float32Array(n);
    const block = 256;
    const column = new Float32Array(block * d);
    const combined = new Float32Array(block * d);
    const blockMaxAbs = new Float32Array(block);
    const blockInverse = new Float32Array(block);
    for (let j0 = 0; j0 < n; j0 += block) {
      const j1 = Math.min(n, j0 + block);
      blockMaxAbs.fill(0);
      for (let i = 0; i < d; i++) {
        const row = i * n;
        for (let j = j0; j < j1; j++) {
          const unit = W_dec[row + j]! * inverseDecoderNorm[j]!;
          const value = W_enc[j * d + i]! * inverseEncoderNorm[j]! + unit;
          column[(j - j0) * d + i] = unit;
          combined[(j - j0) * d + i] = value;
          if (Math.abs(value) > blockMaxAbs[j - j0]!) blockMaxAbs[j - j0] = Math.abs(value);
        }
      }
      for (let j = j0; j < j1; j++) {
        quantizeRow(column, (j - j0) * d, d, decoderRows, j, 1);
        const maxAbs = blockMaxAbs[j - j0]!;
        blockInverse[j - j0] = maxAbs > 0 ? 127 / maxAbs : 0;
        scanScale[j] = maxAbs > 0 ? maxAbs / 127 : 0;
        scanBias[j] = encoderBias[j]! * inverseEncoderNorm[j]!;
      }
      if (!scan) continue;
      // NOTE: written row by row of the [d, n] matrix, so that the writes are contiguous.
      for (let i = 0; i < d; i++) {
        const row = i * n;
        for (let j = j0; j < j1; j++)
          scan[row + j] = roundToInt(combined[(j - j0) * d + i]! * blockInverse[j - j0]!);
      }
    }
    if (!scan) return new ConceptIndex(n, d, k, undefined, encoderRows, encoderBias, decoderRows, n);
    const candidates = Math.min(n, options.candidates ?? 1024);
    // NOTE: @steer/onnx builds float32/int32/int64/bool initializers only, so the int8 matrix goes in as
    // integer-valued float32 and a Cast to int8, which onnxruntime constant-folds at load. The scan then reads
    // a quarter of the bytes of a float32 MatMul (DynamicQuantizeMatMul quantizes x to uint8 per call).
    const model = buildModel({
      name: 'steer-concept-scan',
      inputs: [{ name: 'x', type: 'float32', shape: [1, d] }],
      outputs: [{ name: 'scores', type: 'float32', shape: [1, n] }],
      nodes: [
        { op: 'Cast', inputs: ['scan_f32'], outputs: ['scan_i8'], attributes: { to: INT8 } },
        {
          op: 'DynamicQuantizeMatMul',
          domain: 'com.microsoft',
          inputs: ['x', 'scan_i8', 'scan_scale', '', 'scan_bias'],
          outputs: ['scores'],
        },
      ],
      initializers: [
        { name: 'scan_f32', type: 'float32', dims: [d, n], data: scan },
        { name: 'scan_scale', type: 'float32', dims: [n], data: scanScale },
        { name: 'scan_bias', type: 'float32', dims: [n], data: scanBias },
      ],
    });
    const threads =
      options.intraOpThreads ?? Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));
    const session = await createSession(model, { intraOpThreads: threads });
    const index = new ConceptIndex(n, d, k, session, encoderRows, encoderBias, decoderRows, candidates);
    // Warm up onnxruntime and the JIT so that the first user query is as fast as the later ones.
    for (let i = 0; i < 3; i++) await index.score(new Float32Array(d).fill(1 / Math.sqrt(d)));
    return index;
  }

  /**
   * Scores a concept vector x [dModel]: the scan picks candidates, which get the SAE activation (pre-activation
   * kept only for the k largest positive values among the candidates, which equals the SAE's encode when the
   * true top k are candidates) and the decoder cosine (divided by |x| so it is a cosine for any x).
   */
  async score(x: Float32Array): Promise<DenseScores> {
    const d = this.dModel;
    if (x.length !== d)
      throw new RangeError(`catalog: concept vector has ${x.length} dims; the SAE expects ${d}`);
    let features: Int32Array;
    if (!this.session || this.candidateCount >= this.nLatents) {
      features = Int32Array.from({ length: this.nLatents }, (_, i) => i);
    } else {
      const out = await this.session.run({ x: { type: 'float32', data: x, dims: [1, d] } });
      features = topIndices(out.scores!.data as Float32Array, this.candidateCount);
    }
    let xNorm = 0;
    for (let i = 0; i < d; i++) xNorm += x[i]! * x[i]!;
    xNorm = Math.sqrt(xNorm) || 1;
    const pre = new Float32Array(features.length);
    const cosine = new Float32Array(features.length);
    for (let c = 0; c < features.length; c++) {
      const j = features[c]!;
      pre[c] = dotQuantized(this.encoderRows, j, x, d) + this.encoderBias[j]!;
      cosine[c] = dotQuantized(this.decoderRows, j, x, d) / xNorm;
    }
    const activation = new Float32Array(features.length);
    const order = Array.from({ length: features.length }, (_, c) => c).sort((a, b) => pre[b]! - pre[a]!);
    for (const c of order.slice(0, this.k)) if (pre[c]! > 0) activation[c] = pre[c]!;
    return { features, activation, cosine };
  }

  /** Frees the onnxruntime session. */
  async dispose(): Promise<void> {
    await this.session?.dispose();
  }
}
