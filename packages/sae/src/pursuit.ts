// Query coding by pursuit over the SAE's decoder: the non-negative k-sparse code whose decoding is closest to a
// vector, found greedily, for inputs the amortised TopK encoder never saw and reconstructs poorly (short queries).
import { SaeError } from './errors.js';
import type { Decoder, SparseLatents } from './sparse-ops.js';

/** Coordinate-descent sweeps of the non-negative least-squares refit after each added atom (at most). */
const MAX_SWEEPS = 200;
/** The refit stops when no coefficient moved by more than this fraction of the largest one. */
const SWEEP_TOLERANCE = 1e-7;

/**
 * Pursuit over every atom costs k passes over W_dec per query (12.4 s at the paper's 196,608 latents, k = 128). An
 * SAE with more atoms than {@link pursuitCandidates} allows has its atoms screened first: one pass ranks them by
 * their alignment with x - b_dec, and the pursuit chooses among the best-aligned ones only.
 */
export const PURSUIT_EXACT_ATOMS = 4096;
/** Screened pursuit keeps this many candidate atoms per chosen atom (at least {@link PURSUIT_EXACT_ATOMS}). */
export const PURSUIT_CANDIDATES_PER_ATOM = 8;

/**
 * How many atoms pursuit considers for a k-sparse code over `nLatents` atoms: every atom up to
 * {@link PURSUIT_EXACT_ATOMS} (exact), else the 8k best aligned with the input, or 4,096 if that is more. What
 * choosing among 8k screened atoms costs in fit is measured on the trained SAEs of `docs/results/table1.md`
 * (`reconstructed-pursuit-screened` under "Tried and not adopted"); see the SPEC's `code=` section.
 */
export function pursuitCandidates(nLatents: number, k: number): number {
  if (nLatents <= PURSUIT_EXACT_ATOMS) return nLatents;
  return Math.min(nLatents, Math.max(PURSUIT_EXACT_ATOMS, PURSUIT_CANDIDATES_PER_ATOM * k));
}

const columnNorms = new WeakMap<Float32Array, Float64Array>();

/** |W_dec[:, j]| for every latent j, computed once per decoder. */
function decoderColumnNorms(decoder: Decoder): Float64Array {
  const cached = columnNorms.get(decoder.W_dec);
  if (cached) return cached;
  const { W_dec, dModel, nLatents } = decoder;
  const norms = new Float64Array(nLatents);
  for (let i = 0; i < dModel; i++) {
    const row = i * nLatents;
    for (let j = 0; j < nLatents; j++) norms[j]! += W_dec[row + j]! ** 2;
  }
  for (let j = 0; j < nLatents; j++) norms[j] = Math.sqrt(norms[j]!);
  columnNorms.set(decoder.W_dec, norms);
  return norms;
}

/**
 * Codes each row of `x` [batch, dModel] with at most `k` of the decoder's atoms: non-negative orthogonal matching
 * pursuit on x - b_dec. Each step adds the atom (decoder column, compared at unit length) best aligned with what is
 * left of the vector, then refits every chosen atom's coefficient by non-negative least squares, so the result is
 * the non-negative combination of the chosen atoms closest to the vector. Stops early when no atom is positively
 * aligned with the remainder. Returns latents in the encoder's layout: k per row, strongest first, rows with fewer
 * atoms padded with zero values (on features not otherwise in the row). Deterministic: ties go to the lower feature.
 * Exact over every atom up to {@link PURSUIT_EXACT_ATOMS}; a larger SAE is screened first (see
 * {@link pursuitCandidates}). `options.candidates` sets the screen's size instead (between k and nLatents; nLatents
 * is exact pursuit), for measuring what screening costs on an SAE small enough to pursue exactly.
 * @throws SaeError `invalid_input` when `x` is not batch × dModel finite values, `k` is not in 1..nLatents or
 *   `options.candidates` is not in k..nLatents.
 */
export function pursueLatents(
  decoder: Decoder,
  x: Float32Array,
  batch: number,
  k: number,
  options: { candidates?: number } = {},
): SparseLatents {
  const { W_dec, b_dec, dModel, nLatents } = decoder;
  if (!Number.isInteger(k) || k < 1 || k > nLatents) {
    throw new SaeError(
      'invalid_input',
      `sae: pursuit needs k between 1 and the SAE's ${nLatents} latents; got ${k}`,
    );
  }
  const candidates = options.candidates ?? pursuitCandidates(nLatents, k);
  if (!Number.isInteger(candidates) || candidates < k || candidates > nLatents) {
    throw new SaeError(
      'invalid_input',
      `sae: pursuit screens to between k = ${k} and the SAE's ${nLatents} candidate atoms; got ${options.candidates}`,
    );
  }
  if (!Number.isInteger(batch) || batch < 0 || x.length !== batch * dModel) {
    throw new SaeError(
      'invalid_input',
      `sae: pursuit input has ${x.length} values for ${batch} vectors but the SAE expects ${batch} × ${dModel}; pass [batch, ${dModel}] row-major vectors`,
    );
  }
  const norms = decoderColumnNorms(decoder);
  const indices = new Int32Array(batch * k);
  const values = new Float32Array(batch * k);
  const target = new Float64Array(dModel);
  const chosen = new Uint8Array(nLatents);
  const screened: Dictionary | undefined =
    candidates < nLatents
      ? {
          W: new Float32Array(dModel * candidates),
          n: candidates,
          norms: new Float64Array(candidates),
          features: new Int32Array(candidates),
        }
      : undefined;
  const full: Dictionary = { W: W_dec, n: nLatents, norms, features: undefined };
  const state = pursuitState(dModel, k, nLatents);
  for (let row = 0; row < batch; row++) {
    for (let i = 0; i < dModel; i++) {
      const value = x[row * dModel + i]!;
      if (!Number.isFinite(value)) {
        throw new SaeError(
          'invalid_input',
          `sae: pursuit input row ${row} has value ${value} at dimension ${i}; values must be finite`,
        );
      }
      target[i] = value - b_dec[i]!;
    }
    const dictionary = screened ? screen(full, target, state.alignment, screened) : full;
    const size = pursueRow(dictionary, target, k, state);
    // The support in the decoder's feature numbers (the screened dictionary keeps them in ascending order).
    chosen.fill(0);
    for (let s = 0; s < size; s++) {
      const feature = dictionary.features ? dictionary.features[state.support[s]!]! : state.support[s]!;
      state.support[s] = feature;
      chosen[feature] = 1;
    }
    writeRow(indices, values, row, k, state.support, state.coefficients, size, chosen);
  }
  return { indices, values, batch, k };
}

/** Atoms pursuit chooses among: W [dModel, n] row-major, their norms, and their features (identity when absent). */
interface Dictionary {
  W: Float32Array;
  n: number;
  norms: Float64Array;
  features: Int32Array | undefined;
}

/** Working arrays of one pursuit, reused across rows. */
function pursuitState(dModel: number, k: number, n: number) {
  return {
    residual: new Float64Array(dModel),
    alignment: new Float64Array(n),
    taken: new Uint8Array(n),
    // Atoms of the support as contiguous columns, their Gram matrix and their products with the target.
    atoms: new Float64Array(k * dModel),
    gram: new Float64Array(k * k),
    projection: new Float64Array(k),
    coefficients: new Float64Array(k),
    support: new Int32Array(k),
  };
}

/**
 * Fills `into` with the `into.n` atoms of `full` best aligned with `target` (alignment over the atom's norm;
 * ties to the lower feature), in ascending feature order, so that pursuit over them breaks ties as over all.
 */
function screen(
  full: Dictionary,
  target: Float64Array,
  alignment: Float64Array,
  into: Dictionary,
): Dictionary {
  const { W, n, norms } = full;
  const dModel = target.length;
  correlate(W, target, alignment, dModel, n);
  for (let j = 0; j < n; j++) alignment[j] = norms[j]! > 0 ? alignment[j]! / norms[j]! : -Infinity;
  // The into.n-th best score (a numeric typed-array sort, far cheaper than sorting indices by a comparator); every
  // atom above it is taken, and atoms equal to it in feature order until into.n are.
  const threshold = Float64Array.from(alignment.subarray(0, n)).sort()[n - into.n]!;
  const features = into.features!;
  let count = 0;
  for (let j = 0; j < n; j++) if (alignment[j]! > threshold) count++;
  let ties = into.n - count;
  let c = 0;
  for (let j = 0; j < n && c < into.n; j++) {
    const value = alignment[j]!;
    if (value > threshold || (value === threshold && ties-- > 0)) features[c++] = j;
  }
  for (let c = 0; c < into.n; c++) into.norms[c] = norms[features[c]!]!;
  for (let i = 0; i < dModel; i++) {
    const from = i * n;
    const to = i * into.n;
    for (let c = 0; c < into.n; c++) into.W[to + c] = W[from + features[c]!]!;
  }
  return into;
}

/**
 * Non-negative orthogonal matching pursuit of `target` over `dictionary`: leaves the chosen atoms (dictionary
 * columns) in `state.support` and their weights in `state.coefficients`; returns how many were chosen (at most k).
 */
function pursueRow(
  dictionary: Dictionary,
  target: Float64Array,
  k: number,
  state: ReturnType<typeof pursuitState>,
): number {
  const { W, n, norms } = dictionary;
  const dModel = target.length;
  const { residual, alignment, taken, atoms, gram, projection, coefficients, support } = state;
  residual.set(target);
  taken.fill(0, 0, n);
  let size = 0;
  while (size < k) {
    correlate(W, residual, alignment, dModel, n);
    let best = -1;
    let bestValue = 0;
    for (let j = 0; j < n; j++) {
      if (taken[j] || !(norms[j]! > 0)) continue;
      const value = alignment[j]! / norms[j]!;
      if (value > bestValue) {
        bestValue = value;
        best = j;
      }
    }
    if (best < 0) break;
    taken[best] = 1;
    support[size] = best;
    const atom = atoms.subarray(size * dModel, (size + 1) * dModel);
    for (let i = 0, at = best; i < dModel; i++, at += n) atom[i] = W[at]!;
    for (let s = 0; s <= size; s++) {
      const other = atoms.subarray(s * dModel, (s + 1) * dModel);
      let dot = 0;
      for (let i = 0; i < dModel; i++) dot += atom[i]! * other[i]!;
      gram[size * k + s] = dot;
      gram[s * k + size] = dot;
    }
    let toTarget = 0;
    for (let i = 0; i < dModel; i++) toTarget += atom[i]! * target[i]!;
    projection[size] = toTarget;
    coefficients[size] = 0;
    size++;
    refitNonNegative(gram, projection, coefficients, size, k);
    residual.set(target);
    for (let s = 0; s < size; s++) {
      const c = coefficients[s]!;
      if (c === 0) continue;
      const other = atoms.subarray(s * dModel, (s + 1) * dModel);
      for (let i = 0; i < dModel; i++) residual[i]! -= c * other[i]!;
    }
  }
  return size;
}

/**
 * alignment = W_dec^T residual, for W_dec [dModel, nLatents] row-major: eight rows of W_dec per pass over
 * `alignment`, so each of its entries is loaded and stored once per eight rows instead of once per row (2.5 times
 * faster in V8, which does not vectorise the one-row loop).
 */
function correlate(
  W_dec: Float32Array,
  residual: Float64Array,
  alignment: Float64Array,
  dModel: number,
  nLatents: number,
): void {
  alignment.fill(0);
  let i = 0;
  for (; i + 8 <= dModel; i += 8) {
    const r0 = residual[i]!;
    const r1 = residual[i + 1]!;
    const r2 = residual[i + 2]!;
    const r3 = residual[i + 3]!;
    const r4 = residual[i + 4]!;
    const r5 = residual[i + 5]!;
    const r6 = residual[i + 6]!;
    const r7 = residual[i + 7]!;
    const b0 = i * nLatents;
    const b1 = b0 + nLatents;
    const b2 = b1 + nLatents;
    const b3 = b2 + nLatents;
    const b4 = b3 + nLatents;
    const b5 = b4 + nLatents;
    const b6 = b5 + nLatents;
    const b7 = b6 + nLatents;
    for (let j = 0; j < nLatents; j++) {
      alignment[j] =
        alignment[j]! +
        (r0 * W_dec[b0 + j]! + r1 * W_dec[b1 + j]! + r2 * W_dec[b2 + j]! + r3 * W_dec[b3 + j]!) +
        (r4 * W_dec[b4 + j]! + r5 * W_dec[b5 + j]! + r6 * W_dec[b6 + j]! + r7 * W_dec[b7 + j]!);
    }
  }
  for (; i < dModel; i++) {
    const r = residual[i]!;
    const base = i * nLatents;
    for (let j = 0; j < nLatents; j++) alignment[j]! += r * W_dec[base + j]!;
  }
}

/**
 * Non-negative least squares by cyclic coordinate descent, warm-started from `c`: minimises
 * |A c - y|^2 over c >= 0 given G = A^T A (stride `stride`) and p = A^T y, for the first `size` atoms.
 */
function refitNonNegative(
  gram: Float64Array,
  projection: Float64Array,
  c: Float64Array,
  size: number,
  stride: number,
): void {
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let moved = 0;
    let largest = 0;
    for (let a = 0; a < size; a++) {
      const diagonal = gram[a * stride + a]!;
      if (!(diagonal > 0)) continue;
      let dot = 0;
      for (let b = 0; b < size; b++) dot += gram[a * stride + b]! * c[b]!;
      const next = Math.max(0, c[a]! + (projection[a]! - dot) / diagonal);
      moved = Math.max(moved, Math.abs(next - c[a]!));
      c[a] = next;
      largest = Math.max(largest, next);
    }
    if (moved <= SWEEP_TOLERANCE * largest) return;
  }
}

/** Writes one row of pursued latents, strongest first, padded with zero values on unused features. */
function writeRow(
  indices: Int32Array,
  values: Float32Array,
  row: number,
  k: number,
  support: Int32Array,
  coefficients: Float64Array,
  size: number,
  chosen: Uint8Array,
): void {
  const order = Array.from({ length: size }, (_, s) => s).sort(
    (a, b) => coefficients[b]! - coefficients[a]! || support[a]! - support[b]!,
  );
  let t = 0;
  for (const s of order) {
    indices[row * k + t] = support[s]!;
    values[row * k + t] = coefficients[s]!;
    t++;
  }
  for (let j = 0; t < k; j++) {
    if (chosen[j]) continue;
    indices[row * k + t] = j;
    values[row * k + t] = 0;
    t++;
  }
}
