// A worker thread of the onnxruntime core: runs its share of the sparse step (sparse-step.ts) on shared memory.
import { parentPort } from 'node:worker_threads';
import type { StepHyper } from '../model.js';
import type { WorkerReply, WorkerRequest } from './onnx.js';
import { forwardUnits, updateLatents, type StepMemory } from './sparse-step.js';
import { instantiateKernels, kernelModule, type WasmKernels } from './wasm-kernels.js';

let mem: StepMemory | undefined;
let hyper: StepHyper | undefined;
let kernels: WasmKernels | undefined;

parentPort!.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    switch (request.type) {
      case 'memory':
        mem = request.mem;
        hyper = request.hyper;
        if (mem.kernelMemory !== undefined && kernels?.memory !== mem.kernelMemory)
          kernels = instantiateKernels(kernelModule()!, mem.kernelMemory);
        reply = { ok: true };
        break;
      case 'forward':
        forwardUnits(mem!, hyper!, request.shape, request.start, request.end, request.slot, kernels);
        reply = { ok: true };
        break;
      case 'update':
        updateLatents(
          mem!,
          hyper!,
          request.shape,
          request.first,
          request.end,
          request.slot,
          request.options,
          kernels,
        );
        reply = { ok: true };
        break;
    }
  } catch (error) {
    reply = { ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  parentPort!.postMessage(reply);
});
