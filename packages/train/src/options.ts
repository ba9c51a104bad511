// The options of a training run: what a caller sets (TrainData, TrainOptions) and their resolution into the complete,
// checked settings the trainer runs with (the defaults of RECIPE.md).
import { resolve } from 'node:path';
import type { EmbeddingInfo } from '@steer/sae';
import type { BackendName } from './backend/index.js';
import type { LossScale } from './calibrate.js';
import type { NeighbourMethod } from './data/neighbours.js';
import type { VectorSource } from './data/source.js';
import { defaultLatents } from './defaults.js';
import { TrainError } from './errors.js';
import type { TrainEvent } from './events.js';
import type { BiasInit } from './init.js';

/**
 * Vectors to train on, in memory or read by offset from files (see openVectorFiles). Documents are required; queries
 * and their judged documents are optional.
 */
export interface TrainData {
  dModel: number;
  docs: Float32Array | VectorSource; // [nDocs, dModel]
  queries?: Float32Array | VectorSource; // [nQueries, dModel]
  /** relevant[q]: indices into `docs` judged relevant to query q. */
  relevant?: readonly (readonly number[])[];
}

/**
 * Options of {@link train}; defaults are the recipe of RECIPE.md: the paper's optimiser and groups (Adam 1e-3, cosine,
 * batch 512, M = 8), OpenAI's fixes, the scale-free loss, and latents and epochs derived from the data.
 */
export interface TrainOptions {
  /** Latents; default {@link defaultLatents} of the number of training vectors. */
  nLatents?: number;
  k: number;
  /** Maximum epochs (early stopping may end sooner); default {@link defaultEpochs} of the number of groups. */
  epochs?: number;
  /** Folder the SAE is exported to (writeSae). */
  out: string;
  /** The embedding model of the vectors, recorded in the SAE manifest. */
  embedding: EmbeddingInfo;
  /** Vectors per step (queries + their documents); default 512. */
  batch?: number;
  lr?: number;
  /**
   * How the losses are scaled (RECIPE.md): `scale-free` (default) divides the MSE by the data's variance and
   * calibrates the KL's temperature and weight on the data; `paper` is the paper's raw MSE + KL (temperature 1).
   */
  loss?: LossScale;
  /**
   * Weight of the KL loss; 0 = MSE-only ablation. Scale-free: relative to the normalised MSE for an isotropic
   * reconstruction error (default {@link DEFAULT_RELATIVE_KLD_WEIGHT}); paper: the raw weight (default 1).
   */
  kldWeight?: number;
  /** Candidate documents per query (M); 0 trains on plain rows without KL. Default 8. */
  neighbours?: number;
  /**
   * Weight of a group's query row relative to one of its documents in the reconstruction term; default M, the
   * paper's mean over queries plus mean over documents (1 weighs every row alike).
   */
  queryWeight?: number;
  /** Softmax temperature of the KL; default the spread of the scores within a group (scale-free) or 1 (paper). */
  temperature?: number;
  /** AuxK latents (default dModel / 2; 0 disables). */
  auxK?: number;
  auxCoef?: number;
  /** Rows without firing after which a latent counts as dead (default: one epoch of rows, at most 1,000,000). */
  deadAfterRows?: number;
  unitNormDecoder?: boolean;
  encoderFromDecoder?: boolean;
  biasInit?: BiasInit;
  /** Fraction of query groups held out for validation (default 0.05; 0 disables validation and early stopping). */
  validationFraction?: number;
  /** Epochs without validation improvement before the plateau action (default 3; 0 never acts). */
  patience?: number;
  /**
   * What a validation plateau does (RECIPE.md, section 4): `anneal` (default) decays the learning rate linearly to
   * zero over `annealEpochs` more epochs and then stops; `stop` stops at once (the behaviour of trainer code b106a5ca59feb5cf and earlier).
   */
  plateau?: PlateauAction;
  /** Epochs of the anneal after a plateau; default {@link defaultAnnealEpochs} of the planned epochs. */
  annealEpochs?: number;
  pseudoQueries?: 'auto' | 'on' | 'off';
  /** How the nearest documents of the KL groups are found: exact, IVF, or auto by corpus size (default). */
  neighbourSearch?: NeighbourMethod;
  /** IVF's recall@M target on sampled queries (default 0.9). */
  neighbourRecall?: number;
  /** Also write a checkpoint every this many steps within an epoch (default: every 10 minutes of training). */
  checkpointEvery?: number;
  /** Measure the final MSE and dead fraction on at most this many vectors (evenly spaced blocks); default all. */
  evaluationRows?: number;
  seed?: number;
  backend?: BackendName | 'auto';
  /** Threads of the onnx backend (default: every core); its results are the same bit for bit on any number. */
  threads?: number;
  /** Folder for checkpoints and metrics (default `<out>.train`). */
  stateDir?: string;
  /** Continue from the checkpoint in the state folder. */
  resume?: boolean;
  /** Extra provenance recorded in the manifest's `training` (e.g. an experiment's cache key). */
  provenance?: Record<string, unknown>;
  /** Stop after this many steps in total (benchmarks, smoke runs); the last weights are exported. */
  maxSteps?: number;
  onEvent?: (event: TrainEvent) => void;
}

/** What a validation plateau does: decay the learning rate to zero, then stop (`anneal`), or stop at once. */
export type PlateauAction = 'anneal' | 'stop';

/** {@link TrainOptions} with every default filled in and checked. */
export type Resolved = Required<
  Omit<
    TrainOptions,
    | 'onEvent'
    | 'maxSteps'
    | 'deadAfterRows'
    | 'stateDir'
    | 'neighbourSearch'
    | 'neighbourRecall'
    | 'checkpointEvery'
    | 'evaluationRows'
    | 'temperature'
    | 'provenance'
    | 'nLatents'
    | 'epochs'
    | 'queryWeight'
    | 'threads'
    | 'annealEpochs'
  >
> & {
  /** Undefined until the epochs are known ({@link defaultAnnealEpochs}). */
  annealEpochs: number | undefined;
  queryWeight: number | undefined;
  threads: number | undefined;
  nLatents: number;
  /** Undefined until the groups are known ({@link defaultEpochs}). */
  epochs: number | undefined;
  temperature: number | undefined;
  maxSteps: number;
  deadAfterRows: number | undefined;
  stateDir: string;
  neighbourSearch: NeighbourMethod;
  neighbourRecall: number;
  checkpointEvery: number | undefined;
  evaluationRows: number;
};

/** @throws TrainError `bad_config` unless `value` is a positive safe integer. */
export function positiveInt(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TrainError('bad_config', `train: ${name} must be a positive integer, got ${value}`);
  }
}

/** Fills in the defaults of `options` for `data` and checks them. @throws TrainError `bad_config`. */
export function resolveOptions(data: TrainData, options: TrainOptions): Resolved {
  const d = data.dModel;
  const count = (v: Float32Array | VectorSource | undefined): number =>
    v === undefined ? 0 : v instanceof Float32Array ? v.length / Math.max(1, d) : v.rows;
  const rows = count(data.docs) + count(data.queries);
  const r: Resolved = {
    batch: 512,
    lr: 1e-3,
    loss: 'scale-free',
    kldWeight: options.loss === 'paper' ? 1 : DEFAULT_RELATIVE_KLD_WEIGHT,
    neighbours: 8,
    auxK: Math.floor(d / 2),
    auxCoef: 1 / 32,
    unitNormDecoder: true,
    encoderFromDecoder: true,
    biasInit: 'geometric-median',
    validationFraction: 0.05,
    patience: 3,
    plateau: 'anneal',
    pseudoQueries: 'auto',
    seed: 0,
    backend: 'auto',
    resume: false,
    ...stripUndefined(options),
    nLatents: options.nLatents ?? defaultLatents(rows, d, options.k),
    epochs: options.epochs,
    queryWeight: options.queryWeight,
    threads: options.threads,
    annealEpochs: options.annealEpochs,
    temperature: options.temperature,
    maxSteps: options.maxSteps ?? Number.POSITIVE_INFINITY,
    neighbourSearch: options.neighbourSearch ?? 'auto',
    neighbourRecall: options.neighbourRecall ?? 0.9,
    checkpointEvery: options.checkpointEvery,
    evaluationRows: options.evaluationRows ?? Number.POSITIVE_INFINITY,
    deadAfterRows: options.deadAfterRows,
    stateDir: resolve(options.stateDir ?? `${resolve(options.out)}.train`),
  } as Resolved;
  positiveInt('--k', r.k);
  positiveInt('--latents', r.nLatents);
  if (r.epochs !== undefined) positiveInt('--epochs', r.epochs);
  positiveInt('--batch', r.batch);
  if (r.k > r.nLatents) {
    throw new TrainError(
      'bad_config',
      `train: --k ${r.k} is larger than --latents ${r.nLatents}; k must be at most the number of latents`,
    );
  }
  if (!Number.isSafeInteger(r.neighbours) || r.neighbours < 0) {
    throw new TrainError(
      'bad_config',
      `train: --neighbours must be 0 or a positive integer, got ${r.neighbours}`,
    );
  }
  if (r.neighbours > 0 && r.batch < r.neighbours + 1) {
    throw new TrainError(
      'bad_config',
      `train: --batch ${r.batch} cannot hold one query and its ${r.neighbours} documents; use --batch ${r.neighbours + 1} or more`,
    );
  }
  for (const [name, value] of [
    ['--lr', r.lr],
    ['--temperature', r.temperature ?? 1],
  ] as const) {
    if (!(value > 0) || !Number.isFinite(value))
      throw new TrainError('bad_config', `train: ${name} must be > 0, got ${value}`);
  }
  if (r.loss !== 'scale-free' && r.loss !== 'paper') {
    throw new TrainError('bad_config', `train: --loss must be scale-free or paper, got ${String(r.loss)}`);
  }
  if (!(r.kldWeight >= 0) || !Number.isFinite(r.kldWeight)) {
    throw new TrainError('bad_config', `train: --kld-weight must be >= 0, got ${r.kldWeight}`);
  }
  if (!Number.isSafeInteger(r.auxK) || r.auxK < 0)
    throw new TrainError('bad_config', `train: --aux-k must be >= 0, got ${r.auxK}`);
  if (!(r.validationFraction >= 0 && r.validationFraction < 1)) {
    throw new TrainError(
      'bad_config',
      `train: validation fraction must be in [0, 1), got ${r.validationFraction}`,
    );
  }
  if (r.queryWeight !== undefined && !(r.queryWeight > 0 && Number.isFinite(r.queryWeight))) {
    throw new TrainError('bad_config', `train: --query-weight must be > 0, got ${r.queryWeight}`);
  }
  if (r.plateau !== 'anneal' && r.plateau !== 'stop') {
    throw new TrainError('bad_config', `train: --plateau must be anneal or stop, got ${String(r.plateau)}`);
  }
  if (!Number.isSafeInteger(r.patience) || r.patience < 0) {
    throw new TrainError(
      'bad_config',
      `train: --patience must be 0 or a positive integer, got ${r.patience}`,
    );
  }
  if (r.annealEpochs !== undefined) positiveInt('--anneal-epochs', r.annealEpochs);
  if (r.deadAfterRows !== undefined) positiveInt('deadAfterRows', r.deadAfterRows);
  if (r.checkpointEvery !== undefined) positiveInt('--checkpoint-every', r.checkpointEvery);
  if (Number.isFinite(r.evaluationRows)) positiveInt('--eval-rows', r.evaluationRows);
  if (!(r.neighbourRecall > 0 && r.neighbourRecall <= 1)) {
    throw new TrainError(
      'bad_config',
      `train: --neighbour-recall must be in (0, 1], got ${r.neighbourRecall}`,
    );
  }
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Default relative KL weight of the scale-free loss (RECIPE.md says how it was chosen). */
export const DEFAULT_RELATIVE_KLD_WEIGHT = 0.03;
