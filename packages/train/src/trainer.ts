// The training loop: groups and split, epochs of Adam steps with a cosine learning rate, validation with an anneal
// (or a stop) on a plateau, an atomic checkpoint and a metrics line per epoch, exact resume, and export to the SAE
// format.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '@steer/core';
import { createTrainerCore, useBackend, type BackendInfo, type TrainerCore } from './backend/index.js';
import { readCheckpoint, writeCheckpoint, writeWeights, type Checkpoint } from './checkpoint.js';
import { calibrateLoss, momentsFrom, type LossCalibration } from './calibrate.js';
import { assembleBatch, usesPseudoQueries, type Groups, type TrainingRows } from './data/groups.js';
import { epochOrder } from './data/order.js';
import { loadOrBuildGroups } from './data/saved-groups.js';
import {
  concatSources,
  memorySource,
  scanSource,
  type SourceScan,
  type VectorSource,
} from './data/source.js';
import { defaultAnnealEpochs, defaultEpochs } from './defaults.js';
import { TrainError } from './errors.js';
import { evaluateAllRows, evaluateGroups } from './evaluate.js';
import type { EpochRecord, TrainEvent, TrainResult } from './events.js';
import { exportSae } from './export.js';
import { initialState } from './init.js';
import { appendEpochRecord, truncateMetrics } from './metrics.js';
import type { CoreState, LossParts, StepHyper } from './model.js';
import { positiveInt, resolveOptions, type Resolved, type TrainData, type TrainOptions } from './options.js';
import { Rng, deriveSeed } from './rng.js';

export { DEFAULT_RELATIVE_KLD_WEIGHT, type TrainData, type TrainOptions } from './options.js';
export type { EpochRecord, TrainEvent, TrainResult } from './events.js';

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

/** The anneal a validation plateau started: from `step` (the first step after it), over `steps` steps. */
interface Anneal {
  step: number;
  steps: number;
}

/** The anneal of `progress` in steps (it starts at the end of epoch `annealFromEpoch`), or null before a plateau. */
function annealOf(run: Run, progress: RunProgress): Anneal | null {
  if (progress.annealFromEpoch === null) return null;
  return {
    step: progress.annealFromEpoch * run.stepsPerEpoch,
    steps: run.shape.annealEpochs * run.stepsPerEpoch,
  };
}

/**
 * The learning rate of `step`: cosine annealing to zero over the planned steps (PyTorch CosineAnnealingLR with
 * T_max = total steps) and, once a plateau started an anneal, at most the cosine rate where it started, falling
 * linearly to zero over the anneal's steps.
 */
function lrAt(r: Resolved, step: number, totalSteps: number, anneal: Anneal | null): number {
  const cosine = (at: number): number =>
    (r.lr * (1 + Math.cos((Math.PI * Math.min(at, totalSteps)) / totalSteps))) / 2;
  if (anneal === null) return cosine(step);
  const left = Math.max(0, 1 - (step - anneal.step) / anneal.steps);
  return Math.min(cosine(step), cosine(anneal.step) * left);
}

/** The training vectors of `data` as one source (documents, then queries), checked and scanned once. */
function readTrainingRows(data: TrainData): { rows: TrainingRows; scan: SourceScan } {
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
  // One pass over every vector: finite values, the mean (for --bias-init mean) and the data fingerprint.
  const scan = scanSource(all, 'training vectors', (row) =>
    row < nDocs ? `${docs.description} row ${row}` : `${queries!.description} row ${row - nDocs}`,
  );
  return { rows, scan };
}

/** Starts the compute backend of `r` and reports it (with the onnx backend's thread count when one was given). */
async function startBackend(r: Resolved, emit: (event: TrainEvent) => void): Promise<BackendInfo> {
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
  return backend;
}

/** The sizes of a run, known before the neighbour search, and the fingerprint a resumed checkpoint must match. */
interface RunShape {
  /** Documents per query group (M). */
  M: number;
  pseudo: boolean;
  nGroups: number;
  nVal: number;
  deadAfterRows: number;
  epochs: number;
  /** Epochs of the anneal after a plateau. */
  annealEpochs: number;
  queryWeight: number;
  fingerprint: Record<string, unknown>;
}

function runShape(r: Resolved, rows: TrainingRows, scan: SourceScan): RunShape {
  const { nDocs, nQueries } = rows;
  const M = r.neighbours;
  const pseudo = usesPseudoQueries(M, r.pseudoQueries, nQueries);
  // The group count is known before the neighbour search: every row with M = 0, else the queries (and documents).
  const nGroups = M === 0 ? nDocs + nQueries : nQueries + (pseudo ? nDocs : 0);
  const nVal =
    r.validationFraction === 0 || nGroups < 20
      ? 0
      : Math.min(10_000, Math.max(1, Math.round(nGroups * r.validationFraction)));
  const deadAfterRows = r.deadAfterRows ?? Math.min(1_000_000, (nGroups - nVal) * (1 + M));
  const epochs = r.epochs ?? defaultEpochs(nGroups, M, { nLatents: r.nLatents, dModel: rows.dModel });
  const annealEpochs = r.annealEpochs ?? defaultAnnealEpochs(epochs);
  const queryWeight = M > 0 ? (r.queryWeight ?? M) : 1;
  const fingerprint = {
    dModel: rows.dModel,
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
    patience: r.patience,
    plateau: r.plateau,
    annealEpochs,
    pseudoQueries: pseudo,
    seed: r.seed,
    nDocs,
    nQueries,
    data: scan.fingerprint,
  };
  return { M, pseudo, nGroups, nVal, deadAfterRows, epochs, annealEpochs, queryWeight, fingerprint };
}

/** Files of the state folder. */
interface StatePaths {
  checkpoint: string;
  best: string;
  metrics: string;
}

/**
 * Creates the state folder and reads its checkpoint, checked before the neighbour search (minutes on large corpora).
 * @returns the checkpoint to resume, or null. @throws TrainError `checkpoint_mismatch` for a checkpoint without
 * --resume or of another run, `checkpoint_corrupt`.
 */
async function openStateFolder(
  r: Resolved,
  fingerprint: Record<string, unknown>,
): Promise<{ paths: StatePaths; existing: Checkpoint | null }> {
  await mkdir(r.stateDir, { recursive: true });
  const paths = {
    checkpoint: join(r.stateDir, 'checkpoint.bin'),
    best: join(r.stateDir, 'best.bin'),
    metrics: join(r.stateDir, 'metrics.jsonl'),
  };
  const existing = await readCheckpoint(paths.checkpoint);
  if (existing && !r.resume) {
    throw new TrainError(
      'checkpoint_mismatch',
      `train: ${r.stateDir} holds a checkpoint of an earlier run; pass --resume to continue it, or delete that folder to start over`,
    );
  }
  if (existing && r.resume) {
    const saved = existing.meta.fingerprint as Record<string, unknown>;
    const changed = Object.keys(fingerprint).filter(
      (key) => JSON.stringify(saved?.[key]) !== JSON.stringify(fingerprint[key]),
    );
    if (changed.length > 0) {
      throw new TrainError(
        'checkpoint_mismatch',
        `train: the checkpoint in ${r.stateDir} is from a run with different ${changed.join(', ')}; ` +
          'resume with the same data and options, or delete that folder to start over',
      );
    }
  }
  return { paths, existing: existing && r.resume ? existing : null };
}

/** The KL groups (saved or searched) and their seeded split into training and validation groups. */
async function splitGroups(
  r: Resolved,
  data: TrainData,
  rows: TrainingRows,
  scan: SourceScan,
  shape: RunShape,
  emit: (event: TrainEvent) => void,
): Promise<{ groups: Groups; trainGroups: Int32Array; valGroups: Int32Array }> {
  const { M, pseudo, nGroups, nVal } = shape;
  const rng = new Rng(r.seed);
  const { groups, reused } = await loadOrBuildGroups(
    join(r.stateDir, 'groups.bin'),
    {
      data: scan.fingerprint,
      nDocs: rows.nDocs,
      nQueries: rows.nQueries,
      neighbours: M,
      pseudoQueries: pseudo,
      seed: r.seed,
    },
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
  return { groups, trainGroups, valGroups };
}

function stepHyper(r: Resolved, d: number, shape: RunShape, calibration: LossCalibration): StepHyper {
  return {
    dModel: d,
    nLatents: r.nLatents,
    k: r.k,
    mseScale: calibration.mseScale,
    queryWeight: shape.queryWeight,
    kldWeight: calibration.kldWeight,
    temperature: calibration.temperature,
    auxK: r.auxK,
    auxCoef: r.auxCoef,
    auxScale: calibration.auxScale,
    deadAfterRows: shape.deadAfterRows,
    unitNormDecoder: r.unitNormDecoder,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
  };
}

/** Everything about a run that stays fixed while it trains. */
interface Run {
  r: Resolved;
  rows: TrainingRows;
  shape: RunShape;
  groups: Groups;
  trainGroups: Int32Array;
  valGroups: Int32Array;
  groupsPerStep: number;
  stepsPerEpoch: number;
  totalSteps: number;
  paths: StatePaths;
  backend: BackendInfo;
  emit: (event: TrainEvent) => void;
}

/** Where a run stands: restored from a checkpoint or fresh, and advanced by every step and epoch. */
interface RunProgress {
  /** Epochs finished when this process started. */
  startEpoch: number;
  step: number;
  bestVal: number;
  bestEpoch: number | null;
  badEpochs: number;
  trainSeconds: number;
  stoppedEarly: boolean;
  /** The epoch after which a plateau started the anneal (`--plateau anneal`), or null. */
  annealFromEpoch: number | null;
  /** Progress into the epoch after `startEpoch` when the checkpoint was written mid-epoch. */
  resumeInEpoch: InEpoch | null;
  lastVal: LossParts | null;
  stepsThisRun: number;
  secondsThisRun: number;
}

/** The state and progress of the checkpoint being resumed, or fresh weights and an empty metrics file. */
async function resumeOrStart(
  run: Run,
  existing: Checkpoint | null,
  scan: SourceScan,
): Promise<{ state: CoreState; progress: RunProgress }> {
  const { r, rows } = run;
  const progress: RunProgress = {
    startEpoch: 0,
    step: 0,
    bestVal: Number.POSITIVE_INFINITY,
    bestEpoch: null,
    badEpochs: 0,
    trainSeconds: 0,
    stoppedEarly: false,
    annealFromEpoch: null,
    resumeInEpoch: null,
    lastVal: null,
    stepsThisRun: 0,
    secondsThisRun: 0,
  };
  if (existing) {
    const meta = existing.meta;
    progress.startEpoch = meta.epoch as number;
    progress.step = meta.step as number;
    progress.bestVal = (meta.bestVal as number | null) ?? Number.POSITIVE_INFINITY;
    progress.bestEpoch = meta.bestEpoch as number | null;
    progress.badEpochs = meta.badEpochs as number;
    progress.trainSeconds = meta.trainSeconds as number;
    progress.stoppedEarly = meta.stoppedEarly === true;
    progress.annealFromEpoch = (meta.annealFromEpoch as number | null | undefined) ?? null;
    progress.resumeInEpoch = (meta.inEpoch as InEpoch | undefined) ?? null;
    await truncateMetrics(run.paths.metrics, progress.startEpoch);
    run.emit({ type: 'resumed', epoch: progress.startEpoch, step: progress.step });
    return { state: existing.state, progress };
  }
  const state = initialState(rows.all, rows.nDocs + rows.nQueries, {
    dModel: rows.dModel,
    nLatents: r.nLatents,
    encoderFromDecoder: r.encoderFromDecoder,
    biasInit: r.biasInit,
    rng: new Rng(deriveSeed(r.seed, 2)),
    mean: scan.mean,
  });
  await writeFileAtomic(run.paths.metrics, [], { mkdir: true });
  return { state, progress };
}

function checkpointMeta(
  run: Run,
  progress: RunProgress,
  epochsDone: number,
  inEpoch: InEpoch | null,
): Record<string, unknown> {
  return {
    fingerprint: run.shape.fingerprint,
    epoch: epochsDone,
    step: progress.step,
    bestVal: Number.isFinite(progress.bestVal) ? progress.bestVal : null,
    bestEpoch: progress.bestEpoch,
    badEpochs: progress.badEpochs,
    trainSeconds: progress.trainSeconds,
    stoppedEarly: progress.stoppedEarly,
    annealFromEpoch: progress.annealFromEpoch,
    ...(inEpoch ? { inEpoch } : {}),
  };
}

/** What the steps of one epoch did. */
interface EpochSteps {
  sums: EpochSums;
  deadFraction: number;
  lr: number;
  steps: number;
  seconds: number;
}

/**
 * The steps of epoch `epoch` (from where a mid-epoch checkpoint left it), with a checkpoint every
 * --checkpoint-every steps or {@link MID_EPOCH_CHECKPOINT_MS}. @throws TrainError `diverged`.
 */
async function trainEpoch(
  run: Run,
  progress: RunProgress,
  core: TrainerCore,
  epoch: number,
): Promise<EpochSteps> {
  const { r, shape, rows, groups, groupsPerStep, stepsPerEpoch, totalSteps } = run;
  const M = shape.M;
  const order = epochOrder(run.trainGroups, r.seed, epoch);
  const resumed = epoch === progress.startEpoch ? progress.resumeInEpoch : null;
  const sums: EpochSums = resumed ? { ...resumed.sums } : { loss: 0, mse: 0, kl: 0, auxk: 0, rows: 0 };
  let deadFraction = 0;
  let started = performance.now();
  let epochSeconds = resumed?.seconds ?? 0;
  let epochSteps = resumed?.steps ?? 0;
  let stepsSinceCheckpoint = 0;
  let lastCheckpoint = performance.now();
  const anneal = annealOf(run, progress);
  let lr = lrAt(r, progress.step, totalSteps, anneal);
  for (let s = epochSteps; s < stepsPerEpoch && progress.step < r.maxSteps; s++) {
    const start = s * groupsPerStep;
    const count = Math.min(groupsPerStep, order.length - start);
    const x = assembleBatch(rows, groups, order, start, count);
    lr = lrAt(r, progress.step, totalSteps, anneal);
    const result = await core.step({ x, groups: count, neighbours: M }, lr);
    if (!Number.isFinite(result.loss)) {
      throw new TrainError(
        'diverged',
        `train: the loss became ${result.loss} at epoch ${epoch + 1} step ${progress.step + 1}; lower --lr or check the embeddings' scale`,
      );
    }
    const batchRowCount = count * (1 + M);
    sums.loss += result.loss * batchRowCount;
    sums.mse += result.mse * batchRowCount;
    sums.kl += result.kl * batchRowCount;
    sums.auxk += result.auxk * batchRowCount;
    sums.rows += batchRowCount;
    deadFraction = result.deadFraction;
    progress.step++;
    epochSteps++;
    progress.stepsThisRun++;
    stepsSinceCheckpoint++;
    run.emit({
      type: 'progress',
      phase: 'train',
      done: progress.step,
      total: totalSteps,
      epoch: epoch + 1,
      loss: result.loss,
    });
    const due =
      r.checkpointEvery !== undefined
        ? stepsSinceCheckpoint >= r.checkpointEvery
        : performance.now() - lastCheckpoint >= MID_EPOCH_CHECKPOINT_MS;
    if (due && epochSteps < stepsPerEpoch && progress.step < r.maxSteps) {
      const now = performance.now();
      epochSeconds += (now - started) / 1000;
      progress.trainSeconds += (now - started) / 1000;
      progress.secondsThisRun += (now - started) / 1000;
      started = now;
      const inEpoch = { steps: epochSteps, sums: { ...sums }, seconds: epochSeconds };
      const path = run.paths.checkpoint;
      await writeCheckpoint(path, checkpointMeta(run, progress, epoch, inEpoch), await core.readState());
      run.emit({ type: 'checkpoint', epoch, step: progress.step, midEpoch: true, path });
      stepsSinceCheckpoint = 0;
      lastCheckpoint = performance.now();
      started = lastCheckpoint;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  epochSeconds += seconds;
  progress.trainSeconds += seconds;
  progress.secondsThisRun += seconds;
  return { sums, deadFraction, lr, steps: epochSteps, seconds: epochSeconds };
}

/**
 * After a whole epoch: validation (keeping the best weights; on a plateau, an anneal or a stop), the metrics line
 * and the checkpoint.
 */
async function finishEpoch(
  run: Run,
  progress: RunProgress,
  core: TrainerCore,
  epoch: number,
  done: EpochSteps,
): Promise<void> {
  const { r, paths, emit } = run;
  progress.lastVal =
    run.shape.nVal > 0
      ? await evaluateGroups(core, run.rows, run.groups, run.valGroups, run.groupsPerStep, emit)
      : null;
  const lastVal = progress.lastVal;
  if (lastVal !== null) {
    if (lastVal.loss < progress.bestVal) {
      progress.bestVal = lastVal.loss;
      progress.bestEpoch = epoch + 1;
      progress.badEpochs = 0;
      await writeWeights(paths.best, { epoch: epoch + 1, validation: lastVal }, await core.readState());
    } else {
      progress.badEpochs++;
    }
  }
  const plateau = lastVal !== null && r.patience > 0 && progress.badEpochs >= r.patience;
  const anneal = annealOf(run, progress);
  let annealing = false;
  if (anneal !== null) {
    // An anneal runs to its end whatever the validation does; the best validated weights are exported.
    if (progress.step >= anneal.step + anneal.steps) progress.stoppedEarly = true;
  } else if (plateau && r.plateau === 'anneal' && epoch + 1 < run.shape.epochs) {
    progress.annealFromEpoch = epoch + 1;
    annealing = true;
  } else if (plateau) {
    progress.stoppedEarly = true;
  }
  const { sums } = done;
  const record: EpochRecord = {
    epoch: epoch + 1,
    step: progress.step,
    lr: done.lr,
    train: {
      loss: sums.loss / sums.rows,
      mse: sums.mse / sums.rows,
      kl: sums.kl / sums.rows,
      auxk: sums.auxk / sums.rows,
    },
    validation: lastVal,
    deadFraction: done.deadFraction,
    stepsPerSecond: done.steps / done.seconds,
    rowsPerSecond: sums.rows / done.seconds,
    seconds: done.seconds,
    backend: run.backend.name,
  };
  await appendEpochRecord(paths.metrics, record);
  emit({ type: 'epoch', record });
  await writeCheckpoint(
    paths.checkpoint,
    checkpointMeta(run, progress, epoch + 1, null),
    await core.readState(),
  );
  emit({
    type: 'checkpoint',
    epoch: epoch + 1,
    step: progress.step,
    midEpoch: false,
    path: paths.checkpoint,
  });
  if (annealing) {
    emit({
      type: 'anneal',
      epoch: epoch + 1,
      bestEpoch: progress.bestEpoch ?? epoch + 1,
      epochs: run.shape.annealEpochs,
    });
  }
  if (progress.stoppedEarly) {
    emit({
      type: 'early-stop',
      epoch: epoch + 1,
      bestEpoch: progress.bestEpoch ?? epoch + 1,
      annealed: progress.annealFromEpoch !== null,
    });
  }
}

/**
 * Trains an SAE on `data` and exports it to `options.out`.
 * @returns the final metrics. @throws TrainError (`bad_config`, `bad_input`, `backend_unavailable`,
 * `checkpoint_mismatch`, `checkpoint_corrupt`, `diverged`) and SaeError from the export.
 */
export async function train(data: TrainData, options: TrainOptions): Promise<TrainResult> {
  const r = resolveOptions(data, options);
  const emit = options.onEvent ?? ((): void => {});
  const { rows, scan } = readTrainingRows(data);
  const backend = await startBackend(r, emit);
  const shape = runShape(r, rows, scan);
  const { paths, existing } = await openStateFolder(r, shape.fingerprint);
  const { groups, trainGroups, valGroups } = await splitGroups(r, data, rows, scan, shape, emit);
  const groupsPerStep = shape.M > 0 ? Math.max(1, Math.floor(r.batch / (1 + shape.M))) : r.batch;
  const stepsPerEpoch = Math.ceil(trainGroups.length / groupsPerStep);
  const { epochs } = shape;
  const totalSteps = stepsPerEpoch * epochs;
  const calibration = calibrate(rows, groups, trainGroups, scan, r);
  emit({ type: 'recipe', nLatents: r.nLatents, k: r.k, epochs, calibration });
  const hyper = stepHyper(r, rows.dModel, shape, calibration);
  const run: Run = {
    r,
    rows,
    shape,
    groups,
    trainGroups,
    valGroups,
    groupsPerStep,
    stepsPerEpoch,
    totalSteps,
    paths,
    backend,
    emit,
  };
  const { state, progress } = await resumeOrStart(run, existing, scan);

  const coreOptions = r.threads !== undefined ? { threads: r.threads } : {};
  let core: TrainerCore = await createTrainerCore(hyper, state, coreOptions);
  try {
    for (
      let epoch = progress.startEpoch;
      epoch < epochs && !progress.stoppedEarly && progress.step < r.maxSteps;
      epoch++
    ) {
      const done = await trainEpoch(run, progress, core, epoch);
      if (done.steps < stepsPerEpoch) break; // maxSteps reached mid-epoch: no checkpoint for a partial epoch
      await finishEpoch(run, progress, core, epoch, done);
    }

    // Export the best validated weights when validation ran, else the last ones.
    let exportState = await core.readState();
    if (progress.bestEpoch !== null && progress.step >= stepsPerEpoch) {
      const best = await readCheckpoint(paths.best);
      if (best) {
        exportState = { ...exportState, params: best.state.params };
        progress.lastVal = (best.meta.validation as LossParts | undefined) ?? progress.lastVal;
        core.dispose();
        core = await createTrainerCore(hyper, exportState, coreOptions);
      }
    }
    const final = await evaluateAllRows(core, rows, r.batch, r.evaluationRows, emit);
    const { step, bestEpoch, stoppedEarly, annealFromEpoch } = progress;
    const epochsRun = Math.min(epochs, Math.ceil(step / stepsPerEpoch));
    await exportSae({
      out: options.out,
      embedding: options.embedding,
      params: exportState.params,
      r,
      backend: backend.name,
      epochs,
      epochsRun,
      steps: step,
      bestEpoch,
      stoppedEarly,
      annealFromEpoch,
      annealEpochs: shape.annealEpochs,
      neighbours: shape.M,
      queryWeight: shape.queryWeight,
      calibration,
      deadAfterRows: shape.deadAfterRows,
      groups,
      vectors: rows.nDocs + rows.nQueries,
      final,
      validation: progress.lastVal,
      sha256: scan.sha256,
      provenance: options.provenance,
    });
    emit({ type: 'exported', dir: options.out });
    return {
      sae: resolve(options.out),
      nLatents: r.nLatents,
      calibration,
      mse: final.mse,
      deadFraction: final.deadFraction,
      stepsPerSecond:
        progress.stepsThisRun > 0
          ? progress.stepsThisRun / progress.secondsThisRun
          : step / Math.max(progress.trainSeconds, 1e-9),
      backend,
      epochs: epochsRun,
      steps: step,
      bestEpoch,
      stoppedEarly,
      annealFromEpoch,
      validation: progress.lastVal,
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
