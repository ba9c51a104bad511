// The worker thread that holds the project's embedder (TensorFlow.js or onnxruntime), so that loading the model
// and embedding never block the language server's event loop. Protocol: see worker-embedder.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { createEmbedder, type EmbedError, type EmbedOptions } from '@steer/embed';
import type { EmbedRequest, WorkerMessage } from './worker-embedder.js';

const port = parentPort!;
const { spec, cacheDir } = workerData as { spec: string; cacheDir: string };
const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
const failure = (error: unknown) => ({
  name: (error as Error)?.name ?? 'Error',
  message: (error as Error)?.message ?? String(error),
  ...((error as EmbedError)?.code ? { code: (error as EmbedError).code } : {}),
});

// NOTE: no top-level await: the extension bundles this file as CommonJS.
createEmbedder(spec, { cacheDir }).then(
  (embedder) => {
    port.on('message', (request: EmbedRequest | { type: 'dispose' }) => {
      if (request.type === 'dispose') {
        void embedder.dispose().finally(() => port.close());
        return;
      }
      const options: EmbedOptions = request.kind ? { kind: request.kind } : {};
      embedder.embed(request.texts, options).then(
        (vectors) => post({ type: 'vectors', id: request.id, vectors }, [vectors.buffer as ArrayBuffer]),
        (error: unknown) => post({ type: 'error', id: request.id, error: failure(error) }),
      );
    });
    post({ type: 'ready', id: embedder.id, dims: embedder.dims, normalized: embedder.normalized });
  },
  (error: unknown) => post({ type: 'error', error: failure(error) }),
);
