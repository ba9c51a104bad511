// The training loop: groups and split, epochs of Adam steps with a cosine learning rate, validation and early
// stopping, an atomic checkpoint and a metrics line per epoch, exact resume, and export to the SAE format.
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '@steer/core';
import { writeSae, type EmbeddingInfo } from '@steer/sae';
import {
  createTrainerCore,
  useBackend,
  type BackendInfo,
  type BackendName,
  type TrainerCore,
} from './backend/index.js';
import { readCheckpoint, writeCheckpoint, writeWeights } from './checkpoint.js';
import { calibrateLoss, momentsFrom, type LossCalibration, type LossScale } from './calibrate.js';
import { assembleBatch, usesPseudoQueries, type Groups, type TrainingRows } from './data/groups.js';
import type { NeighbourMethod } from './data/neighbours.js';
import { epochOrder } from './data/order.js';
import { loadOrBuildGroups } from './data/saved-groups.js';
import {
  concatSources,
  memorySource,
  scanSource,
  type SourceScan,
  type VectorSource,
} from './data/source.js';
import { TrainError, describeError } from './errors.js';
import { initialState, type BiasInit } from './init.js';
import type { CoreState, LossParts, StepHyper } from './model.js';
import { codeVersion } from './provenance.js';
import { defaultEpochs, defaultLatents } from './defaults.js';
import { Rng, deriveSeed } from './rng.js';

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
  /** Epochs without validation improvement before stopping (default 3; 0 never stops early). */
  patience?: number;
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

/** One line of metrics.jsonl. */
export interface EpochRecord {
  epoch: number;
  step: number;
  lr: number;
  train: LossParts;
  validation: LossParts | null;
  /** Latents not fired for `deadAfterRows` rows at the end of the epoch. */
  deadFraction: number;
  stepsPerSecond: number;
  rowsPerSecond: number;
  seconds: number;
  backend: BackendName;
}

/** Progress of a run, for progress bars and logs. */
export type TrainEvent =
  | { type: 'backend'; info: BackendInfo }
  | {
      type: 'groups';
      groups: number;
      train: number;
      validation: number;
      pseudoQueries: boolean;
      neighbours: number;
    }
  | {
      type: 'neighbour-search';
      method: 'exact' | 'ivf';
      /** Neighbours searched per query. */
      m: number;
      seconds: number;
      lists?: number;
      probes?: number;
      /** IVF: recall@M against exact neighbours on `sample` random queries. */
      recall?: number;
      sample?: number;
      /** True when the groups were read back from the state folder instead of searched again. */
      reused: boolean;
    }
  | {
      type: 'progress';
      phase: 'neighbours' | 'train' | 'evaluate';
      /** The neighbour search's stage: exact, k-means, lists, search. */
      stage?: string;
      done: number;
      total: number;
      epoch?: number;
      loss?: number;
    }
  | { type: 'recipe'; nLatents: number; k: number; epochs: number; calibration: LossCalibration }
  | { type: 'resumed'; epoch: number; step: number }
  | { type: 'epoch'; record: EpochRecord }
  | { type: 'checkpoint'; epoch: number; step: number; midEpoch: boolean; path: string }
  | { type: 'early-stop'; epoch: number; bestEpoch: number }
  | { type: 'exported'; dir: string };

/** What a finished run reports. */
export interface TrainResult {
  sae: string;
  nLatents: number;
  /** The loss constants the run used (scale-free or paper, with the data statistics behind them). */
  calibration: LossCalibration;
  /** Mean squared reconstruction error over all training vectors with the exported weights. */
  mse: number;
  /** Fraction of latents that fire on none of the training vectors with the exported weights. */
  deadFraction: number;
  stepsPerSecond: number;
  backend: BackendInfo;
  epochs: number;
  steps: number;
  bestEpoch: number | null;
  stoppedEarly: boolean;
  validation: LossParts | null;
  stateDir: string;
}

type Resolved = Required<
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
  >
> & {
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

/** Sums of an epoch's loss parts, weighted by rows. */
interface EpochSums {
  loss: number;
  mse: number;
  kl: number;
  auxk: number;
  rows: number;
}

/** How far into an epoch a mid-epoch checkpoint was written. */
interface InEpoch {
  steps: number;
  sums: EpochSums;
  seconds: number;
}

/** Without --checkpoint-every, a checkpoint is also written after this much training time within an epoch. */
const MID_EPOCH_CHECKPOINT_MS = 10 * 60 * 1000;

function positiveInt(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TrainError('bad_config', `train: ${name} must be a positive integer, got ${value}`);
  }
}

function resolveOptions(data: TrainData, options: TrainOptions): Resolved {
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
    pseudoQueries: 'auto',
    seed: 0,
    backend: 'auto',
    resume: false,
    ...stripUndefined(options),
    nLatents: options.nLatents ?? defaultLatents(rows, d, options.k),
    epochs: options.epochs,
    queryWeight: options.queryWeight,
    threads: options.threads,
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

/** Groups sampled to calibrate the KL's temperature and weight (the first ones of the shuffled training split). */
const CALIBRATION_GROUPS = 4096;

/** The loss constants of a run, from the moments of every training vector and a sample of training groups. */
function calibrate(
  rows: TrainingRows,
  groups: Groups,
  trainGroups: Int32Array,
  scan: SourceScan,
  r: Resolved,
): LossCalibration {
  const count = groups.neighbours > 0 ? Math.min(CALIBRATION_GROUPS, trainGroups.length) : 0;
  const sample = {
    x: assembleBatch(rows, groups, trainGroups, 0, count),
    groups: count,
    neighbours: groups.neighbours,
  };
  return calibrateLoss(momentsFrom(scan.mean, scan.meanSquare), sample, rows.dModel, {
    loss: r.loss,
    kldWeight: r.kldWeight,
    ...(r.temperature !== undefined ? { temperature: r.temperature } : {}),
  });
}

function lrAt(r: Resolved, step: number, totalSteps: number): number {
  // Cosine annealing to zero over the planned steps (PyTorch CosineAnnealingLR with T_max = total steps).
  return (r.lr * (1 + Math.cos((Math.PI * Math.min(step, totalSteps)) / totalSteps))) / 2;
}

/**
 * Trains an SAE on `data` and exports it to `options.out`.
 * @returns the final metrics. @throws TrainError (`bad_config`, `bad_input`, `backend_unavailable`,
 * `checkpoint_mismatch`, `checkpoint_corrupt`, `diverged`) and SaeError from the export.
 */
export async function train(data: TrainData, options: TrainOptions): Promise<TrainResult> {
  const r = resolveOptions(data, options);
  const emit = options.onEvent ?? ((): void => {});
  const d = data.dModel;
  positiveInt('dModel', d);
  const docs = asSource(data.docs, d, 'documents');
  const queries = data.queries ? asSource(data.queries, d, 'queries') : null;
  const nDocs = docs.rows;
  const nQueries = queries?.rows ?? 0;
  if (data.relevant && data.relevant.length !== nQueries) {
    throw new TrainError(
      'bad_input',
      `train: relevance lists for ${data.relevant.length} queries but there are ${nQueries} queries`,
    );
  }
  const all = nQueries > 0 ? concatSources([docs, queries!]) : docs;
  const rows: TrainingRows = {
    all,
    docs,
    queries: nQueries > 0 ? queries : null,
    dModel: d,
    nDocs,
    nQueries,
  };
  const totalRows = nDocs + nQueries;
  // One pass over every vector: finite values, the mean (for --bias-init mean) and the data fingerprint.
  const scan = scanSource(all, 'training vectors', (row) =>
    row < nDocs ? `${docs.description} row ${row}` : `${queries!.description} row ${row - nDocs}`,
  );

  const started = await useBackend(r.backend);
  const backend: BackendInfo =
    started.name === 'onnx' && r.threads !== undefined
      ? {
          ...started,
          threads: r.threads,
          detail: started.detail.replace(
            /\d+ threads?\b/,
            `${r.threads} thread${r.threads === 1 ? '' : 's'}`,
          ),
        }
      : started;
  emit({ type: 'backend', info: backend });

  const M = r.neighbours;
  const pseudo = usesPseudoQueries(M, r.pseudoQueries, nQueries);
  // The group count is known before the neighbour search: every row with M = 0, else the queries (and documents).
  const nGroups = M === 0 ? totalRows : nQueries + (pseudo ? nDocs : 0);
  const nVal =
    r.validationFraction === 0 || nGroups < 20
      ? 0
      : Math.min(10_000, Math.max(1, Math.round(nGroups * r.validationFraction)));
  const deadAfterRows = r.deadAfterRows ?? Math.min(1_000_000, (nGroups - nVal) * (1 + M));
  const epochs = r.epochs ?? defaultEpochs(nGroups, M);
  const queryWeight = M > 0 ? (r.queryWeight ?? M) : 1;
  const fingerprint = {
    dModel: d,
    nLatents: r.nLatents,
    k: r.k,
    epochs,
    batch: r.batch,
    lr: r.lr,
    loss: r.loss,
    kldWeight: r.kldWeight,
    neighbours: M,
    queryWeight,
    temperature: r.temperature ?? null,
    auxK: r.auxK,
    auxCoef: r.auxCoef,
    deadAfterRows,
    unitNormDecoder: r.unitNormDecoder,
    encoderFromDecoder: r.encoderFromDecoder,
    biasInit: r.biasInit,
    validationFraction: r.validationFraction,
    pseudoQueries: pseudo,
    seed: r.seed,
    nDocs,
    nQueries,
    data: scan.fingerprint,
  };

  await mkdir(r.stateDir, { recursive: true });
  const checkpointPath = join(r.stateDir, 'checkpoint.bin');
  const bestPath = join(r.stateDir, 'best.bin');
  const metricsPath = join(r.stateDir, 'metrics.jsonl');
  // Checked before the neighbour search, which takes minutes on large corpora.
  const existing = await readCheckpoint(checkpointPath);
  if (existing && !r.resume) {
    throw new TrainError(
      'checkpoint_mismatch',
      `train: ${r.stateDir} holds a checkpoint of an earlier run; pass --resume to continue it, or delete that folder to start over`,
    );
  }
  if (existing && r.resume) {
    const saved = existing.meta.fingerprint as Record<string, unknown>;
    const changed = Object.keys(fingerprint).filter(
      (key) => JSON.stringify(saved?.[key]) !== JSON.stringify((fingerprint as Record<string, unknown>)[key]),
    );
    if (changed.length > 0) {
      throw new TrainError(
        'checkpoint_mismatch',
        `train: the checkpoint in ${r.stateDir} is from a run with different ${changed.join(', ')}; ` +
          'resume with the same data and options, or delete that folder to start over',
      );
    }
  }

  const rng = new Rng(r.seed);
  const { groups, reused } = await loadOrBuildGroups(
    join(r.stateDir, 'groups.bin'),
    { data: scan.fingerprint, nDocs, nQueries, neighbours: M, pseudoQueries: pseudo, seed: r.seed },
    rows,
    {
      neighbours: M,
      pseudoQueries: r.pseudoQueries,
      ...(data.relevant ? { relevant: data.relevant } : {}),
      rng,
      search: { method: r.neighbourSearch, recallTarget: r.neighbourRecall, seed: r.seed },
      onProgress: (done, total, stage) => emit({ type: 'progress', phase: 'neighbours', stage, done, total }),
    },
  );
  for (const how of groups.search ?? []) emit({ type: 'neighbour-search', ...how, reused });
  const split = new Rng(deriveSeed(r.seed, 1)).shuffle(Int32Array.from({ length: nGroups }, (_, g) => g));
  const valGroups = split.slice(0, nVal);
  const trainGroups = split.slice(nVal);
  emit({
    type: 'groups',
    groups: nGroups,
    train: trainGroups.length,
    validation: nVal,
    pseudoQueries: groups.pseudoQueries,
    neighbours: groups.neighbours,
  });

  const groupsPerStep = M > 0 ? Math.max(1, Math.floor(r.batch / (1 + M))) : r.batch;
  const stepsPerEpoch = Math.ceil(trainGroups.length / groupsPerStep);
  const totalSteps = stepsPerEpoch * epochs;
  const calibration = calibrate(rows, groups, trainGroups, scan, r);
  emit({ type: 'recipe', nLatents: r.nLatents, k: r.k, epochs, calibration });
  const hyper: StepHyper = {
    dModel: d,
    nLatents: r.nLatents,
    k: r.k,
    mseScale: calibration.mseScale,
    queryWeight,
    kldWeight: calibration.kldWeight,
    temperature: calibration.temperature,
    auxK: r.auxK,
    auxCoef: r.auxCoef,
    auxScale: calibration.auxScale,
    deadAfterRows,
    unitNormDecoder: r.unitNormDecoder,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
  };

  let state: CoreState;
  let startEpoch = 0;
  let step = 0;
  let bestVal = Number.POSITIVE_INFINITY;
  let bestEpoch: number | null = null;
  let badEpochs = 0;
  let trainSeconds = 0;
  let stoppedEarly = false;
  // Progress into the epoch after `startEpoch` when the checkpoint was written mid-epoch.
  let resumeInEpoch: InEpoch | null = null;
  if (existing && r.resume) {
    state = existing.state;
    startEpoch = existing.meta.epoch as number;
    step = existing.meta.step as number;
    bestVal = (existing.meta.bestVal as number | null) ?? Number.POSITIVE_INFINITY;
    bestEpoch = existing.meta.bestEpoch as number | null;
    badEpochs = existing.meta.badEpochs as number;
    trainSeconds = existing.meta.trainSeconds as number;
    stoppedEarly = existing.meta.stoppedEarly === true;
    resumeInEpoch = (existing.meta.inEpoch as InEpoch | undefined) ?? null;
    await truncateMetrics(metricsPath, startEpoch);
    emit({ type: 'resumed', epoch: startEpoch, step });
  } else {
    state = initialState(all, totalRows, {
      dModel: d,
      nLatents: r.nLatents,
      encoderFromDecoder: r.encoderFromDecoder,
      biasInit: r.biasInit,
      rng: new Rng(deriveSeed(r.seed, 2)),
      mean: scan.mean,
    });
    await writeFileAtomic(metricsPath, [], { mkdir: true });
  }

  const coreOptions = r.threads !== undefined ? { threads: r.threads } : {};
  let core: TrainerCore = await createTrainerCore(hyper, state, coreOptions);
  let lastVal: LossParts | null = null;
  let stepsThisRun = 0;
  let secondsThisRun = 0;
  const checkpointMeta = (epochsDone: number, inEpoch: InEpoch | null): Record<string, unknown> => ({
    fingerprint,
    epoch: epochsDone,
    step,
    bestVal: Number.isFinite(bestVal) ? bestVal : null,
    bestEpoch,
    badEpochs,
    trainSeconds,
    stoppedEarly,
    ...(inEpoch ? { inEpoch } : {}),
  });
  try {
    for (let epoch = startEpoch; epoch < epochs && !stoppedEarly && step < r.maxSteps; epoch++) {
      const order = epochOrder(trainGroups, r.seed, epoch);
      const resumed = epoch === startEpoch ? resumeInEpoch : null;
      const sums: EpochSums = resumed ? { ...resumed.sums } : { loss: 0, mse: 0, kl: 0, auxk: 0, rows: 0 };
      let deadFraction = 0;
      let started = performance.now();
      let epochSeconds = resumed?.seconds ?? 0;
      let epochSteps = resumed?.steps ?? 0;
      let stepsSinceCheckpoint = 0;
      let lastCheckpoint = performance.now();
      let lr = lrAt(r, step, totalSteps);
      for (let s = epochSteps; s < stepsPerEpoch && step < r.maxSteps; s++) {
        const start = s * groupsPerStep;
        const count = Math.min(groupsPerStep, order.length - start);
        const x = assembleBatch(rows, groups, order, start, count);
        lr = lrAt(r, step, totalSteps);
        const result = await core.step({ x, groups: count, neighbours: M }, lr);
        if (!Number.isFinite(result.loss)) {
          throw new TrainError(
            'diverged',
            `train: the loss became ${result.loss} at epoch ${epoch + 1} step ${step + 1}; lower --lr or check the embeddings' scale`,
          );
        }
        const batchRowCount = count * (1 + M);
        sums.loss += result.loss * batchRowCount;
        sums.mse += result.mse * batchRowCount;
        sums.kl += result.kl * batchRowCount;
        sums.auxk += result.auxk * batchRowCount;
        sums.rows += batchRowCount;
        deadFraction = result.deadFraction;
        step++;
        epochSteps++;
        stepsThisRun++;
        stepsSinceCheckpoint++;
        emit({
          type: 'progress',
          phase: 'train',
          done: step,
          total: totalSteps,
          epoch: epoch + 1,
          loss: result.loss,
        });
        const due =
          r.checkpointEvery !== undefined
            ? stepsSinceCheckpoint >= r.checkpointEvery
            : performance.now() - lastCheckpoint >= MID_EPOCH_CHECKPOINT_MS;
        if (due && epochSteps < stepsPerEpoch && step < r.maxSteps) {
          const now = performance.now();
          epochSeconds += (now - started) / 1000;
          trainSeconds += (now - started) / 1000;
          secondsThisRun += (now - started) / 1000;
          started = now;
          const inEpoch = { steps: epochSteps, sums: { ...sums }, seconds: epochSeconds };
          await writeCheckpoint(checkpointPath, checkpointMeta(epoch, inEpoch), await core.readState());
          emit({ type: 'checkpoint', epoch, step, midEpoch: true, path: checkpointPath });
          stepsSinceCheckpoint = 0;
          lastCheckpoint = performance.now();
          started = lastCheckpoint;
        }
      }
      const seconds = (performance.now() - started) / 1000;
      epochSeconds += seconds;
      trainSeconds += seconds;
      secondsThisRun += seconds;
      if (epochSteps < stepsPerEpoch) break; // maxSteps reached mid-epoch: no checkpoint for a partial epoch
      lastVal = nVal > 0 ? await evaluateGroups(core, rows, groups, valGroups, groupsPerStep, emit) : null;
      if (lastVal !== null) {
        if (lastVal.loss < bestVal) {
          bestVal = lastVal.loss;
          bestEpoch = epoch + 1;
          badEpochs = 0;
          await writeWeights(bestPath, { epoch: epoch + 1, validation: lastVal }, await core.readState());
        } else {
          badEpochs++;
          if (r.patience > 0 && badEpochs >= r.patience) stoppedEarly = true;
        }
      }
      const record: EpochRecord = {
        epoch: epoch + 1,
        step,
        lr,
        train: {
          loss: sums.loss / sums.rows,
          mse: sums.mse / sums.rows,
          kl: sums.kl / sums.rows,
          auxk: sums.auxk / sums.rows,
        },
        validation: lastVal,
        deadFraction,
        stepsPerSecond: epochSteps / epochSeconds,
        rowsPerSecond: sums.rows / epochSeconds,
        seconds: epochSeconds,
        backend: backend.name,
      };
      await appendFile(metricsPath, `${JSON.stringify(record)}\n`);
      emit({ type: 'epoch', record });
      await writeCheckpoint(checkpointPath, checkpointMeta(epoch + 1, null), await core.readState());
      emit({ type: 'checkpoint', epoch: epoch + 1, step, midEpoch: false, path: checkpointPath });
      if (stoppedEarly) emit({ type: 'early-stop', epoch: epoch + 1, bestEpoch: bestEpoch ?? epoch + 1 });
    }

    // Export the best validated weights when validation ran, else the last ones.
    let exportState = await core.readState();
    if (bestEpoch !== null && step >= stepsPerEpoch) {
      const best = await readCheckpoint(bestPath);
      if (best) {
        exportState = { ...exportState, params: best.state.params };
        lastVal = (best.meta.validation as LossParts | undefined) ?? lastVal;
        core.dispose();
        core = await createTrainerCore(hyper, exportState, coreOptions);
      }
    }
    const final = await evaluateAllRows(core, rows, r.batch, r.evaluationRows, emit);
    const { params } = exportState;
    const W_dec = transpose(params.wDecT, r.nLatents, d);
    const stepsPerSecond =
      stepsThisRun > 0 ? stepsThisRun / secondsThisRun : step / Math.max(trainSeconds, 1e-9);
    await writeSae(
      options.out,
      { W_enc: params.wEnc, b_enc: params.bEnc, W_dec, b_dec: params.bDec, dModel: d, nLatents: r.nLatents },
      {
        k: r.k,
        embedding: options.embedding,
        training: {
          trainer: '@steer/train',
          backend: backend.name,
          epochs,
          epochsRun: Math.min(epochs, Math.ceil(step / stepsPerEpoch)),
          steps: step,
          bestEpoch,
          stoppedEarly,
          batch: r.batch,
          lr: r.lr,
          schedule: 'cosine',
          loss: r.loss,
          kldWeight: r.kldWeight,
          neighbours: M,
          queryWeight,
          temperature: calibration.temperature,
          calibration: { ...calibration },
          auxK: r.auxK,
          auxCoef: r.auxCoef,
          deadAfterRows,
          unitNormDecoder: r.unitNormDecoder,
          encoderFromDecoder: r.encoderFromDecoder,
          biasInit: r.biasInit,
          seed: r.seed,
          pseudoQueries: groups.pseudoQueries,
          vectors: totalRows,
          neighbourSearch: groups.search ?? [],
          mse: final.mse,
          ...(final.rows < totalRows ? { mseVectors: final.rows } : {}),
          deadFraction: final.deadFraction,
          validation: lastVal,
          data: { vectors: totalRows, sha256: scan.sha256 },
          code: codeVersion(),
          ...options.provenance,
        },
      },
    );
    emit({ type: 'exported', dir: options.out });
    return {
      sae: resolve(options.out),
      nLatents: r.nLatents,
      calibration,
      mse: final.mse,
      deadFraction: final.deadFraction,
      stepsPerSecond,
      backend,
      epochs: Math.min(epochs, Math.ceil(step / stepsPerEpoch)),
      steps: step,
      bestEpoch,
      stoppedEarly,
      validation: lastVal,
      stateDir: r.stateDir,
    };
  } finally {
    core.dispose();
  }
}

/** Wraps in-memory vectors as a source, checking that they are whole rows of `d`. */
function asSource(vectors: Float32Array | VectorSource, d: number, what: string): VectorSource {
  if (!(vectors instanceof Float32Array)) {
    if (vectors.dims !== d) {
      throw new TrainError(
        'bad_input',
        `train: ${what} (${vectors.description}) have ${vectors.dims} dims but dModel is ${d}; check the dims`,
      );
    }
    return vectors;
  }
  if (vectors.length % d !== 0) {
    throw new TrainError(
      'bad_input',
      `train: the ${what}' length ${vectors.length} is not a multiple of dModel ${d}; check the dims`,
    );
  }
  return memorySource(vectors, d, what);
}

/** W [rows, cols] -> W^T [cols, rows]. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

async function evaluateGroups(
  core: TrainerCore,
  rows: TrainingRows,
  groups: Groups,
  which: Int32Array,
  groupsPerStep: number,
  emit: (event: TrainEvent) => void,
): Promise<LossParts> {
  const sums = { loss: 0, mse: 0, kl: 0, auxk: 0, rows: 0 };
  const M = groups.neighbours;
  for (let start = 0; start < which.length; start += groupsPerStep) {
    const count = Math.min(groupsPerStep, which.length - start);
    const x = assembleBatch(rows, groups, which, start, count);
    const result = await core.evaluate({ x, groups: count, neighbours: M });
    const n = count * (1 + M);
    sums.loss += result.loss * n;
    sums.mse += result.mse * n;
    sums.kl += result.kl * n;
    sums.rows += n;
    emit({ type: 'progress', phase: 'evaluate', done: start + count, total: which.length });
  }
  return { loss: sums.loss / sums.rows, mse: sums.mse / sums.rows, kl: sums.kl / sums.rows, auxk: 0 };
}

/**
 * MSE and dead fraction of the current weights over every training vector, or over `limit` of them in evenly spaced
 * blocks of `batch` rows when there are more.
 */
async function evaluateAllRows(
  core: TrainerCore,
  rows: TrainingRows,
  batch: number,
  limit: number,
  emit: (event: TrainEvent) => void,
): Promise<{ mse: number; deadFraction: number; rows: number }> {
  const total = rows.nDocs + rows.nQueries;
  const d = rows.dModel;
  const blocks = Math.ceil(Math.min(total, limit) / batch);
  const spaced = Math.min(total, limit) < total;
  const buffer = new Float32Array(batch * d);
  let fired: Uint8Array | null = null;
  let sum = 0;
  let seen = 0;
  for (let b = 0; b < blocks; b++) {
    const start = spaced ? Math.floor((b * total) / blocks) : b * batch;
    const count = Math.min(batch, total - start);
    const result = await core.evaluate({
      x: rows.all.readRange(start, count, buffer.subarray(0, count * d)),
      groups: count,
      neighbours: 0,
    });
    sum += result.mse * count;
    seen += count;
    if (fired === null) fired = result.fired;
    else for (let i = 0; i < fired.length; i++) fired[i] = fired[i]! | result.fired[i]!;
    emit({ type: 'progress', phase: 'evaluate', done: seen, total: Math.min(total, blocks * batch) });
  }
  let dead = 0;
  for (const f of fired!) if (f === 0) dead++;
  return { mse: sum / seen, deadFraction: dead / fired!.length, rows: seen };
}

/** Drops metrics lines of epochs after `epoch` (written before a crash that lost their checkpoint). */
async function truncateMetrics(path: string, epoch: number): Promise<void> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new TrainError('file_unreadable', `train: cannot read ${path} (${describeError(error)})`);
  }
  const kept = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .filter((line) => {
      try {
        return (JSON.parse(line) as { epoch: number }).epoch <= epoch;
      } catch {
        return false;
      }
    });
  await writeFileAtomic(path, kept.map((l) => `${l}\n`).join(''), { mkdir: true });
}
