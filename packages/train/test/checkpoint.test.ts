// Checkpoint files round-trip the whole training state and refuse damaged files.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint, writeCheckpoint, writeWeights } from '../src/checkpoint.js';
import type { CoreState } from '../src/model.js';

function state(): CoreState {
  const p = (seed: number) => ({
    wEnc: Float32Array.from({ length: 6 }, (_, i) => seed + i),
    bEnc: Float32Array.from([seed, -seed]),
    wDecT: Float32Array.from({ length: 6 }, (_, i) => seed - i),
    bDec: Float32Array.from([seed / 2, seed / 3, seed / 4]),
  });
  return { params: p(1), adamM: p(2), adamV: p(3), adamStep: 7, sinceFired: Int32Array.from([0, 5]) };
}

describe('checkpoint', () => {
  it('round-trips weights, Adam moments, step and counters, leaving no temporary file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'steer-ckpt-'));
    try {
      const path = join(dir, 'checkpoint.bin');
      await writeCheckpoint(path, { epoch: 3, rng: [1, 2, 3, 4] }, state());
      const read = await readCheckpoint(path);
      assert.deepEqual(read?.meta, { epoch: 3, rng: [1, 2, 3, 4], adamStep: 7 });
      assert.deepEqual(read?.state, state());
      assert.deepEqual(await readdir(dir), ['checkpoint.bin']);
      assert.equal(await readCheckpoint(join(dir, 'absent.bin')), null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stores weights alone for the best snapshot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'steer-ckpt-'));
    try {
      const path = join(dir, 'best.bin');
      await writeWeights(path, { epoch: 2 }, state());
      const read = await readCheckpoint(path);
      assert.deepEqual(read?.state.params, state().params);
      assert.ok(read?.state.adamM.wEnc.every((v) => v === 0));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a truncated or foreign file with checkpoint_corrupt', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'steer-ckpt-'));
    try {
      const path = join(dir, 'checkpoint.bin');
      await writeCheckpoint(path, { epoch: 1 }, state());
      const bytes = await readFile(path);
      await writeFile(path, bytes.subarray(0, bytes.length - 3));
      await assert.rejects(readCheckpoint(path), { code: 'checkpoint_corrupt' });
      await writeFile(path, 'not a checkpoint');
      await assert.rejects(readCheckpoint(path), { code: 'checkpoint_corrupt' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
