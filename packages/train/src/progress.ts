// Renders training events for people: a redrawn progress bar with rate and ETA on a TTY, one line per epoch
// otherwise; nothing at all in --json mode (the caller simply does not subscribe).
import type { TrainEvent } from './events.js';

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/**
 * An event handler that writes progress to `stream` (stderr): on a TTY (`interactive`) a bar redrawn in place with
 * done/total, rate and ETA, else a line per epoch and phase.
 */
export function createProgressReporter(
  stream: NodeJS.WritableStream,
  interactive: boolean,
  now: () => number = () => performance.now(),
): (event: TrainEvent) => void {
  let phaseStart = now();
  let phase = '';
  let lastDraw = 0;
  let firstDone = 0;
  const clear = (): void => {
    if (interactive) stream.write('\r\x1b[2K');
  };
  const bar = (label: string, done: number, total: number, extra: string): void => {
    const t = now();
    if (interactive && done < total && t - lastDraw < 100) return;
    lastDraw = t;
    const elapsed = (t - phaseStart) / 1000;
    const rate = (done - firstDone) / Math.max(elapsed, 1e-9);
    const eta = (total - done) / Math.max(rate, 1e-9);
    const width = 24;
    const filled = Math.round((width * done) / Math.max(total, 1));
    const line = `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${rate.toFixed(rate < 10 ? 2 : 0)}/s ETA ${formatDuration(eta)}${extra}`;
    if (interactive) stream.write(`\r\x1b[2K${line}`);
  };
  return (event) => {
    switch (event.type) {
      case 'backend':
        stream.write(`train: backend ${event.info.name}: ${event.info.detail}\n`);
        break;
      case 'groups':
        stream.write(
          `train: ${event.groups} ${event.neighbours > 0 ? `query groups (1 + ${event.neighbours} documents${event.pseudoQueries ? ', documents as pseudo-queries' : ''})` : 'vectors'}: ${event.train} train, ${event.validation} validation\n`,
        );
        break;
      case 'recipe': {
        const c = event.calibration;
        const kl =
          c.kldWeight > 0
            ? `KL weight ${c.kldWeightRequested}${c.loss === 'scale-free' ? ' relative' : ''} (${c.kldWeight.toPrecision(3)} applied), temperature ${c.temperature.toPrecision(3)}`
            : 'no KL term';
        stream.write(
          `train: ${event.nLatents} latents, k ${event.k}, up to ${event.epochs} epochs; ${c.loss} loss: MSE x ${c.mseScale.toPrecision(3)}, ${kl}\n`,
        );
        break;
      }
      case 'neighbour-search': {
        clear();
        phase = '';
        const how =
          event.method === 'ivf'
            ? `IVF (${event.lists} lists, ${event.probes} probed): recall@${event.m} ${event.recall?.toFixed(3)} against exact neighbours on ${event.sample} sampled queries`
            : 'exact search';
        stream.write(
          `train: nearest documents by ${how}${event.reused ? ' (read back from the state folder)' : `, ${formatDuration(event.seconds)}`}\n`,
        );
        break;
      }
      case 'resumed':
        stream.write(`train: resumed after epoch ${event.epoch} (step ${event.step})\n`);
        break;
      case 'progress': {
        const key = `${event.phase}:${event.stage ?? ''}`;
        if (key !== phase) {
          phase = key;
          phaseStart = now();
          firstDone = event.done - 1;
        }
        const label =
          event.phase === 'train'
            ? `epoch ${event.epoch}`
            : event.stage
              ? `${event.phase} (${event.stage})`
              : event.phase;
        bar(
          label,
          event.done,
          event.total,
          event.loss !== undefined ? ` loss ${event.loss.toPrecision(4)}` : '',
        );
        break;
      }
      case 'epoch': {
        clear();
        phase = '';
        const r = event.record;
        const val = r.validation
          ? ` val ${r.validation.loss.toPrecision(4)} (mse ${r.validation.mse.toPrecision(4)} kl ${r.validation.kl.toPrecision(3)})`
          : '';
        stream.write(
          `epoch ${r.epoch}: loss ${r.train.loss.toPrecision(4)} (mse ${r.train.mse.toPrecision(4)} kl ${r.train.kl.toPrecision(3)} auxk ${r.train.auxk.toPrecision(3)})${val} dead ${(100 * r.deadFraction).toFixed(1)}% lr ${r.lr.toExponential(2)} ${r.stepsPerSecond.toFixed(2)} steps/s\n`,
        );
        break;
      }
      case 'anneal':
        stream.write(
          `train: no validation gain since epoch ${event.bestEpoch}; annealing the learning rate to zero over ${event.epochs} epochs from epoch ${event.epoch + 1}\n`,
        );
        break;
      case 'early-stop':
        stream.write(
          event.annealed
            ? `train: anneal done after epoch ${event.epoch}; the best validation loss was at epoch ${event.bestEpoch}\n`
            : `train: early stop after epoch ${event.epoch}: no validation gain since epoch ${event.bestEpoch}\n`,
        );
        break;
      case 'exported':
        clear();
        stream.write(`train: SAE written to ${event.dir}\n`);
        break;
      case 'checkpoint':
        break;
    }
  };
}
