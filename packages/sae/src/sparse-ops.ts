// Sparse decoder arithmetic in JS on a Float32Array view of W_dec [d, n] (stride n): decode, feature
// edits and steering touch only the active or edited columns.
import { SaeError } from './errors.js';

/** Top-k latents per row, sorted by value descending; both arrays are [batch, k] row-major. */
export interface SparseLatents {
  indices: Int32Array;
  values: Float32Array;
  batch: number;
  k: number;
}

/** How a steered query is formed: `residual` = q + W_dec (h' - h); `reconstructed` = W_dec h' + b_dec. */
export type SteerMode = 'residual' | 'reconstructed';

/**
 * How a query's latents h are found for steering: `encoder` = the SAE's TopK encoder; `pursuit` = k of the
 * decoder's atoms chosen to fit the query (`pursueLatents`): a closer reconstruction of queries unlike the
 * training documents, at the cost of a pursuit per query.
 */
export type QueryCoding = 'encoder' | 'pursuit';

/**
 * How a user asks for a query to be coded (`code=`, the configuration's `queryCode`): a {@link QueryCoding}, or
 * `auto` (the default): pursuit when the search uses the query's reconstruction (`steer=reconstructed`), where
 * the encoder's error on a query shows in every result, and the encoder otherwise (residual steering keeps the
 * query's own vector, so only the edited features' activations depend on the code).
 */
export type QueryCodeChoice = QueryCoding | 'auto';

/** The values {@link QueryCodeChoice} accepts, for validating configuration and messages. */
export const QUERY_CODE_CHOICES: readonly QueryCodeChoice[] = ['auto', 'encoder', 'pursuit'];

/** The coding a query gets under `choice` (default `auto`) when it is steered in `steerMode`. */
export function resolveQueryCoding(choice: QueryCodeChoice | undefined, steerMode: SteerMode): QueryCoding {
  if (choice === 'encoder' || choice === 'pursuit') return choice;
  return steerMode === 'reconstructed' ? 'pursuit' : 'encoder';
}

/** One edit of a latent: add to it (active or not), set it, or zero it. */
export type FeatureEdit =
  | { feature: number; op: 'add'; value: number }
  | { feature: number; op: 'set'; value: number }
  | { feature: number; op: 'zero' };

/** The decoder: W_dec [dModel, nLatents] row-major and b_dec [dModel]. */
export interface Decoder {
  W_dec: Float32Array;
  b_dec: Float32Array;
  dModel: number;
  nLatents: number;
}

/**
 * Checks edits: known op, integer feature in [0, nLatents), finite value.
 * @throws SaeError `feature_out_of_range` or `invalid_input`.
 */
export function validateEdits(edits: readonly FeatureEdit[], nLatents: number): void {
  if (!Array.isArray(edits))
    throw new SaeError('invalid_input', 'sae: edits must be an array of { feature, op, value }');
  edits.forEach((edit, i) => {
    const { feature, op } = edit ?? ({} as FeatureEdit);
    if (op !== 'add' && op !== 'set' && op !== 'zero') {
      throw new SaeError(
        'invalid_input',
        `sae: edit ${i} has op ${JSON.stringify(op)}; use "add", "set" or "zero"`,
      );
    }
    if (!Number.isInteger(feature) || feature < 0 || feature >= nLatents) {
      throw new SaeError(
        'feature_out_of_range',
        `sae: edit ${i} names feature ${String(feature)} but the SAE has features 0..${nLatents - 1}; use a feature id below ${nLatents}`,
      );
    }
    if (op !== 'zero' && !Number.isFinite(edit.value)) {
      throw new SaeError(
        'invalid_input',
        `sae: edit ${i} (${op} on feature ${feature}) has value ${String(edit.value)}; use a finite number`,
      );
    }
  });
}

/** Applies edits in order to a sparse latent vector given as feature -> value (missing = 0); returns a new map. */
export function applyEdits(
  latents: ReadonlyMap<number, number>,
  edits: readonly FeatureEdit[],
): Map<number, number> {
  const edited = new Map(latents);
  for (const edit of edits) {
    const current = edited.get(edit.feature) ?? 0;
    if (edit.op === 'add') edited.set(edit.feature, current + edit.value);
    else if (edit.op === 'set') edited.set(edit.feature, edit.value);
    else edited.set(edit.feature, 0);
  }
  return edited;
}

/**
 * L2 norm |h| of row `row` of sparse latents (positive values only): the size of a vector's code, the base of
 * relative steering strengths (`1x` = the SAE's calibration scale x |h| of the query).
 */
export function latentNorm(latents: Pick<SparseLatents, 'values' | 'k'>, row = 0): number {
  let sum = 0;
  for (let t = 0; t < latents.k; t++) sum += Math.max(0, latents.values[row * latents.k + t]!) ** 2;
  return Math.sqrt(sum);
}

/** Row `row` of sparse latents as feature -> value. */
export function latentRow(latents: SparseLatents, row: number): Map<number, number> {
  const map = new Map<number, number>();
  for (let t = 0; t < latents.k; t++) {
    const value = latents.values[row * latents.k + t]!;
    const feature = latents.indices[row * latents.k + t]!;
    map.set(feature, (map.get(feature) ?? 0) + value);
  }
  return map;
}

/** out[j] += scale * W_dec[j, feature] for every j (one strided column). */
export function addColumn(decoder: Decoder, out: Float32Array, feature: number, scale: number): void {
  const { W_dec, dModel, nLatents } = decoder;
  for (let j = 0, at = feature; j < dModel; j++, at += nLatents) out[j]! += scale * W_dec[at]!;
}

/**
 * Decodes sparse latents: x_hat = W_dec h + b_dec per row.
 * @throws SaeError `invalid_input` (shapes, non-finite values) or `feature_out_of_range`.
 */
export function decodeSparse(decoder: Decoder, latents: SparseLatents): Float32Array {
  const { batch, k, indices, values } = latents;
  if (!Number.isInteger(batch) || batch < 0 || !Number.isInteger(k) || k < 0) {
    throw new SaeError(
      'invalid_input',
      `sae: latents have batch ${batch} and k ${k}; both must be non-negative integers`,
    );
  }
  if (
    !(indices instanceof Int32Array) ||
    !(values instanceof Float32Array) ||
    indices.length !== batch * k ||
    values.length !== batch * k
  ) {
    throw new SaeError(
      'invalid_input',
      `sae: latents must hold an Int32Array and a Float32Array of batch × k = ${batch * k} entries; got ${indices?.length} indices and ${values?.length} values`,
    );
  }
  const { dModel, nLatents, W_dec, b_dec } = decoder;
  const out = new Float32Array(batch * dModel);
  for (let row = 0; row < batch; row++) {
    const base = row * dModel;
    out.set(b_dec, base);
    for (let t = 0; t < k; t++) {
      const feature = indices[row * k + t]!;
      const value = values[row * k + t]!;
      if (feature < 0 || feature >= nLatents) {
        throw new SaeError(
          'feature_out_of_range',
          `sae: latents row ${row} names feature ${feature} but the SAE has features 0..${nLatents - 1}; decode latents produced by this SAE`,
        );
      }
      if (!Number.isFinite(value)) {
        throw new SaeError(
          'invalid_input',
          `sae: latents row ${row} has value ${value} for feature ${feature}; values must be finite`,
        );
      }
      if (value === 0) continue;
      for (let j = 0, at = feature; j < dModel; j++, at += nLatents) out[base + j]! += value * W_dec[at]!;
    }
  }
  return out;
}

/**
 * Rescales a vector to unit L2 norm in place.
 * @throws SaeError `zero_vector` when its norm is 0 or not finite.
 */
export function normalizeInPlace(vector: Float32Array): void {
  let sum = 0;
  for (let j = 0; j < vector.length; j++) sum += vector[j]! * vector[j]!;
  const norm = Math.sqrt(sum);
  if (!(norm > 0) || !Number.isFinite(norm)) {
    throw new SaeError(
      'zero_vector',
      `sae: the steered vector has L2 norm ${norm} and cannot be normalized; use smaller or fewer edits, or normalize: false`,
    );
  }
  for (let j = 0; j < vector.length; j++) vector[j] = vector[j]! / norm;
}
