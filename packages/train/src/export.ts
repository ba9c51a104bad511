// Export of a finished run to the SAE format: the weights (the decoder transposed back to [d, n]) and the manifest's
// `training` record (recipe, calibration, neighbour search, final metrics, data hash, code version, provenance).
import { writeSae, type EmbeddingInfo } from '@steer/sae';
import type { BackendName } from './backend/index.js';
import type { LossCalibration } from './calibrate.js';
import type { Groups } from './data/groups.js';
import type { LossParts, SaeParams } from './model.js';
import type { Resolved } from './options.js';
import { codeVersion } from './provenance.js';

/** What {@link exportSae} writes: the weights and the facts of the run behind them. */
export interface FinishedRun {
  out: string;
  embedding: EmbeddingInfo;
  params: SaeParams;
  r: Resolved;
  backend: BackendName;
  epochs: number;
  epochsRun: number;
  steps: number;
  bestEpoch: number | null;
  stoppedEarly: boolean;
  /** The epoch after which a plateau started the anneal, or null. */
  annealFromEpoch: number | null;
  annealEpochs: number;
  /** Documents per query group (M). */
  neighbours: number;
  queryWeight: number;
  calibration: LossCalibration;
  deadAfterRows: number;
  groups: Groups;
  /** Training vectors (documents and queries). */
  vectors: number;
  /** The final evaluation: MSE and dead fraction over `rows` vectors. */
  final: { mse: number; deadFraction: number; rows: number };
  validation: LossParts | null;
  sha256: string;
  provenance: Record<string, unknown> | undefined;
}

/** Writes the SAE of `run` to `run.out` (writeSae). @throws SaeError from the export. */
export async function exportSae(run: FinishedRun): Promise<void> {
  const { r, params, final, vectors } = run;
  const d = params.bDec.length;
  const W_dec = transpose(params.wDecT, r.nLatents, d);
  await writeSae(
    run.out,
    { W_enc: params.wEnc, b_enc: params.bEnc, W_dec, b_dec: params.bDec, dModel: d, nLatents: r.nLatents },
    {
      k: r.k,
      embedding: run.embedding,
      training: {
        trainer: '@steer/train',
        backend: run.backend,
        epochs: run.epochs,
        epochsRun: run.epochsRun,
        steps: run.steps,
        bestEpoch: run.bestEpoch,
        stoppedEarly: run.stoppedEarly,
        batch: r.batch,
        lr: r.lr,
        schedule: 'cosine',
        patience: r.patience,
        plateau: r.plateau,
        annealEpochs: run.annealEpochs,
        annealFromEpoch: run.annealFromEpoch,
        loss: r.loss,
        kldWeight: r.kldWeight,
        neighbours: run.neighbours,
        queryWeight: run.queryWeight,
        temperature: run.calibration.temperature,
        calibration: { ...run.calibration },
        auxK: r.auxK,
        auxCoef: r.auxCoef,
        deadAfterRows: run.deadAfterRows,
        unitNormDecoder: r.unitNormDecoder,
        encoderFromDecoder: r.encoderFromDecoder,
        biasInit: r.biasInit,
        seed: r.seed,
        pseudoQueries: run.groups.pseudoQueries,
        vectors,
        neighbourSearch: run.groups.search ?? [],
        mse: final.mse,
        ...(final.rows < vectors ? { mseVectors: final.rows } : {}),
        deadFraction: final.deadFraction,
        validation: run.validation,
        data: { vectors, sha256: run.sha256 },
        code: codeVersion(),
        ...run.provenance,
      },
    },
  );
}

/** W [rows, cols] -> W^T [cols, rows]. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}
