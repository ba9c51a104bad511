// Fast `set`/`zero` edits: a residual edit of feature f needs only the query's activation h_f, not its whole top k.
// An int8 sketch of W_enc in its top principal directions scores every latent cheaply; the best candidates and the
// edited features are rescored exactly (fp32 rows gathered from the memory-mapped W_enc, the same Gemm as the
// encoder), and h_f is decided from those exact values, or left undecided so that the caller runs the full encoder.
// The sketch lives in a generated ONNX model beside the SAE, built once per SAE (see FORMAT.md).
import { randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildModel, createSession, type Initializer, type NodeSpec, type Session } from '@steer/onnx';
import { ENCODER_CACHE_PREFIX, WEIGHTS_FILE, type SaeManifest } from './artifact.js';
import { writeBeside } from './encoder-graph.js';
import type { SafetensorsHeader } from './safetensors.js';

/** Dimensions of the sketch (principal directions of W_enc's rows). */
export const EDIT_SKETCH_DIMS = 64;
/**
 * Latents that certainly rank before a feature with pre-activation zf: scores clearly above it (by more than float32
 * rounding, so that a last-bit difference from the encoder's own product cannot change the count), the feature
 * itself excluded.
 */
function countAbove(zf: number, feature: number, scores: Float32Array, ids: Int32Array): number {
  const margin = 1e-5 * Math.abs(zf) + 1e-30;
  let above = 0;
  for (let c = 0; c < scores.length; c++) if (ids[c] !== feature && scores[c]! > zf + margin) above++;
  return above;
}

/** Latents rescored exactly per query (the sketch's best). */
export const EDIT_CANDIDATES = 1024;
/**
 * How far (in standard deviations of the sketch's error on this query's candidates) an edited feature must stand
 * above the best latent left out of the candidates before it is taken as active without the full encoder.
 */
export const EDIT_MARGIN_SIGMAS = 6;
/**
 * The sketch stage stops running (the caller goes straight to the full encoder) once it has decided fewer than a
 * quarter of the features it was asked about in its first 8 runs: on an SAE whose rows have no dominant directions
 * (random weights) it never can, and would only add its cost.
 */
const SKETCH_TRIAL_RUNS = 8;
const SKETCH_MIN_SUCCESS = 0.25;

/** Latents whose exact scores every query computes first (a fixed spread sample): often enough to show that an
 * edited feature is not among the top k without the sketch. */
export const EDIT_PROBES = 1024;

/** Rows of W_enc used to estimate its principal directions. */
const COVARIANCE_ROWS = 65536;
const INT32 = 6;

/** The activation of each edited feature, or undefined where the sketch cannot be sure (run the full encoder). */
export interface EditActivations {
  /** values[j]: h of features[j] (0 when not among the top k), exactly as the encoder computes it. */
  values: Float32Array;
  /** decided[j]: whether values[j] is certain (z <= 0, or k exact scores above it) or passed the margin test. */
  decided: boolean[];
  /** 1 when the probes decided every feature, 2 when the sketch ran. */
  stage: 1 | 2;
  /** The candidates' exact pre-activations [candidates] and ids (empty after stage 1), for agreement checks. */
  candidateScores: Float32Array;
  candidates: Int32Array;
}

/** What the edit model holds besides references to the SAE's weights. */
interface Sketch {
  P: Float32Array; // [d, m]
  Q: Int8Array; // [m, n]
  scale: Float32Array; // [n]
  probes: Int32Array; // [probes]
  probeRows: Float32Array; // [probes, d], W_enc rows of the probes
}

function weightRef(header: SafetensorsHeader, name: string, dims: number[]): Initializer {
  const [begin, end] = header.tensors.get(name)!.dataOffsets;
  return {
    name,
    type: 'float32',
    dims,
    external: { location: WEIGHTS_FILE, offset: header.dataStart + begin, length: end - begin },
  };
}

/** Runs a one-off graph over the SAE's external weights (its model file must sit in the SAE folder). */
async function runBesideWeights(
  dir: string,
  model: Uint8Array,
  feeds: Parameters<Session['run']>[0],
): Promise<Awaited<ReturnType<Session['run']>> | undefined> {
  const path = join(
    dir,
    `${ENCODER_CACHE_PREFIX}build-${process.pid}-${randomBytes(4).toString('hex')}.onnx`,
  );
  if (!(await writeBeside(path, model))) return undefined;
  try {
    const session = await createSession(path, { disablePrepacking: true });
    try {
      return await session.run(feeds);
    } finally {
      await session.dispose();
    }
  } finally {
    await rm(path, { force: true });
  }
}

/** The top `m` eigenvectors of a symmetric [d, d] matrix by subspace iteration; returns P [d, m] row-major. */
export function topEigenvectors(matrix: Float64Array, d: number, m: number, iterations = 40): Float64Array {
  // Deterministic start: a fixed pseudo-random basis.
  let state = 0x9e3779b9;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296 - 0.5;
  };
  let basis = Float64Array.from({ length: d * m }, next); // [m, d]: one vector per row
  const orthonormalise = (vectors: Float64Array): void => {
    for (let a = 0; a < m; a++) {
      const va = a * d;
      for (let b = 0; b < a; b++) {
        const vb = b * d;
        let dot = 0;
        for (let c = 0; c < d; c++) dot += vectors[va + c]! * vectors[vb + c]!;
        for (let c = 0; c < d; c++) vectors[va + c]! -= dot * vectors[vb + c]!;
      }
      let norm = 0;
      for (let c = 0; c < d; c++) norm += vectors[va + c]! ** 2;
      norm = Math.sqrt(norm) || 1;
      for (let c = 0; c < d; c++) vectors[va + c]! /= norm;
    }
  };
  orthonormalise(basis);
  for (let it = 0; it < iterations; it++) {
    const product = new Float64Array(d * m);
    for (let a = 0; a < m; a++) {
      for (let r = 0; r < d; r++) {
        let sum = 0;
        const row = r * d;
        for (let c = 0; c < d; c++) sum += matrix[row + c]! * basis[a * d + c]!;
        product[a * d + r] = sum;
      }
    }
    orthonormalise(product);
    basis = product;
  }
  const out = new Float64Array(d * m);
  for (let a = 0; a < m; a++) for (let c = 0; c < d; c++) out[c * m + a] = basis[a * d + c]!;
  return out;
}

/**
 * Computes the sketch of W_enc: P [d, m] (its top principal directions) and, per latent, int8 coordinates of its
 * row in that basis with one scale. Reads W_enc through onnxruntime from the memory-mapped weights file.
 * @returns undefined when the SAE folder is not writable (the one-off graphs must sit beside the weights).
 */
async function computeSketch(
  dir: string,
  manifest: SaeManifest,
  header: SafetensorsHeader,
  m: number,
  probes: Int32Array,
): Promise<Sketch | undefined> {
  const { dModel: d, nLatents: n } = manifest;
  const rows = Math.min(n, COVARIANCE_ROWS);
  const sampled = BigInt64Array.from({ length: rows }, (_, i) => BigInt(Math.floor((i * n) / rows)));
  const covariance = await runBesideWeights(
    dir,
    buildModel({
      name: 'steer_edit_sketch_covariance',
      inputs: [{ name: 'rows', type: 'int64', shape: [rows] }],
      outputs: [{ name: 'cov', type: 'float32', shape: [d, d] }],
      initializers: [weightRef(header, 'W_enc', [n, d])],
      nodes: [
        { op: 'Gather', inputs: ['W_enc', 'rows'], outputs: ['sample'], attributes: { axis: 0 } },
        { op: 'Gemm', inputs: ['sample', 'sample'], outputs: ['cov'], attributes: { transA: 1 } },
      ],
    }),
    { rows: { type: 'int64', data: sampled, dims: [rows] } },
  );
  if (covariance === undefined) return undefined;
  const basis = topEigenvectors(Float64Array.from(covariance.cov!.data as Float32Array), d, m);
  const P = Float32Array.from(basis);
  const projected = await runBesideWeights(
    dir,
    buildModel({
      name: 'steer_edit_sketch_projection',
      inputs: [
        { name: 'P', type: 'float32', shape: [d, m] },
        { name: 'probe_ids', type: 'int64', shape: [probes.length] },
      ],
      outputs: [
        { name: 'coords', type: 'float32', shape: [n, m] },
        { name: 'probe_rows', type: 'float32', shape: [probes.length, d] },
      ],
      initializers: [weightRef(header, 'W_enc', [n, d])],
      nodes: [
        { op: 'MatMul', inputs: ['W_enc', 'P'], outputs: ['coords'] },
        { op: 'Gather', inputs: ['W_enc', 'probe_ids'], outputs: ['probe_rows'], attributes: { axis: 0 } },
      ],
    }),
    {
      P: { type: 'float32', data: P, dims: [d, m] },
      probe_ids: { type: 'int64', data: BigInt64Array.from(probes, (i) => BigInt(i)), dims: [probes.length] },
    },
  );
  if (projected === undefined) return undefined;
  const coords = projected.coords!.data as Float32Array;
  const Q = new Int8Array(m * n); // [m, n], the layout of MatMul's right operand
  const scale = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let maxAbs = 0;
    for (let a = 0; a < m; a++) maxAbs = Math.max(maxAbs, Math.abs(coords[i * m + a]!));
    const s = maxAbs > 0 ? maxAbs / 127 : 1;
    scale[i] = s;
    for (let a = 0; a < m; a++) Q[a * n + i] = Math.round(coords[i * m + a]! / s);
  }
  return { P, Q, scale, probes, probeRows: projected.probe_rows!.data as Float32Array };
}

/** A spread sample of `count` latents out of n (every n/count-th). */
function probeLatents(n: number, count: number): Int32Array {
  return Int32Array.from({ length: Math.min(n, count) }, (_, j) => Math.floor((j * n) / Math.min(n, count)));
}

/** Exact pre-activations of the edited features, [1, edits], as the encoder computes them (bias as Gemm's C). */
function featureNodes(): NodeSpec[] {
  return [
    { op: 'Gather', inputs: ['W_enc', 'features'], outputs: ['feature_rows'], attributes: { axis: 0 } },
    { op: 'Gather', inputs: ['b_enc', 'features'], outputs: ['feature_bias'], attributes: { axis: 0 } },
    {
      op: 'Gemm',
      inputs: ['xc', 'feature_rows', 'feature_bias'],
      outputs: ['feature_z'],
      attributes: { transB: 1 },
    },
  ];
}

/**
 * Stage 1, run for every query: exact pre-activations of the edited features (`feature_z`) and of the probes
 * (`probe_z` [1, probes], their W_enc rows copied into the model).
 */
function probeModel(manifest: SaeManifest, header: SafetensorsHeader, sketch: Sketch): Uint8Array {
  const { dModel: d, nLatents: n } = manifest;
  const probes = sketch.probes.length;
  return buildModel({
    name: `steer_edit_probe_${manifest.id}`,
    inputs: [
      { name: 'x', type: 'float32', shape: [1, d] },
      { name: 'features', type: 'int64', shape: ['edits'] },
    ],
    outputs: [
      { name: 'feature_z', type: 'float32', shape: [1, 'edits'] },
      { name: 'probe_z', type: 'float32', shape: [1, probes] },
    ],
    initializers: [
      weightRef(header, 'W_enc', [n, d]),
      weightRef(header, 'b_enc', [n]),
      weightRef(header, 'b_dec', [d]),
      { name: 'probe_rows', type: 'float32', dims: [probes, d], data: sketch.probeRows },
      {
        name: 'probe_ids',
        type: 'int64',
        dims: [probes],
        data: BigInt64Array.from(sketch.probes, (i) => BigInt(i)),
      },
    ],
    nodes: [
      { op: 'Sub', inputs: ['x', 'b_dec'], outputs: ['xc'] },
      ...featureNodes(),
      { op: 'Gather', inputs: ['b_enc', 'probe_ids'], outputs: ['probe_bias'], attributes: { axis: 0 } },
      {
        op: 'Gemm',
        inputs: ['xc', 'probe_rows', 'probe_bias'],
        outputs: ['probe_z'],
        attributes: { transB: 1 },
      },
    ],
  });
}

/**
 * Stage 2, run when the probes cannot decide: sketch scores of all latents, their top `candidates`, and exact
 * pre-activations (fp32 rows gathered from W_enc) of the candidates followed by the edited features. Outputs `z`
 * [1, candidates + edits], `sketch` [1, candidates] (descending) and `ids` [candidates].
 */
function sketchModel(
  manifest: SaeManifest,
  header: SafetensorsHeader,
  sketch: Sketch,
  m: number,
  candidates: number,
): Uint8Array {
  const { dModel: d, nLatents: n } = manifest;
  return buildModel({
    name: `steer_edit_sketch_${manifest.id}`,
    inputs: [
      { name: 'x', type: 'float32', shape: [1, d] },
      { name: 'features', type: 'int64', shape: ['edits'] },
    ],
    outputs: [
      { name: 'z', type: 'float32', shape: [1, 'scored'] },
      { name: 'sketch', type: 'float32', shape: [1, candidates] },
      { name: 'ids', type: 'int32', shape: [candidates] },
    ],
    initializers: [
      weightRef(header, 'W_enc', [n, d]),
      weightRef(header, 'b_enc', [n]),
      weightRef(header, 'b_dec', [d]),
      { name: 'P', type: 'float32', dims: [d, m], data: sketch.P },
      { name: 'Q', type: 'int8', dims: [m, n], data: sketch.Q },
      { name: 'scale', type: 'float32', dims: [n], data: sketch.scale },
      { name: 'C', type: 'int64', dims: [1], data: new BigInt64Array([BigInt(candidates)]) },
      { name: 'flat', type: 'int64', dims: [1], data: new BigInt64Array([-1n]) },
    ],
    nodes: [
      { op: 'Sub', inputs: ['x', 'b_dec'], outputs: ['xc'] },
      { op: 'MatMul', inputs: ['xc', 'P'], outputs: ['coords'] },
      {
        op: 'DynamicQuantizeMatMul',
        domain: 'com.microsoft',
        inputs: ['coords', 'Q', 'scale', '', 'b_enc'],
        outputs: ['approx'],
      },
      {
        op: 'TopK',
        inputs: ['approx', 'C'],
        outputs: ['sketch', 'top'],
        attributes: { axis: -1, largest: 1, sorted: 1 },
      },
      { op: 'Reshape', inputs: ['top', 'flat'], outputs: ['top_flat'] },
      { op: 'Cast', inputs: ['top_flat'], outputs: ['ids'], attributes: { to: INT32 } },
      { op: 'Concat', inputs: ['top_flat', 'features'], outputs: ['scored_ids'], attributes: { axis: 0 } },
      { op: 'Gather', inputs: ['W_enc', 'scored_ids'], outputs: ['rows'], attributes: { axis: 0 } },
      { op: 'Gather', inputs: ['b_enc', 'scored_ids'], outputs: ['bias'], attributes: { axis: 0 } },
      { op: 'Gemm', inputs: ['xc', 'rows', 'bias'], outputs: ['z'], attributes: { transB: 1 } },
    ],
  });
}

/** Options of {@link openEditIndex}. */
export interface EditIndexOptions {
  sketchDims?: number;
  candidates?: number;
  probes?: number;
  marginSigmas?: number;
  intraOpThreads?: number;
}

/** A loaded sketch: answers the activations of edited features for one query. */
export class EditIndex {
  private constructor(
    private readonly sessions: { probe: Session; sketch: Session },
    readonly k: number,
    readonly dModel: number,
    readonly candidates: number,
    private readonly probes: Int32Array,
    readonly marginSigmas: number,
  ) {}

  #sketchAsked = 0;
  #sketchDecided = 0;

  /** Whether stage 2 still runs (see SKETCH_MIN_SUCCESS). */
  get sketchEnabled(): boolean {
    return (
      this.#sketchAsked < SKETCH_TRIAL_RUNS || this.#sketchDecided >= SKETCH_MIN_SUCCESS * this.#sketchAsked
    );
  }

  /**
   * Loads the edit model beside the SAE, building it first when it is missing (a few seconds at the paper's size).
   * @returns undefined when the folder is not writable or the SAE has too few latents for a sketch to pay off.
   */
  static async open(
    dir: string,
    manifest: SaeManifest,
    header: SafetensorsHeader,
    options: EditIndexOptions = {},
  ): Promise<EditIndex | undefined> {
    const { dModel: d, nLatents: n, k } = manifest;
    const m = Math.min(options.sketchDims ?? EDIT_SKETCH_DIMS, d);
    const candidates = Math.min(options.candidates ?? EDIT_CANDIDATES, n);
    // Below this size the full encoder is as cheap as the sketch.
    if (candidates >= n || n < 4 * k) return undefined;
    const probes = probeLatents(n, options.probes ?? EDIT_PROBES);
    const stem = join(dir, `${ENCODER_CACHE_PREFIX}${manifest.id}-k${k}-edits`);
    const paths = {
      probe: `${stem}-probe-p${probes.length}.onnx`,
      sketch: `${stem}-sketch-m${m}-c${candidates}.onnx`,
    };
    const build = async (): Promise<boolean> => {
      const sketch = await computeSketch(dir, manifest, header, m, probes);
      return (
        sketch !== undefined &&
        (await writeBeside(paths.probe, probeModel(manifest, header, sketch))) &&
        writeBeside(paths.sketch, sketchModel(manifest, header, sketch, m, candidates))
      );
    };
    const isFile = (path: string): Promise<boolean> =>
      stat(path).then(
        (s) => s.isFile(),
        () => false,
      );
    const exists = (await isFile(paths.probe)) && (await isFile(paths.sketch));
    if (!exists && !(await build())) return undefined;
    // NOTE: pre-packing stays on: it packs only the probe rows and the int8 sketch (W_enc feeds Gathers, which never
    // pre-pack), and without it the sketch product re-packs 12 MB on every query.
    const sessionOptions = {
      ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
    };
    const start = async (): Promise<{ probe: Session; sketch: Session }> => {
      const probe = await createSession(paths.probe, sessionOptions);
      try {
        return { probe, sketch: await createSession(paths.sketch, sessionOptions) };
      } catch (error) {
        await probe.dispose();
        throw error;
      }
    };
    let sessions: { probe: Session; sketch: Session };
    try {
      sessions = await start();
    } catch (error) {
      // A damaged cache file (a crash mid-write cannot leave one, but a full disk or a copy can): build it again.
      if (!exists) throw error;
      await Promise.all([rm(paths.probe, { force: true }), rm(paths.sketch, { force: true })]);
      if (!(await build())) return undefined;
      sessions = await start();
    }
    return new EditIndex(sessions, k, d, candidates, probes, options.marginSigmas ?? EDIT_MARGIN_SIGMAS);
  }

  /**
   * The query's activation of each feature in `features`. A value is decided when it is certain (pre-activation
   * <= 0, or at least k exact scores above it: not in the top k) or when the feature ranks among the candidates'
   * top k by a margin of `marginSigmas` over every latent the sketch left out.
   */
  async activations(query: Float32Array, features: readonly number[]): Promise<EditActivations> {
    const feeds = {
      x: { type: 'float32' as const, data: query, dims: [1, this.dModel] },
      features: {
        type: 'int64' as const,
        data: BigInt64Array.from(features, (f) => BigInt(f)),
        dims: [features.length],
      },
    };
    const values = new Float32Array(features.length);
    // Stage 1: the edited features and the probes, exactly.
    const first = await this.sessions.probe.run(feeds);
    const featureZ = first.feature_z!.data as Float32Array;
    const notTopK = (zf: number, feature: number, scores: Float32Array, ids: Int32Array): boolean =>
      countAbove(zf, feature, scores, ids) >= this.k;
    let decided = features.map(
      (feature, j) =>
        !(featureZ[j]! > 0) ||
        notTopK(featureZ[j]!, feature, first.probe_z!.data as Float32Array, this.probes),
    );
    const decidedByProbes = decided.filter(Boolean).length;
    if (decidedByProbes === features.length || !this.sketchEnabled) {
      return {
        values,
        decided,
        stage: 1,
        candidateScores: new Float32Array(0),
        candidates: new Int32Array(0),
      };
    }
    // Stage 2: the sketch's best candidates, rescored exactly.
    const out = await this.sessions.sketch.run(feeds);
    const z = out.z!.data as Float32Array;
    const sketch = out.sketch!.data as Float32Array;
    const ids = out.ids!.data as Int32Array;
    const C = this.candidates;
    const scores = z.subarray(0, C);
    // Spread of the sketch's error on this query, from the candidates whose exact score is known.
    let squared = 0;
    for (let c = 0; c < C; c++) squared += (z[c]! - sketch[c]!) ** 2;
    const sigma = Math.sqrt(squared / C);
    const cutoff = sketch[C - 1]!;
    decided = features.map((feature, j) => {
      if (decided[j]) return true;
      const zf = z[C + j]!;
      const above = countAbove(zf, feature, scores, ids);
      if (above >= this.k) return true;
      // Active unless at least k - above latents outside the candidates beat zf; each would need a sketch error
      // beyond zf - cutoff. A feature the sketch itself left out is a sign that the sketch misjudges this query.
      if (ids.includes(feature) && zf - cutoff > this.marginSigmas * sigma) {
        values[j] = zf;
        return true;
      }
      return false;
    });
    this.#sketchAsked += features.length - decidedByProbes;
    this.#sketchDecided += decided.filter(Boolean).length - decidedByProbes;
    return { values, decided, stage: 2, candidateScores: scores.slice(), candidates: ids.slice() };
  }

  async dispose(): Promise<void> {
    await Promise.all([this.sessions.probe.dispose(), this.sessions.sketch.dispose()]);
  }
}
