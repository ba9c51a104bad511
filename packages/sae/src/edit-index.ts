// Fast `set`/`zero` edits: a residual edit of feature f needs only the query's activation h_f, not its whole top k.
// Stage 1 computes f's exact pre-activation z_f with those of a spread sample of probe latents; when z_f <= 0 or k
// probes beat it, f is certainly not in the top k. Stage 2 scores every latent from an int8 copy of W_enc whose
// error has a proven bound per latent: latents certainly above z_f are counted, the few within the bound are
// rescored exactly, and the count decides f's rank. Both stages are exact; only ties within float32 rounding (or a
// bound found broken) are left to the full encoder. The two models live beside the SAE, built once (FORMAT.md).
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildModel, createSession, type Initializer, type Session } from '@steer/onnx';
import { ENCODER_CACHE_PREFIX, WEIGHTS_FILE, readSaeTensors, type SaeManifest } from './artifact.js';
import { writeBeside } from './encoder-graph.js';
import type { SafetensorsHeader } from './safetensors.js';

/** Version of the two generated models, in their file names: a changed model never reads an older file. */
const EDIT_INDEX_VERSION = 2;

/** Probe latents whose exact pre-activations every query computes (every n/1024-th). */
export const EDIT_PROBES = 1024;
/**
 * Levels of the int8 copy of W_enc: +-64, not +-127, so that the products of onnxruntime's u8 x s8 kernels cannot
 * saturate their 16-bit pair sums on CPUs without VNNI (2 x 255 x 64 < 32768), which would break the error bound.
 */
const SCAN_LEVELS = 64;
/** Most latents rescored exactly in stage 2 before the full encoder is cheaper. */
const MAX_RESCORED = 4096;

/** Relative margin under which two pre-activations count as tied (float32 rounding of different products). */
const TIE = 1e-5;

/** The activation of each edited feature, where the stages could decide it. */
export interface EditActivations {
  /** values[j]: h of features[j] (0 when not among the top k), as the encoder computes it. */
  values: Float32Array;
  /** decided[j]: false where only the full encoder can tell (a tie within float32 rounding, a broken bound). */
  decided: boolean[];
  /** 1 when the probes decided every feature, 2 when the int8 scan ran. */
  stage: 1 | 2;
  /** The scan's approximate pre-activations of every latent [n] (empty after stage 1), for agreement checks. */
  approximate: Float32Array;
  /** Latents rescored exactly in stage 2. */
  rescored: number;
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

/** A spread sample of `count` latents out of n (every n/count-th). */
function probeLatents(n: number, count: number): Int32Array {
  const taken = Math.min(n, count);
  return Int32Array.from({ length: taken }, (_, j) => Math.floor((j * n) / taken));
}

/** What the two models hold besides references to the SAE's weights. */
interface ScanData {
  probes: Int32Array; // [probes]
  probeRows: Float32Array; // [probes, d], W_enc rows of the probes
  Q: Int8Array; // [d, n]: W_enc^T in +-SCAN_LEVELS steps, one scale per latent
  scale: Float32Array; // [n]
  l1: Float32Array; // [n]: L1 norm of each latent's dequantised row
}

/** Quantises W_enc (read once from the weights file) and copies the probes' rows. */
async function computeScan(
  dir: string,
  manifest: SaeManifest,
  header: SafetensorsHeader,
  probes: Int32Array,
): Promise<ScanData> {
  const { dModel: d, nLatents: n } = manifest;
  const W_enc = (await readSaeTensors(dir, manifest, header, ['W_enc'], false)).get('W_enc')!;
  const probeRows = new Float32Array(probes.length * d);
  probes.forEach((latent, j) => probeRows.set(W_enc.subarray(latent * d, latent * d + d), j * d));
  const Q = new Int8Array(d * n);
  const scale = new Float32Array(n);
  const l1 = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    let maxAbs = 0;
    for (let c = 0; c < d; c++) maxAbs = Math.max(maxAbs, Math.abs(W_enc[row + c]!));
    const s = maxAbs > 0 ? Math.fround(maxAbs / SCAN_LEVELS) : 1;
    scale[i] = s;
    let levels = 0;
    for (let c = 0; c < d; c++) {
      const q = Math.max(-SCAN_LEVELS, Math.min(SCAN_LEVELS, Math.round(W_enc[row + c]! / s)));
      Q[c * n + i] = q;
      levels += Math.abs(q);
    }
    l1[i] = levels * s;
  }
  return { probes, probeRows, Q, scale, l1 };
}

/**
 * Stage 1: exact pre-activations of the edited features (`feature_z`, their fp32 rows gathered from W_enc, the bias
 * as Gemm's C input like the encoder) and of the probes (`probe_z`, rows copied into the model). Also rescores any
 * latents passed as features.
 */
function probeModel(manifest: SaeManifest, header: SafetensorsHeader, scan: ScanData): Uint8Array {
  const { dModel: d, nLatents: n } = manifest;
  const probes = scan.probes.length;
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
      { name: 'probe_rows', type: 'float32', dims: [probes, d], data: scan.probeRows },
      {
        name: 'probe_ids',
        type: 'int64',
        dims: [probes],
        data: BigInt64Array.from(scan.probes, (i) => BigInt(i)),
      },
    ],
    nodes: [
      { op: 'Sub', inputs: ['x', 'b_dec'], outputs: ['xc'] },
      { op: 'Gather', inputs: ['W_enc', 'features'], outputs: ['feature_rows'], attributes: { axis: 0 } },
      { op: 'Gather', inputs: ['b_enc', 'features'], outputs: ['feature_bias'], attributes: { axis: 0 } },
      {
        op: 'Gemm',
        inputs: ['xc', 'feature_rows', 'feature_bias'],
        outputs: ['feature_z'],
        attributes: { transB: 1 },
      },
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
 * Stage 2: every latent's approximate pre-activation from the int8 copy (`approx` [1, n]; onnxruntime quantises
 * xc = x - b_dec to uint8 per call) and its error bound (`bound` [n]): |approx_i - z_i| <= scale_i |xc|_1 / 2 +
 * l1_i e_x, with `half_l1x` = |xc|_1 / 2 and `x_error` = e_x, the most any element of xc moves when quantised, as
 * inputs.
 */
function scanModel(manifest: SaeManifest, header: SafetensorsHeader, scan: ScanData): Uint8Array {
  const { dModel: d, nLatents: n } = manifest;
  return buildModel({
    name: `steer_edit_scan_${manifest.id}`,
    inputs: [
      { name: 'x', type: 'float32', shape: [1, d] },
      { name: 'half_l1x', type: 'float32', shape: [1] },
      { name: 'x_error', type: 'float32', shape: [1] },
    ],
    outputs: [
      { name: 'approx', type: 'float32', shape: [1, n] },
      { name: 'bound', type: 'float32', shape: [n] },
    ],
    initializers: [
      weightRef(header, 'b_enc', [n]),
      weightRef(header, 'b_dec', [d]),
      { name: 'Q', type: 'int8', dims: [d, n], data: scan.Q },
      { name: 'scale', type: 'float32', dims: [n], data: scan.scale },
      { name: 'l1', type: 'float32', dims: [n], data: scan.l1 },
    ],
    nodes: [
      { op: 'Sub', inputs: ['x', 'b_dec'], outputs: ['xc'] },
      {
        op: 'DynamicQuantizeMatMul',
        domain: 'com.microsoft',
        inputs: ['xc', 'Q', 'scale', '', 'b_enc'],
        outputs: ['approx'],
      },
      { op: 'Mul', inputs: ['scale', 'half_l1x'], outputs: ['weight_error'] },
      { op: 'Mul', inputs: ['l1', 'x_error'], outputs: ['input_error'] },
      { op: 'Add', inputs: ['weight_error', 'input_error'], outputs: ['bound'] },
    ],
  });
}

/** Options of {@link EditIndex.open}. */
export interface EditIndexOptions {
  probes?: number;
  intraOpThreads?: number;
}

/** A loaded edit index: answers the activations of edited features for one query. */
export class EditIndex {
  private constructor(
    private readonly sessions: { probe: Session; scan: Session },
    readonly k: number,
    private readonly bDec: Float32Array,
    private readonly probes: Int32Array,
  ) {}

  /** Set when a rescored latent fell outside its bound (a kernel that does not compute what it should). */
  #boundBroken = false;

  /**
   * Loads the two models beside the SAE, building them first when they are missing (a few seconds at the paper's
   * size; the int8 copy of W_enc takes a quarter of its bytes on disk and in memory). `bDec` is the SAE's b_dec.
   * @returns undefined when the folder is not writable or the SAE is small enough that the encoder is as cheap.
   */
  static async open(
    dir: string,
    manifest: SaeManifest,
    header: SafetensorsHeader,
    bDec: Float32Array,
    options: EditIndexOptions = {},
  ): Promise<EditIndex | undefined> {
    const { nLatents: n, k } = manifest;
    const probes = probeLatents(n, options.probes ?? EDIT_PROBES);
    if (probes.length >= n || n < 4 * k) return undefined;
    const stem = join(dir, `${ENCODER_CACHE_PREFIX}${manifest.id}-k${k}-edits-v${EDIT_INDEX_VERSION}`);
    const paths = {
      probe: `${stem}-probe-p${probes.length}.onnx`,
      scan: `${stem}-scan-q${SCAN_LEVELS}.onnx`,
    };
    const build = async (): Promise<boolean> => {
      const scan = await computeScan(dir, manifest, header, probes);
      return (
        (await writeBeside(paths.probe, probeModel(manifest, header, scan))) &&
        writeBeside(paths.scan, scanModel(manifest, header, scan))
      );
    };
    const isFile = (path: string): Promise<boolean> =>
      stat(path).then(
        (s) => s.isFile(),
        () => false,
      );
    const exists = (await isFile(paths.probe)) && (await isFile(paths.scan));
    if (!exists && !(await build())) return undefined;
    // NOTE: pre-packing stays on: it packs the probe rows and the int8 copy (W_enc itself only feeds a Gather, which
    // never pre-packs, so it stays memory-mapped and shared with the encoder).
    const sessionOptions = {
      ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
    };
    const start = async (): Promise<{ probe: Session; scan: Session }> => {
      const probe = await createSession(paths.probe, sessionOptions);
      try {
        return { probe, scan: await createSession(paths.scan, sessionOptions) };
      } catch (error) {
        await probe.dispose();
        throw error;
      }
    };
    let sessions: { probe: Session; scan: Session };
    try {
      sessions = await start();
    } catch (error) {
      // A damaged cache file (a crash mid-write cannot leave one, but a full disk or a copy can): build it again.
      if (!exists) throw error;
      await Promise.all([rm(paths.probe, { force: true }), rm(paths.scan, { force: true })]);
      if (!(await build())) return undefined;
      sessions = await start();
    }
    return new EditIndex(sessions, k, bDec, probes);
  }

  /** Exact pre-activations of `latents` for the query (the probe model's feature path). */
  async #exact(query: Float32Array, latents: ArrayLike<number>): Promise<Float32Array> {
    const out = await this.sessions.probe.run({
      x: { type: 'float32', data: query, dims: [1, query.length] },
      features: {
        type: 'int64',
        data: BigInt64Array.from(latents, (f) => BigInt(f)),
        dims: [latents.length],
      },
    });
    return out.feature_z!.data as Float32Array;
  }

  /**
   * The query's activation of each feature in `features`, exactly as the encoder's top k gives it; a feature is left
   * undecided only when a latent ties with it within float32 rounding or a bound was found broken.
   */
  async activations(query: Float32Array, features: readonly number[]): Promise<EditActivations> {
    const d = query.length;
    const out = await this.sessions.probe.run({
      x: { type: 'float32', data: query, dims: [1, d] },
      features: {
        type: 'int64',
        data: BigInt64Array.from(features, (f) => BigInt(f)),
        dims: [features.length],
      },
    });
    const featureZ = out.feature_z!.data as Float32Array;
    const probeZ = out.probe_z!.data as Float32Array;
    const values = new Float32Array(features.length);
    // Stage 1: not active (z <= 0), or at least k probes clearly above.
    const decided = features.map((feature, j) => {
      const zf = featureZ[j]!;
      if (!(zf > 0)) return true;
      let above = 0;
      for (let c = 0; c < probeZ.length; c++)
        if (this.probes[c] !== feature && probeZ[c]! > zf + TIE * zf) above++;
      return above >= this.k;
    });
    if (decided.every(Boolean))
      return { values, decided, stage: 1, approximate: new Float32Array(0), rescored: 0 };
    if (this.#boundBroken)
      return { values, decided, stage: 1, approximate: new Float32Array(0), rescored: 0 };

    // Stage 2: the int8 scan with its bounds.
    let l1x = 0;
    let low = 0;
    let high = 0;
    for (let c = 0; c < d; c++) {
      const xc = Math.fround(query[c]! - this.bDec[c]!);
      l1x += Math.abs(xc);
      low = Math.min(low, xc);
      high = Math.max(high, xc);
    }
    // onnxruntime's dynamic uint8 quantisation: step s = (max(xc, 0) - min(xc, 0)) / 255 and a rounded zero point;
    // an element moves by at most s / 2 when rounded, and by up to s at the ends of the range, where the zero
    // point's own rounding can push it against the clip. The bound takes the whole step.
    const xError = ((high - low) / 255) * (1 + 1e-6);
    const scanned = await this.sessions.scan.run({
      x: { type: 'float32', data: query, dims: [1, d] },
      half_l1x: { type: 'float32', data: Float32Array.of(l1x / 2), dims: [1] },
      x_error: { type: 'float32', data: Float32Array.of(xError), dims: [1] },
    });
    const approx = scanned.approx!.data as Float32Array;
    const bound = scanned.bound!.data as Float32Array;
    const n = approx.length;
    // Float32 rounding of the scan's own arithmetic, on top of the bound.
    const slack = (i: number): number => bound[i]! * 1e-4 + 1e-6 * Math.abs(approx[i]!) + 1e-30;
    let rescored = 0;
    for (const [j, feature] of features.entries()) {
      if (decided[j]) continue;
      const zf = featureZ[j]!;
      const tie = TIE * zf;
      let certain = 0;
      const unsure: number[] = [];
      for (let i = 0; i < n; i++) {
        if (i === feature) continue;
        const e = bound[i]! + slack(i);
        if (approx[i]! - e > zf + tie) certain++;
        else if (approx[i]! + e >= zf - tie) unsure.push(i);
      }
      if (certain >= this.k) {
        decided[j] = true;
        continue;
      }
      if (certain + unsure.length < this.k) {
        values[j] = zf;
        decided[j] = true;
        continue;
      }
      if (unsure.length > MAX_RESCORED) continue;
      const exact = await this.#exact(query, unsure);
      rescored += unsure.length;
      let above = 0;
      let tied = 0;
      unsure.forEach((latent, u) => {
        if (Math.abs(approx[latent]! - exact[u]!) > bound[latent]! + slack(latent)) this.#boundBroken = true;
        if (exact[u]! > zf + tie) above++;
        else if (exact[u]! >= zf - tie) tied++;
      });
      if (this.#boundBroken)
        return { values, decided: decided.map(() => false), stage: 2, approximate: approx, rescored };
      if (certain + above >= this.k) decided[j] = true;
      else if (certain + above + tied < this.k) {
        values[j] = zf;
        decided[j] = true;
      }
    }
    return { values, decided, stage: 2, approximate: approx, rescored };
  }

  async dispose(): Promise<void> {
    await Promise.all([this.sessions.probe.dispose(), this.sessions.scan.dispose()]);
  }
}
