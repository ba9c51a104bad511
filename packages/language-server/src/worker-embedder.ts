// An Embedder whose model lives in a worker thread (embed-worker.ts): the language server stays responsive
// while TensorFlow.js or onnxruntime load the model (about 0.5 s for USE lite) and while texts are embedded.
import { Worker } from 'node:worker_threads';
import type { EmbedKind, EmbedOptions, Embedder } from '@steer/embed';

/** Main thread -> worker. */
export interface EmbedRequest {
  type: 'embed';
  id: number;
  texts: string[];
  kind?: EmbedKind;
}

interface WireError {
  name: string;
  message: string;
  code?: string;
}

/** Worker -> main thread. */
export type WorkerMessage =
  | { type: 'ready'; id: string; dims: number; normalized: boolean }
  | { type: 'vectors'; id: number; vectors: Float32Array }
  | { type: 'error'; id?: number; error: WireError };

/** The worker's error with its name, message and code (EmbedError's `code` survives the thread boundary). */
function revive(wire: WireError): Error {
  const error = new Error(wire.message) as Error & { code?: string };
  error.name = wire.name;
  if (wire.code) error.code = wire.code;
  return error;
}

/**
 * Starts the embedder `spec` (`default`, `onnx:<dir>`, `vectors:<file>`) in a worker thread.
 * @returns once the model has loaded, an Embedder that forwards every call to the worker.
 * @throws the worker's load error (an EmbedError by name and code), or an Error when the worker cannot start.
 */
export function startWorkerEmbedder(spec: string, cacheDir: string): Promise<Embedder> {
  // NOTE: the bundled extension server resolves this next to itself (out/embed-worker.js); build.mjs emits it.
  const worker = new Worker(new URL('./embed-worker.js', import.meta.url), {
    workerData: { spec, cacheDir },
  });
  worker.unref();
  const pending = new Map<number, { resolve: (v: Float32Array) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let closed: Error | undefined;
  const failAll = (error: Error) => {
    closed ??= error;
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  return new Promise<Embedder>((resolve, reject) => {
    worker.on('error', (error) => {
      failAll(error);
      reject(error);
    });
    worker.on('exit', (code) => {
      const error = new Error(
        `embed: the embedder's worker thread stopped (exit code ${code}); restart the language server`,
      );
      failAll(error);
      reject(error);
    });
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') {
        resolve({
          id: message.id,
          dims: message.dims,
          normalized: message.normalized,
          embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array> {
            if (closed) return Promise.reject(closed);
            const id = nextId++;
            return new Promise((done, fail) => {
              pending.set(id, { resolve: done, reject: fail });
              const request: EmbedRequest = {
                type: 'embed',
                id,
                texts: [...texts],
                ...(options?.kind ? { kind: options.kind } : {}),
              };
              worker.postMessage(request);
            });
          },
          async dispose(): Promise<void> {
            if (closed) return;
            failAll(new Error('embed: embed() called after dispose(); load the embedder again'));
            worker.postMessage({ type: 'dispose' });
            await new Promise<void>((done) => {
              const timer = setTimeout(() => void worker.terminate().finally(done), 2000);
              timer.unref();
              worker.once('exit', () => {
                clearTimeout(timer);
                done();
              });
            });
          },
        });
        return;
      }
      const entry = message.id === undefined ? undefined : pending.get(message.id);
      if (message.type === 'vectors') {
        pending.delete(message.id);
        entry?.resolve(message.vectors);
      } else if (entry) {
        pending.delete(message.id!);
        entry.reject(revive(message.error));
      } else {
        const error = revive(message.error);
        failAll(error);
        reject(error);
        void worker.terminate();
      }
    });
  });
}
