// The default recipe on planted dictionaries (issue 11): unit atoms mixed 4 at a time with weights 0.5-1.5, trained
// with default flags (only k given, KL on), and the fraction of atoms a decoder row recovers at cosine > 0.9,
// side by side with the same run without the KL term. Also the original command line (192 latents, 30 epochs,
// batch 256). Trains on the backend `steer train` picks (auto: onnx on a CPU machine), or STEER_PLANTED_BACKEND, on
// STEER_PLANTED_THREADS threads (default every core). Slow (a minute or more per case on one core): run with
// `npm run bench -- --only planted`; STEER_PLANTED_CASES=0,2 picks cases.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSaeWeights } from '@steer/sae';
import { train, type TrainOptions } from '../src/index.js';
import { bestCosines, plantedData } from '../test/support/synthetic.js';
import type { Figure } from './train.bench.js';

interface PlantedCase {
  name: string;
  d: number;
  atoms: number;
  rows: number;
  options: Partial<TrainOptions>;
}

const CASES: PlantedCase[] = [
  { name: '64-d, 96 atoms, 8,000 vectors, default flags', d: 64, atoms: 96, rows: 8000, options: {} },
  {
    name: '64-d, 96 atoms, 8,000 vectors, --latents 192 --epochs 30 --batch 256',
    d: 64,
    atoms: 96,
    rows: 8000,
    options: { nLatents: 192, epochs: 30, batch: 256 },
  },
  { name: '512-d, 96 atoms, 4,096 vectors, default flags', d: 512, atoms: 96, rows: 4096, options: {} },
];

/** Trains one case and returns the fraction of atoms recovered at cosine > 0.9, and the run's latents. */
export async function recoveredFraction(
  c: PlantedCase,
  kldWeight: number | undefined,
  seed = 0,
): Promise<{ fraction: number; nLatents: number; epochs: number; backend: string; seconds: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'steer-planted-'));
  try {
    const { dict, docs } = plantedData(c.d, c.atoms, 4, c.rows);
    const result = await train(
      { dModel: c.d, docs },
      {
        k: 4,
        ...c.options,
        ...(kldWeight !== undefined ? { kldWeight } : {}),
        seed,
        out: join(dir, 'sae'),
        embedding: { model: 'planted', dims: c.d, normalized: false },
        backend: (process.env.STEER_PLANTED_BACKEND as TrainOptions['backend']) ?? 'auto',
        ...(process.env.STEER_PLANTED_THREADS ? { threads: Number(process.env.STEER_PLANTED_THREADS) } : {}),
      },
    );
    const weights = await readSaeWeights(join(dir, 'sae'));
    const cosines = bestCosines(dict, c.atoms, weights.W_dec, c.d, result.nLatents);
    return {
      fraction: cosines.filter((v) => v > 0.9).length / c.atoms,
      nLatents: result.nLatents,
      epochs: result.epochs,
      backend: result.backend.name,
      seconds: result.steps / result.stepsPerSecond,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function run(report: (figure: Figure) => void): Promise<void> {
  const only = process.env.STEER_PLANTED_CASES?.split(',').map(Number);
  for (const [i, c] of CASES.entries()) {
    if (only && !only.includes(i)) continue;
    const withKl = await recoveredFraction(c, undefined);
    const withoutKl = await recoveredFraction(c, 0);
    report({
      figure: `planted atoms recovered at cosine > 0.9, KL on (${c.name}; ${withKl.nLatents} latents, ${withKl.epochs} epochs, ${withKl.backend}, ${withKl.seconds.toFixed(0)} s)`,
      value: 100 * withKl.fraction,
      unit: '%',
      vs: {
        figure: 'the same run with --kld-weight 0',
        value: 100 * withoutKl.fraction,
        ratio: withoutKl.fraction === 0 ? 0 : withKl.fraction / withoutKl.fraction,
      },
    });
  }
}
