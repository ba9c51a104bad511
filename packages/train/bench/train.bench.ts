// Benchmark of one SAE training step (k = 32, 56 queries x (1 + 8) documents = 504 rows, MSE + KL, Adam) at
// d = 512/768 and n = 8,192/32,768 on every available backend, side by side with the paper's PyTorch step
// (bench/torch_reference.py, dense decoder) on every core, run right after ours at each size. Each side reports its
// median step (5 of ours after 2 warm-up steps, 3 of PyTorch's after 1). Ratio = PyTorch ms / our ms. The baseline's
// BLAS and thread counts are printed, and no ratio is printed against the netlib reference BLAS.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BACKEND_ORDER, createTrainerCore, useBackend, type BackendName } from '../src/backend/index.js';
import { initialState } from '../src/init.js';
import type { StepHyper } from '../src/model.js';
import { Rng } from '../src/rng.js';

/** One printed figure (COMMON.md bench contract). */
export interface Figure {
  figure: string;
  value: number;
  unit: string;
  vs?: { figure: string; value: number; ratio: number };
}

const K = 32;
const NEIGHBOURS = 8;
const GROUPS = 56; // 56 x (1 + 8) = 504 rows, the largest batch <= 512 of whole query groups
const CONFIGS = [
  { d: 512, n: 8192 },
  { d: 768, n: 8192 },
  { d: 512, n: 32768 },
  { d: 768, n: 32768 },
];
const PYTHON = '/usr/bin/python3'; // Debian's python3 with python3-torch, not a pyenv python on PATH
const SCRIPT = fileURLToPath(new URL('../../bench/torch_reference.py', import.meta.url));

/** What torch_reference.py reports. */
export interface TorchResult {
  msPerStep: number;
  torch: string;
  threads: number;
  blas: {
    kind: 'openblas' | 'mkl' | 'reference' | 'unknown';
    library: string;
    detail: string;
    core: string | null;
    threads: number | null;
    forcedCore: string | null;
  };
}

function torchStep(d: number, n: number, warmup: number, steps: number): TorchResult | string {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  const run = spawnSync(PYTHON, [SCRIPT, ...[d, n, K, GROUPS, NEIGHBOURS, warmup, steps].map(String)], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (run.status !== 0) {
    const why = (run.stderr || run.error?.message || '').trim().split('\n').pop() ?? 'failed';
    return /No module named 'torch'/.test(run.stderr ?? '')
      ? 'PyTorch is not installed (apt-get install -y python3-torch libopenblas0-pthread)'
      : why;
  }
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as TorchResult;
}

/** A line on the baseline's BLAS and threads. */
export function describeBaseline(torch: TorchResult): string {
  const { blas } = torch;
  const name =
    blas.kind === 'openblas'
      ? `OpenBLAS (${blas.detail}; kernels ${blas.core}${blas.forcedCore ? `, forced from ${blas.forcedCore.split(' ')[0]} that OpenBLAS picked for this unknown CPU` : ''}; ${blas.threads} BLAS threads)`
      : blas.kind === 'reference'
        ? 'the netlib reference BLAS (unoptimised)'
        : `${blas.kind} BLAS`;
  return `PyTorch ${torch.torch}, ${torch.threads} threads, ${name}, loaded from ${blas.library}`;
}

async function ourStep(d: number, n: number, warmup: number, steps: number): Promise<number> {
  const rng = new Rng(1);
  const rows = GROUPS * (1 + NEIGHBOURS);
  const x = Float32Array.from({ length: rows * d }, () => rng.normal() / Math.sqrt(d));
  const state = initialState(x, rows, {
    dModel: d,
    nLatents: n,
    encoderFromDecoder: true,
    biasInit: 'mean',
    rng,
  });
  const hyper: StepHyper = {
    dModel: d,
    nLatents: n,
    k: K,
    mseScale: 1,
    queryWeight: 1,
    kldWeight: 1,
    temperature: 1,
    auxK: d / 2,
    auxCoef: 1 / 32,
    auxScale: 1,
    deadAfterRows: 1_000_000,
    unitNormDecoder: true,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
  };
  const core = await createTrainerCore(hyper, state);
  try {
    const batch = { x, groups: GROUPS, neighbours: NEIGHBOURS };
    for (let i = 0; i < warmup; i++) await core.step(batch, 1e-3);
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const start = performance.now();
      await core.step(batch, 1e-3);
      times.push(performance.now() - start);
    }
    // The median step, like the baseline's: robust to a step slowed by other work on a shared machine.
    return times.sort((a, b) => a - b)[Math.floor(steps / 2)]!;
  } finally {
    core.dispose();
  }
}

/**
 * Runs the benchmark, printing each figure through `report`. `STEER_BENCH_TRAIN_BACKENDS=onnx,wasm` limits it to
 * those backends.
 */
export async function run(report: (figure: Figure) => void): Promise<void> {
  const wanted = process.env.STEER_BENCH_TRAIN_BACKENDS?.split(',').map((b) => b.trim());
  const available: BackendName[] = [];
  for (const name of BACKEND_ORDER.filter((b) => wanted === undefined || wanted.includes(b))) {
    try {
      const info = await useBackend(name);
      available.push(name);
      console.log(`train bench: backend ${name}: ${info.detail}`);
    } catch (error) {
      console.log(`train bench: backend ${name} unavailable: ${(error as Error).message}`);
    }
  }
  const load = (): string =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(`train bench: ${availableParallelism()} cores, load average ${load()} at the start`);
  const rows = GROUPS * (1 + NEIGHBOURS);
  let lastBaseline = '';
  for (const { d, n } of CONFIGS) {
    // Ours first, then the baseline right after it, so both see the same machine load.
    const ours = new Map<BackendName, number>();
    for (const backend of available) {
      // The pure-JS cpu backend needs ~30 s per step at the smallest size; one size keeps the bench short.
      if (backend === 'cpu' && (d !== 512 || n !== 8192)) continue;
      await useBackend(backend);
      // Two warm-up steps: the first ones grow the wasm heap, start worker threads and compile GPU shaders.
      ours.set(backend, await ourStep(d, n, backend === 'cpu' ? 0 : 2, backend === 'cpu' ? 1 : 5));
    }
    const torch = torchStep(d, n, 1, 3);
    if (typeof torch === 'string') {
      console.log(`train bench: PyTorch baseline unavailable at d=${d} n=${n}: ${torch}`);
    } else {
      const line = describeBaseline(torch);
      if (line !== lastBaseline) console.log(`train bench: baseline: ${line}`);
      lastBaseline = line;
      if (torch.blas.kind === 'reference') {
        console.log(
          'train bench: no ratio against the netlib reference BLAS, which no PyTorch user runs; ' +
            'install an optimised BLAS (apt-get install libopenblas0-pthread) and run the bench again',
        );
      }
    }
    const baseline =
      typeof torch === 'string' || torch.blas.kind === 'reference'
        ? undefined
        : {
            figure: `PyTorch paper step (dense decoder, ${torch.blas.kind} ${torch.blas.core ?? ''}, ${torch.threads} threads)`,
            value: torch.msPerStep,
          };
    for (const [backend, ms] of ours) {
      const figure = `train step d=${d} n=${n} k=${K} rows=${rows} [${backend}]`;
      report(
        baseline === undefined
          ? { figure, value: ms, unit: 'ms' }
          : { figure, value: ms, unit: 'ms', vs: { ...baseline, ratio: baseline.value / ms } },
      );
    }
  }
  console.log(`train bench: load average ${load()} at the end`);
}

// Run directly: node dist/bench/train.bench.js
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await run((f) => {
    const vs = f.vs
      ? ` | ${f.vs.figure}: ${f.vs.value.toFixed(1)} ${f.unit} | ratio ${f.vs.ratio.toFixed(2)}x`
      : '';
    console.log(`${f.figure}: ${f.value.toFixed(1)} ${f.unit}${vs}`);
  });
}
