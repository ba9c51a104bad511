// The trainable state of a TopK SAE in the trainer's layout, and the step hyperparameters.
// Layout: the decoder is kept transposed, one row per latent (wDecT [n, d]), so that the rows a batch
// touches can be gathered and scattered; the exported artifact uses W_dec [d, n] (see export.ts).

/** SAE parameters. wEnc: [nLatents, dModel], bEnc: [nLatents], wDecT: [nLatents, dModel], bDec: [dModel]. */
export interface SaeParams {
  wEnc: Float32Array;
  bEnc: Float32Array;
  wDecT: Float32Array;
  bDec: Float32Array;
}

/** Everything an exact resume needs from the compute side: parameters, Adam moments, dead-latent counters. */
export interface CoreState {
  params: SaeParams;
  /** Adam first and second moments, same shapes as `params`. */
  adamM: SaeParams;
  adamV: SaeParams;
  /** Adam steps taken so far. */
  adamStep: number;
  /** sinceFired: Int32Array // [nLatents]: training rows seen since each latent last fired. */
  sinceFired: Int32Array;
}

/** Hyperparameters of one optimisation step (fixed for a run). */
export interface StepHyper {
  dModel: number;
  nLatents: number;
  k: number;
  /**
   * Factor on the mean squared error: 1 / (the training data's variance per dimension) in the scale-free recipe,
   * so that the reconstruction term is the normalised MSE (1 = no better than predicting the mean); 1 in the paper's.
   */
  mseScale: number;
  /**
   * Weight of a query row relative to a document row in the reconstruction term (with neighbours > 0):
   * 1 = one mean over every row; M = the paper's mean over queries plus mean over documents (halved).
   */
  queryWeight: number;
  /** Weight of the KL term of Eq. 2; 0 gives the MSE-only ablation. */
  kldWeight: number;
  /** Softmax temperature of the query-to-document score distributions (the paper uses 1). */
  temperature: number;
  /** Latents in the AuxK reconstruction of the residual; 0 disables AuxK. */
  auxK: number;
  /** Coefficient of the AuxK loss (OpenAI: 1/32). */
  auxCoef: number;
  /**
   * Factor that puts the (residual-normalised) AuxK error in the reconstruction term's units: 1 in the scale-free
   * recipe (OpenAI adds two normalised errors), the data's mean(x^2) in the paper's (its MSE is not normalised).
   */
  auxScale: number;
  /** A latent is dead when it has not fired for this many training rows. */
  deadAfterRows: number;
  /** Keep decoder rows at unit norm (project the parallel gradient out, renormalise after each step). */
  unitNormDecoder: boolean;
  beta1: number;
  beta2: number;
  eps: number;
}

/**
 * One batch. Rows are laid out as `groups` queries first, then `groups * neighbours` documents,
 * group-major (documents of query g are rows groups + g*neighbours .. groups + (g+1)*neighbours - 1).
 * With neighbours = 0 the batch is `groups` plain rows and there is no KL term.
 */
export interface StepBatch {
  x: Float32Array; // [rows, dModel]
  groups: number;
  neighbours: number;
}

/** Loss parts of a step or an evaluation (means over the batch). */
export interface LossParts {
  /** Total optimised loss: mseScale * mse + kldWeight * kl + auxCoef * auxScale * auxk. */
  loss: number;
  /** Mean squared error over rows and dimensions, query rows weighted by `queryWeight`. */
  mse: number;
  /** Mean over query groups of KL(p || p_hat); 0 without neighbours. */
  kl: number;
  /** Normalised AuxK residual error (sum (e_hat - e)^2 / sum e^2); 0 when no latent is dead or AuxK is off. */
  auxk: number;
}

/** Number of rows in a batch. */
export function batchRows(batch: { groups: number; neighbours: number }): number {
  return batch.groups * (1 + batch.neighbours);
}
