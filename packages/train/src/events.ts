// What a training run reports: its progress events, one metrics line per epoch, and the final result.
import type { BackendInfo, BackendName } from './backend/index.js';
import type { LossCalibration } from './calibrate.js';
import type { LossParts } from './model.js';

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
  /** A validation plateau after `epoch` started a linear anneal of the learning rate to zero over `epochs`. */
  | { type: 'anneal'; epoch: number; bestEpoch: number; epochs: number }
  /** Training ends before the planned epochs: after an anneal (`annealed`) or at a plateau (`--plateau stop`). */
  | { type: 'early-stop'; epoch: number; bestEpoch: number; annealed: boolean }
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
  /** The epoch after which a validation plateau started the anneal, or null. */
  annealFromEpoch: number | null;
  validation: LossParts | null;
  stateDir: string;
}
