// Progress reporting for long work: done/total, rate and ETA on a TTY; silent otherwise.
import type { CommandIO } from './command.js';

export interface Progress {
  update(done: number, total?: number): void;
  finish(message?: string): void;
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(0)}s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
}

/**
 * Creates a progress line on stderr labelled `label`. On a TTY (and not in --json mode) it redraws in place
 * at most ten times a second; otherwise it prints nothing until `finish`, which logs one summary line
 * unless `quiet` is set.
 */
export function createProgress(io: CommandIO, label: string, options: { quiet?: boolean } = {}): Progress {
  const started = performance.now();
  let lastDraw = 0;
  let total = 0;
  let done = 0;
  const draw = (): void => {
    const elapsed = (performance.now() - started) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    const eta = total > done && rate > 0 ? (total - done) / rate : 0;
    const percent = total > 0 ? ((100 * done) / total).toFixed(0).padStart(3) : '  ?';
    io.stderr.write(
      `\r${label} ${percent}% ${done}/${total || '?'} ${rate.toFixed(1)}/s ETA ${formatSeconds(eta)}   `,
    );
  };
  return {
    update(nextDone, nextTotal) {
      done = nextDone;
      if (nextTotal !== undefined) total = nextTotal;
      if (!io.interactive) return;
      const now = performance.now();
      if (now - lastDraw < 100 && done < total) return;
      lastDraw = now;
      draw();
    },
    finish(message) {
      const elapsed = (performance.now() - started) / 1000;
      if (io.interactive) io.stderr.write('\r\x1b[K');
      if (!options.quiet)
        io.stderr.write(`${label}: ${message ?? `${done} done`} in ${elapsed.toFixed(1)}s\n`);
    },
  };
}
