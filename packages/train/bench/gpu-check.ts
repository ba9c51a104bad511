// The device check run by scripts/device-check.sh on a GPU machine: trains a fixed number of steps on each GPU
// backend and on wasm (steps/s side by side), then batch-encodes with the SAE runtime's WebGPU and CPU providers.
// Usage: node packages/train/dist/bench/gpu-check.js [--small] [--out <dir>]
//   --small: tiny sizes, for a local smoke run of this script on a machine without a GPU.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadSae } from '@steer/sae';
import { BACKEND_ORDER, train, useBackend, type BackendName } from '../src/index.js';
import { Rng } from '../src/rng.js';

/** Runs the check; `argv` as on the command line (--small, --out <dir>). */
export async function runGpuCheck(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { small: { type: 'boolean' }, out: { type: 'string' } },
  });
  const small = values.small === true;
  const d = small ? 64 : 768;
  const n = small ? 512 : 32768;
  const k = 32;
  const rows = small ? 2048 : 16384;
  const gpuSteps = small ? 4 : 40;
  const cpuSteps = small ? 4 : 3;

  const rng = new Rng(3);
  const docs = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let norm = 0;
    for (let c = 0; c < d; c++) {
      const v = rng.normal();
      docs[r * d + c] = v;
      norm += v * v;
    }
    for (let c = 0; c < d; c++) docs[r * d + c]! /= Math.sqrt(norm);
  }

  const report: Record<string, unknown> = { d, n, k, rows, batch: 504, neighbours: 8 };
  const work = await mkdtemp(join(tmpdir(), 'steer-gpu-check-'));
  const trained: Partial<Record<BackendName, { stepsPerSecond: number; sae: string; detail: string }>> = {};
  try {
    for (const backend of BACKEND_ORDER.filter((b) => b !== 'cpu')) {
      try {
        await useBackend(backend);
      } catch (error) {
        console.log(`gpu-check: ${backend} unavailable: ${(error as Error).message}`);
        report[`${backend}Unavailable`] = (error as Error).message;
        continue;
      }
      const steps = backend === 'wasm' ? cpuSteps : gpuSteps;
      const out = join(work, `sae-${backend}`);
      const started = performance.now();
      const result = await train(
        { dModel: d, docs },
        {
          nLatents: n,
          k,
          epochs: 1,
          batch: 512,
          neighbours: 8,
          maxSteps: steps,
          validationFraction: 0,
          out,
          embedding: { model: 'random-unit', dims: d, normalized: true },
          backend,
        },
      );
      const seconds = (performance.now() - started) / 1000;
      trained[backend] = { stepsPerSecond: result.stepsPerSecond, sae: out, detail: result.backend.detail };
      console.log(
        `gpu-check: ${backend}: ${steps} steps at ${result.stepsPerSecond.toFixed(2)} steps/s (${result.backend.detail}; whole run ${seconds.toFixed(1)} s incl. neighbours and export)`,
      );
    }
    const wasm = trained.wasm?.stepsPerSecond;
    for (const [backend, t] of Object.entries(trained)) {
      report[`${backend}StepsPerSecond`] = t.stepsPerSecond;
      if (wasm !== undefined && backend !== 'wasm') {
        report[`${backend}VsWasm`] = t.stepsPerSecond / wasm;
        console.log(`gpu-check: ${backend} is ${(t.stepsPerSecond / wasm).toFixed(1)}x wasm`);
      }
    }

    // Batch encoding with the SAE runtime: WebGPU provider vs CPU provider, on the SAE trained above.
    const sae = trained.webgpu?.sae ?? trained.cuda?.sae ?? trained.wasm?.sae;
    if (sae !== undefined) {
      const batch = Math.min(rows, 8192);
      const x = docs.subarray(0, batch * d);
      const timings: Record<string, number> = {};
      const indices: Record<string, Int32Array> = {};
      for (const provider of ['webgpu', 'cpu'] as const) {
        const runtime = await loadSae(sae, { provider });
        try {
          await runtime.encode(x, batch); // warm-up (session creation, shader compilation)
          const started = performance.now();
          const reps = 3;
          let last;
          for (let i = 0; i < reps; i++) last = await runtime.encode(x, batch);
          if (runtime.provider !== provider) report[`${provider}EncodeFellBackTo`] = runtime.provider;
          timings[provider] = (performance.now() - started) / reps;
          indices[provider] = last!.indices;
          console.log(
            `gpu-check: encode ${batch} x ${d} with provider ${provider} (ran on ${runtime.provider}): ${timings[provider]!.toFixed(1)} ms`,
          );
        } finally {
          await runtime.dispose();
        }
      }
      report.encodeMs = timings;
      if (
        timings.webgpu !== undefined &&
        timings.cpu !== undefined &&
        report.webgpuEncodeFellBackTo === undefined
      ) {
        report.encodeWebgpuVsCpu = timings.cpu / timings.webgpu;
        const a = indices.webgpu!;
        const b = indices.cpu!;
        let same = 0;
        for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
        report.encodeIndexAgreement = same / a.length;
        console.log(
          `gpu-check: webgpu encode is ${(timings.cpu / timings.webgpu).toFixed(1)}x cpu; top-k indices agree on ${((100 * same) / a.length).toFixed(2)}%`,
        );
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  console.log(JSON.stringify(report));
  if (values.out !== undefined)
    await writeFile(join(values.out, 'device-check.json'), `${JSON.stringify(report, null, 2)}\n`);
}

// Only when run as a program: a bench runner that imports every compiled bench file must not start it.
if (process.argv[1] === fileURLToPath(import.meta.url)) await runGpuCheck(process.argv.slice(2));
