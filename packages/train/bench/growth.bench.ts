// Growth benchmark of streamed training (issue 15): planted vectors at d = 768 and N = 10k, 100k and 1M (files written
// once under $STEER_GROWTH_DIR, default /tmp/scale; 1M is 3 GB), each trained in its own process for a few hundred
// steps from the .npy file. Per N: neighbour-mining time, time per 1,000 steps and per epoch (projected from the
// measured step time), and peak resident memory, each beside the previous N, so the ratios show time growing about
// linearly in N and memory staying flat. $STEER_GROWTH_SIZES (e.g. "10000,100000") and $STEER_GROWTH_STEPS
// (default 300) shorten it.
import { spawn } from 'node:child_process';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GrowthPoint } from './growth-child.js';
import { plantedNpy } from './planted-file.js';
import type { Figure } from './train.bench.js';

const DIMS = 768;
const CHILD = fileURLToPath(new URL('./growth-child.js', import.meta.url));

function runPoint(file: string, dir: string, steps: number): Promise<GrowthPoint> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, file, dir, String(steps)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`growth point ${file} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as GrowthPoint);
    });
  });
}

export async function run(report: (figure: Figure) => void): Promise<void> {
  const sizes = (process.env.STEER_GROWTH_SIZES ?? '10000,100000,1000000').split(',').map(Number);
  const steps = Number(process.env.STEER_GROWTH_STEPS ?? 300);
  const dir = process.env.STEER_GROWTH_DIR ?? join(tmpdir(), 'scale');
  report({ figure: 'growth: load average (1 min) at start', value: loadavg()[0]!, unit: '' });
  let previous: { rows: number; figures: Map<string, number> } | undefined;
  for (const rows of sizes) {
    const file = await plantedNpy(dir, {
      rows,
      dims: DIMS,
      atoms: 4096,
      active: 8,
      topics: 1024,
      topicAtoms: 10,
      fromTopic: 7,
      seed: 1,
    });
    const point = await runPoint(file, join(dir, `growth-${rows}.work`), steps);
    const m = point.mining;
    const how =
      m.method === 'ivf'
        ? `ivf, ${m.lists} lists, ${m.probes} probes, recall@8 ${m.recall?.toFixed(3)} on ${m.sample} queries`
        : m.method;
    const figures = new Map<string, number>([
      ['neighbour mining', m.seconds],
      ['1,000 training steps', point.secondsPerStep * 1000],
      ['one epoch (projected)', point.secondsPerStep * point.stepsPerEpoch],
      ['peak RSS', point.peakRssBytes / 2 ** 20],
      ['peak RSS while training', point.trainingPeakRssBytes / 2 ** 20],
    ]);
    const detail: Record<string, string> = {
      'neighbour mining': ` (${how})`,
      '1,000 training steps': ` (d ${DIMS}, 8192 latents, k 32, 56 queries x 9 vectors)`,
      'one epoch (projected)': ` (${point.stepsPerEpoch} steps)`,
    };
    for (const [name, value] of figures) {
      const unit = name.startsWith('peak') ? 'MiB' : 's';
      const before = previous?.figures.get(name);
      report({
        figure: `growth: ${name}, N=${rows}${detail[name] ?? ''}`,
        value,
        unit,
        ...(before !== undefined && previous
          ? { vs: { figure: `N=${previous.rows}`, value: before, ratio: value / before } }
          : {}),
      });
    }
    previous = { rows, figures };
  }
}
