// Worker for the concurrency test: saves one preset name many times with worker-specific edits.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { savePreset } from '../../src/index.js';
import { testCatalog } from './catalog.js';

// NOTE: `node --test <dir>` also loads this file on the main thread; it then has nothing to do.
if (!isMainThread && parentPort) {
  const { dir, name, worker, rounds } = workerData as {
    dir: string;
    name: string;
    worker: number;
    rounds: number;
  };
  for (let round = 0; round < rounds; round++) {
    await savePreset(dir, name, `+@salary*${worker}.${round + 1} -@jobs`, { catalog: testCatalog() });
  }
  parentPort.postMessage('done');
}
