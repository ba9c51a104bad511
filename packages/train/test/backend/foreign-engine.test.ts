// A second TF.js copy loaded first (the default embedder bundles TF.js 4.5) gets a plain error, not a crash.
// node --test runs each file in its own process, so the foreign engine does not leak into other tests.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createEmbedder } from '@steer/embed';
import { useBackend } from '../../src/backend/index.js';
import type { TrainError } from '../../src/errors.js';

it('refuses the wasm backend when another TF.js copy owns the process-wide engine', async () => {
  const embedder = await createEmbedder('default');
  try {
    await embedder.embed(['load the bundled TF.js']);
  } finally {
    await embedder.dispose();
  }
  await assert.rejects(useBackend('wasm'), (error: TrainError) => {
    assert.equal(error.code, 'backend_unavailable');
    assert.match(error.message, /another copy of TensorFlow\.js/);
    return true;
  });
});
