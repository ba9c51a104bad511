// A worker thread of the onnxruntime core: runs its share of the sparse step (sparse-step.ts) on shared memory.
import { parentPort } from 'node:worker_threads';
import type { StepHyper } from '../model.js';
import type { WorkerReply, WorkerRequest } from './onnx.js';
import { forwardUnits, updateLatents, type StepMemory } from './sparse-step.js';

let mem: StepMemory | undefined;
let hyper: StepHyper | undefined;

parentPort!.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  const transfer: ArrayBuffer[] = [];
  try {
    switch (request.type) {
      case 'memory':
        mem = request.mem;
        hyper = request.hyper;
        reply = { ok: true };
        break;
      case 'forward':
        forwardUnits(mem!, hyper!, request.shape, request.start, request.end);
        reply = { ok: true };
        break;
      case 'update':
        updateLatents(
          mem!,
          hyper!,
          request.shape,
          new Float32Array(request.wEnc),
          request.first,
          request.options,
        );
        reply = { ok: true, wEnc: request.wEnc };
        transfer.push(request.wEnc);
        break;
    }
  } catch (error) {
    reply = { ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  parentPort!.postMessage(reply, transfer);
});
