// metrics.jsonl of the state folder: one line per finished epoch, and on resume the lines of epochs after the
// checkpoint dropped.
import { appendFile, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@steer/core';
import { TrainError, describeError } from './errors.js';
import type { EpochRecord } from './events.js';

/** Appends the line of one finished epoch. */
export async function appendEpochRecord(path: string, record: EpochRecord): Promise<void> {
  await appendFile(path, `${JSON.stringify(record)}\n`);
}

/** Drops metrics lines of epochs after `epoch` (written before a crash that lost their checkpoint). */
export async function truncateMetrics(path: string, epoch: number): Promise<void> {
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
