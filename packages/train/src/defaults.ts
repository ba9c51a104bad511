// Training defaults derived from the data (RECIPE.md): the number of latents and the epochs from the number of
// training vectors, so that `steer train` needs no more than `--k` on a corpus of any size.

/** Training vectors (rows, counting each group's documents) the default epochs aim to show the SAE, at least. */
const MIN_ROWS_SEEN = 1_000_000;

/**
 * Training vectors the default epochs aim to show per decoder weight (latents x dimensions), where that is more
 * than {@link MIN_ROWS_SEEN}: a larger dictionary needs more updates to converge (RECIPE.md, section 4).
 */
export const ROWS_SEEN_PER_DECODER_WEIGHT = 4;

/** The power of two nearest to `x` (x >= 1). */
function nearestPowerOfTwo(x: number): number {
  const below = 2 ** Math.floor(Math.log2(Math.max(1, x)));
  return x / below > Math.SQRT2 ? below * 2 : below;
}

/**
 * Latents per dimension the default dictionary has at least: below it a dictionary is too close to a basis of the
 * space for pursuit to code text the SAE never saw (RECIPE.md, section 4).
 */
export const MIN_LATENTS_PER_DIMENSION = 4;

/**
 * Default number of latents for `rows` training vectors of `dModel` dimensions: the power of two nearest to
 * sqrt(rows * dModel) (the dictionary grows with both the data and the space), between
 * {@link MIN_LATENTS_PER_DIMENSION} * dModel and 16 * dModel, and at least 2 * k.
 */
export function defaultLatents(rows: number, dModel: number, k = 1): number {
  const target = nearestPowerOfTwo(Math.sqrt(Math.max(1, rows) * dModel));
  const floor = MIN_LATENTS_PER_DIMENSION * dModel;
  return Math.max(2 * k, Math.min(16 * dModel, Math.max(floor, target)));
}

/**
 * Default epochs for `rows` training vectors grouped with `neighbours` documents each (an epoch shows each row
 * as a query once, with its documents): enough epochs to show the SAE {@link ROWS_SEEN_PER_DECODER_WEIGHT} vectors
 * per weight of its decoder (`dictionary.nLatents * dictionary.dModel`), and at least a million, between 10 and
 * 100. Early stopping on the validation split ends a run sooner when it stops improving.
 */
export function defaultEpochs(
  rows: number,
  neighbours = 8,
  dictionary: { nLatents: number; dModel: number } = { nLatents: 0, dModel: 0 },
): number {
  const target = Math.max(
    MIN_ROWS_SEEN,
    ROWS_SEEN_PER_DECODER_WEIGHT * dictionary.nLatents * dictionary.dModel,
  );
  const perEpoch = Math.max(1, rows) * (1 + neighbours);
  return Math.max(10, Math.min(100, Math.round(target / perEpoch)));
}

/**
 * Default epochs of the anneal after a validation plateau: a tenth of the planned `epochs`, at least 3. The learning
 * rate falls linearly from where the schedule stood to zero over them (RECIPE.md, section 4).
 */
export function defaultAnnealEpochs(epochs: number): number {
  return Math.max(3, Math.ceil(epochs / 10));
}
