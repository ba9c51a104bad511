// Evaluation of the current weights: the loss parts on the validation groups, and the MSE and dead fraction over the
// training vectors (all of them, or evenly spaced blocks).
import type { TrainerCore } from './backend/index.js';
import { assembleBatch, type Groups, type TrainingRows } from './data/groups.js';
import type { TrainEvent } from './events.js';
import type { LossParts } from './model.js';

/** The loss parts of the current weights on the groups `which`, in batches of `groupsPerStep` groups. */
export async function evaluateGroups(
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
export async function evaluateAllRows(
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
