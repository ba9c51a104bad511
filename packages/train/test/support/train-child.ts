// A training run in its own process for the kill -9 test: argv = out, epoch after whose checkpoint to hang, mode,
// compute backend.
import { train, type BackendName } from '../../src/index.js';
import { plantedData } from './synthetic.js';

const [out, hangAfter, mode, backend = 'wasm'] = process.argv.slice(2);
// NOTE: `node --test <dir>` also runs every .js under a test/ folder; without arguments this file does nothing.
if (out !== undefined && hangAfter !== undefined && mode !== undefined)
  await run(out, hangAfter, mode, backend as BackendName);

async function run(out: string, hangAfter: string, mode: string, backend: BackendName): Promise<void> {
  const { docs } = plantedData(32, 32, 3, 600, 3);
  await train(
    { dModel: 32, docs },
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
      onEvent: (event) => {
        if (event.type === 'resumed') process.stdout.write(`resumed at epoch ${event.epoch}\n`);
        if (event.type === 'checkpoint' && event.epoch === Number(hangAfter)) {
          process.stdout.write('HANGING\n');
          // Block synchronously so that the parent's SIGKILL lands after the checkpoint and mid-run.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
        }
      },
    },
  );
}
