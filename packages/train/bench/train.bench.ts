// Benchmark of one SAE training step (k = 32, 56 queries x (1 + 8) documents = 504 rows, MSE + KL, Adam) at
// d = 512/768 and n = 8,192/32,768 on every available TF.js backend, side by side with the paper's PyTorch step
// (bench/torch_reference.py, dense decoder) run in the same process tree. Ratio = PyTorch ms / our ms.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BACKEND_ORDER, createTrainerCore, useBackend, type BackendName } from '../src/backend/tf.js';
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

interface TorchResult {
  msPerStep: number;
  blas: string;
}

function torchStep(
  d: number,
  n: number,
  warmup: number,
  steps: number,
  env?: NodeJS.ProcessEnv,
): TorchResult | string {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  const run = spawnSync(
    PYTHON,
    [
      SCRIPT,
      String(d),
      String(n),
      String(K),
      String(GROUPS),
      String(NEIGHBOURS),
      String(warmup),
      String(steps),
    ],
    {
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, ...env },
    },
  );
  if (run.status !== 0) {
    const why = (run.stderr || run.error?.message || '').trim().split('\n').pop() ?? 'failed';
    return /No module named 'torch'/.test(run.stderr ?? '')
      ? 'PyTorch is not installed (apt-get install -y python3-torch)'
      : why;
  }
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as TorchResult;
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
  const core = createTrainerCore(hyper, state);
  try {
    const batch = { x, groups: GROUPS, neighbours: NEIGHBOURS };
    for (let i = 0; i < warmup; i++) await core.step(batch, 1e-3);
    const start = performance.now();
    for (let i = 0; i < steps; i++) await core.step(batch, 1e-3);
    return (performance.now() - start) / steps;
  } finally {
    core.dispose();
  }
}

/** Runs the benchmark, printing each figure through `report`. */
export async function run(report: (figure: Figure) => void): Promise<void> {
  const available: BackendName[] = [];
  for (const name of BACKEND_ORDER) {
    try {
      const info = await useBackend(name);
      available.push(name);
      console.log(`train bench: backend ${name}: ${info.detail}`);
    } catch (error) {
      console.log(`train bench: backend ${name} unavailable: ${(error as Error).message}`);
    }
  }
  const rows = GROUPS * (1 + NEIGHBOURS);
  const torchFigure = 'PyTorch paper step (dense decoder, Debian python3-torch)';
  let wasmSmallest: number | undefined;
  for (const { d, n } of CONFIGS) {
    // Ours first, then the baseline right after it, so both see the same machine load.
    const ours = new Map<BackendName, number>();
    for (const backend of available) {
      // The pure-JS cpu backend needs ~30 s per step at the smallest size; one size keeps the bench short.
      if (backend === 'cpu' && (d !== 512 || n !== 8192)) continue;
      await useBackend(backend);
      // Two warm-up steps: the first ones grow the wasm heap and compile GPU shaders.
      ours.set(backend, await ourStep(d, n, backend === 'cpu' ? 0 : 2, backend === 'cpu' ? 1 : 2));
    }
    const torch = torchStep(d, n, 1, n > 8192 ? 1 : 2);
    if (typeof torch === 'string')
      console.log(`train bench: PyTorch baseline unavailable at d=${d} n=${n}: ${torch}`);
    else console.log(`train bench: PyTorch at d=${d} n=${n} linked ${torch.blas}`);
    for (const [backend, ms] of ours) {
      const figure = `train step d=${d} n=${n} k=${K} rows=${rows} [${backend}]`;
      report(
        typeof torch === 'string'
          ? { figure, value: ms, unit: 'ms' }
          : {
              figure,
              value: ms,
              unit: 'ms',
              vs: { figure: torchFigure, value: torch.msPerStep, ratio: torch.msPerStep / ms },
            },
      );
    }
    if (d === 512 && n === 8192) wasmSmallest = ours.get('wasm');
  }
  // Debian's python3-torch links the netlib reference BLAS unless an optimised one (libopenblas0) is installed; time
  // that default too at the smallest size, since it is what `apt-get install python3-torch` alone gives.
  const referenceBlas = '/usr/lib/x86_64-linux-gnu/blas';
  if (existsSync(`${referenceBlas}/libblas.so.3`) && wasmSmallest !== undefined) {
    const torch = torchStep(512, 8192, 0, 1, { LD_LIBRARY_PATH: referenceBlas });
    if (typeof torch !== 'string') {
      report({
        figure: `train step d=512 n=8192 k=${K} rows=${rows} [wasm] vs reference-BLAS torch`,
        value: wasmSmallest,
        unit: 'ms',
        vs: {
          figure: 'PyTorch paper step on netlib reference BLAS',
          value: torch.msPerStep,
          ratio: torch.msPerStep / wasmSmallest,
        },
      });
    }
  }
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
