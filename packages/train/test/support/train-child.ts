// A training run in its own process for the kill -9 tests: argv = out, where to hang (`epoch:<n>` after that epoch's
// checkpoint, `step:<n>` after the first mid-epoch checkpoint at or past that step, or `never`), fresh|resume, the
// compute backend, and optionally a .npy path: the vectors are then written there and streamed from the file, with
// a checkpoint every 5 steps.
import { existsSync } from 'node:fs';
import { writeNpy } from '@steer/embed';
import { openVectorFiles, train, type BackendName, type VectorSource } from '../../src/index.js';
import { plantedData } from './synthetic.js';

const [out, hang, mode, backend = 'wasm', npy] = process.argv.slice(2);
// NOTE: `node --test <dir>` also runs every .js under a test/ folder; without arguments this file does nothing.
if (out !== undefined && hang !== undefined && mode !== undefined)
  await run(out, hang, mode, backend as BackendName, npy);

async function run(
  out: string,
  hang: string,
  mode: string,
  backend: BackendName,
  npy: string | undefined,
): Promise<void> {
  const { docs } = plantedData(32, 32, 3, 600, 3);
  let source: Float32Array | VectorSource = docs;
  if (npy !== undefined) {
    if (!existsSync(npy)) await writeNpy(npy, docs, [600, 32]);
    source = await openVectorFiles(npy);
  }
  const [where, at] = hang.split(':');
  await train(
    { dModel: 32, docs: source },
    {
      nLatents: 48,
      k: 3,
      epochs: 4,
      batch: 45,
      neighbours: 4,
      auxK: 8,
      deadAfterRows: 200,
      out,
      embedding: { model: 'synthetic', dims: 32, normalized: false },
      backend,
      seed: 5,
      resume: mode === 'resume',
      ...(npy !== undefined ? { checkpointEvery: 5 } : {}),
      onEvent: (event) => {
        if (event.type === 'resumed')
          process.stdout.write(`resumed at epoch ${event.epoch} step ${event.step}\n`);
        if (event.type !== 'checkpoint') return;
        const hit =
          (where === 'epoch' && !event.midEpoch && event.epoch === Number(at)) ||
          (where === 'step' && event.midEpoch && event.step >= Number(at));
        if (hit) {
          process.stdout.write('HANGING\n');
          // Block synchronously so that the parent's SIGKILL lands after the checkpoint and mid-run.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
        }
      },
    },
  );
}
