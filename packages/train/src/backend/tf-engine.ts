// The one owner of TensorFlow.js's process-wide engine in Steer: it loads our TF.js, starts a compute backend on it
// (CUDA, WebGPU, wasm, cpu), detects another copy of TF.js that got there first, and gives code that must load such a
// copy a worker thread of its own. The training step itself is in tf.ts and tf-step.ts.
//
// NOTE: why there is one owner. TF.js keeps one engine and one kernel registry per process, on globalThis
// (`_tfengine`). The default embedder (@energetic-ai/core, USE lite) bundles its own TF.js 4.5, and whichever copy is
// loaded first creates that engine; backends and kernels of the two versions then mix and fail in obscure ways ("WASM
// backend not initialized"). A process that both embeds with the default embedder and trains on TF.js therefore does
// one of two things, each through this module:
//   - start the trainer's backend before the embedder loads (useBackend -> useTfBackend here): what the experiments
//     do (`prepareTrainer` in packages/eval/src/experiments/shared.ts);
//   - load the other copy in a worker thread, whose globals (and so whose engine) are its own (isolatedTfWorker):
//     what `steer train --corpus` does (packages/cli/src/commands/train.ts), which embeds before train() picks the
//     backend.
// When neither was done, useTfBackend refuses wasm and cpu with `backend_unavailable` and says so
// (test/backend/foreign-engine.test.ts).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type * as TFNamespace from '@tensorflow/tfjs';
import type * as TFWasm from '@tensorflow/tfjs-backend-wasm';
import type * as Dawn from 'webgpu';
import { TrainError, describeError } from '../errors.js';
import type { BackendInfo, BackendName } from './core.js';

/** The TF.js namespace. */
export type Tf = typeof TFNamespace;

// NOTE: the TF.js packages are CommonJS bundles; require() loads them whole, while ESM named imports
// depend on Node's export detection, which misses some of their names.
const require = createRequire(import.meta.url);
let tfCache: Tf | undefined;

// Set when another copy of TF.js created the process-wide engine before ours (see useTfBackend).
let foreignEngine = false;

/** Our TF.js, loaded on first use (which creates the process-wide engine unless another copy did). */
export function tf(): Tf {
  if (tfCache === undefined) {
    // Foreign: an engine exists although our copy of tfjs-core has not been loaded yet.
    const core = require.resolve('@tensorflow/tfjs-core', { paths: [require.resolve('@tensorflow/tfjs')] });
    foreignEngine =
      (globalThis as { _tfengine?: unknown })._tfengine !== undefined && require.cache[core] === undefined;
    tfCache = require('@tensorflow/tfjs') as Tf;
    // Production mode silences TF.js's console banner ("looks like you are running in Node.js") and debug checks.
    tfCache.enableProdMode();
  }
  return tfCache;
}

/** The backends of the TF.js core (the others live in their own modules). */
export type TfBackendName = Exclude<BackendName, 'onnx'>;

const TF_NAME: Record<TfBackendName, string> = {
  cuda: 'tensorflow',
  webgpu: 'webgpu',
  wasm: 'wasm',
  cpu: 'cpu',
};

function unavailable(name: TfBackendName, reason: string, cause?: unknown): TrainError {
  return new TrainError('backend_unavailable', `train: backend ${name} is unavailable: ${reason}`, { cause });
}

async function registerBackend(name: TfBackendName): Promise<string> {
  tf();
  switch (name) {
    case 'cpu':
      return 'pure JavaScript kernels (slowest; use wasm)';
    case 'wasm': {
      const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof TFWasm;
      // NOTE: TF.js only runs wasm threads where SharedArrayBuffer workers load from blob URLs; Node's worker_threads
      // refuse those (ERR_WORKER_PATH), so in Node the backend runs the single-threaded SIMD build whatever this says.
      wasm.setThreadsCount(availableParallelism());
      return 'WebAssembly SIMD (XNNPACK)';
    }
    case 'webgpu': {
      let adapterName = 'GPU';
      if ((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu === undefined) {
        // NOTE: Dawn prints a native warning to stderr when it cannot load the Vulkan loader; look first.
        if (process.platform === 'linux' && !vulkanLoaderPresent()) {
          throw unavailable(
            'webgpu',
            'no Vulkan loader (libvulkan.so.1) on this machine; install libvulkan1 and the GPU vendor Vulkan driver',
          );
        }
        let dawn: typeof Dawn;
        try {
          dawn = await import('webgpu');
        } catch (error) {
          throw unavailable(
            'webgpu',
            `the "webgpu" package (Dawn for Node) does not load (${describeError(error)})`,
            error,
          );
        }
        Object.assign(globalThis, dawn.globals);
        const gpu = dawn.create([]);
        const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
        if (adapter === null) {
          throw unavailable(
            'webgpu',
            'Dawn found no GPU adapter (on Linux it needs libvulkan1 and the GPU vendor Vulkan driver, e.g. NVIDIA 535+ or mesa-vulkan-drivers)',
          );
        }
        adapterName = adapter.info?.description || adapter.info?.vendor || adapterName;
        const nav = (globalThis as { navigator?: object }).navigator;
        if (nav === undefined) {
          Object.defineProperty(globalThis, 'navigator', {
            value: { gpu },
            configurable: true,
            writable: true,
          });
        } else {
          Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
        }
      }
      // NOTE: the WebGPU backend registers itself on import only when navigator.gpu exists, so it is loaded after.
      require('@tensorflow/tfjs-backend-webgpu');
      return `WebGPU via Dawn on ${adapterName}`;
    }
    case 'cuda': {
      // A computed specifier: the package is optional and absent from most installs.
      const specifier = '@tensorflow/tfjs-node-gpu';
      try {
        require(specifier);
      } catch (error) {
        throw unavailable(
          'cuda',
          `@tensorflow/tfjs-node-gpu is not installed or its native binding did not build (${describeError(error).split('\n')[0]}); ` +
            'install it with `npm install @tensorflow/tfjs-node-gpu@4.22.0` on a machine with CUDA 11.2 and cuDNN 8.1',
          error,
        );
      }
      return 'TensorFlow C library with CUDA';
    }
  }
}

/**
 * Makes `name` the active TF.js backend. @returns which backend runs, with its device and threads.
 * @throws TrainError `backend_unavailable`.
 */
export async function useTfBackend(name: TfBackendName): Promise<BackendInfo> {
  const t = tf();
  // NOTE: TF.js keeps one engine and one kernel registry per process (on globalThis). When another copy loaded
  // first (the default embedder's @energetic-ai/core bundles TF.js 4.5 and takes the wasm backend), backends and
  // kernels of the two versions mix and fail in obscure ways, so say so plainly instead.
  if (foreignEngine && (name === 'wasm' || name === 'cpu')) {
    throw unavailable(
      name,
      'another copy of TensorFlow.js (e.g. the one bundled by @energetic-ai/core, the default embedder) was loaded in ' +
        'this process first; embed in a separate process or worker thread, then train',
    );
  }
  const detail = await registerBackend(name);
  let ok: boolean;
  try {
    ok = await t.setBackend(TF_NAME[name]);
    await t.ready();
  } catch (error) {
    throw unavailable(name, `it failed to initialise (${describeError(error)})`, error);
  }
  if (!ok) throw unavailable(name, 'it failed to initialise');
  let threads = 1;
  if (name === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof TFWasm;
    threads = wasm.getThreadsCount();
  }
  if (name === 'cuda') {
    const usingGpu = (t.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
    if (usingGpu !== true) throw unavailable('cuda', 'TensorFlow loaded but sees no CUDA GPU');
  }
  if (name === 'cpu') threads = 1;
  const threadNote =
    name === 'wasm' || name === 'cpu' ? `, ${threads} thread${threads === 1 ? '' : 's'}` : '';
  return { name, detail: `${detail}${threadNote}`, threads };
}

/** The TF.js name of the active backend mapped to ours. */
export function activeBackend(): TfBackendName {
  const name = tf().getBackend();
  const found = (Object.keys(TF_NAME) as TfBackendName[]).find((b) => TF_NAME[b] === name);
  return found ?? 'cpu';
}

/**
 * Starts `moduleUrl` in a worker thread with `workerData`: its globals, and so its TF.js engine, are its own, which
 * is how code that loads another copy of TF.js (the default embedder) runs beside the trainer's (NOTE above).
 */
export function isolatedTfWorker(moduleUrl: URL, workerData: unknown): Worker {
  return new Worker(moduleUrl, { workerData });
}

/** Whether the Vulkan loader that Dawn needs on Linux is installed (standard library folders, LD_LIBRARY_PATH). */
function vulkanLoaderPresent(): boolean {
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu',
    '/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
  ];
  return dirs.some((dir) => existsSync(`${dir}/libvulkan.so.1`));
}
