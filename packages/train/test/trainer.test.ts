// End-to-end training: planted-dictionary recovery, exact resume after kill -9, and clear errors on bad input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isInputError, SteerError } from '@steer/core';
import { loadSae, readSaeManifest, readSaeWeights } from '@steer/sae';
import { train, type TrainError, type TrainEvent, type TrainOptions } from '../src/index.js';
import { bestCosines, plantedData } from './support/synthetic.js';

const embedding = { model: 'synthetic', dims: 32, normalized: false };

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'steer-train-test-'));
}

describe('train', () => {
  it('recovers most atoms of a planted sparse dictionary and exports a loadable SAE', async () => {
    const dir = await tempDir();
    try {
      const { dict, docs } = plantedData(32, 64, 3, 4096);
      const out = join(dir, 'sae');
      const result = await train(
        { dModel: 32, docs },
        {
          nLatents: 128,
          k: 3,
          epochs: 30,
          batch: 256,
          lr: 0.01,
          neighbours: 0,
          out,
          embedding,
          backend: 'onnx',
        },
      );
      const weights = await readSaeWeights(out);
      const cosines = bestCosines(dict, 64, weights.W_dec, 32, 128);
      const recovered = cosines.filter((c) => c > 0.9).length;
      assert.ok(recovered >= 0.8 * 64, `recovered ${recovered}/64 atoms (cosine > 0.9)`);
      assert.ok(result.mse < 0.01, `mse ${result.mse}`);
      assert.ok(result.deadFraction >= 0 && result.deadFraction < 1);
      // The runtime loads the export as is and reconstructs with the trained weights.
      const manifest = await readSaeManifest(out);
      assert.equal(manifest.k, 3);
      assert.equal(manifest.training?.trainer, '@steer/train');
      const sae = await loadSae(out);
      try {
        const latents = await sae.encode(docs.subarray(0, 32), 1);
        assert.equal(latents.indices.length, 3);
      } finally {
        await sae.dispose();
      }
      const metrics = (await readFile(join(`${out}.train`, 'metrics.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.ok(metrics.length >= 1);
      for (const key of ['epoch', 'lr', 'train', 'validation', 'deadFraction', 'stepsPerSecond'])
        assert.ok(key in metrics[0], key);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('with default flags and the KL term on, recovers >= 95% of a planted dictionary (issue 11 case)', async () => {
    // 64-d, 96 unit atoms, 4 per vector with weights 0.5-1.5, 8,000 vectors; only k is given (the recipe derives
    // 512 latents and 14 epochs, the scale-free loss and the calibrated KL with documents as pseudo-queries), on
    // the backend `auto` picks (onnx without a GPU).
    const dir = await tempDir();
    try {
      const { dict, docs } = plantedData(64, 96, 4, 8000);
      const out = join(dir, 'sae');
      const events: string[] = [];
      const result = await train(
        { dModel: 64, docs },
        {
          k: 4,
          out,
          embedding: { ...embedding, dims: 64 },
          onEvent: (e) => events.push(e.type),
        },
      );
      assert.ok(result.calibration.kldWeight > 0, 'the KL term is on');
      assert.equal(result.calibration.loss, 'scale-free');
      assert.ok(events.includes('recipe'));
      const weights = await readSaeWeights(out);
      const cosines = bestCosines(dict, 96, weights.W_dec, 64, result.nLatents);
      const recovered = cosines.filter((c) => c > 0.9).length;
      assert.ok(recovered >= 0.95 * 96, `recovered ${recovered}/96 atoms (cosine > 0.9)`);
      const manifest = await readSaeManifest(out);
      const calibration = manifest.training?.calibration as { mseScale: number; temperature: number };
      assert.ok(calibration.mseScale > 0 && calibration.temperature > 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('plans more epochs for a larger dictionary, as RECIPE.md section 4 says', async () => {
    // 2,000 groups of 9 rows: a million vectors is 56 epochs; 16,384 latents x 32 dimensions ask for 4 vectors per
    // decoder weight (2.1M), which the 100-epoch cap bounds. The run is stopped at its plan, before any step.
    const dir = await tempDir();
    try {
      const { docs } = plantedData(32, 64, 3, 2000, 7);
      const planned = async (nLatents: number): Promise<number> => {
        let epochs = -1;
        const stop = new Error('planned');
        await assert.rejects(
          train(
            { dModel: 32, docs },
            {
              nLatents,
              k: 3,
              out: join(dir, `sae-${nLatents}`),
              embedding,
              onEvent: (e) => {
                if (e.type !== 'recipe') return;
                epochs = e.epochs;
                throw stop;
              },
            },
          ),
          (err) => err === stop,
        );
        return epochs;
      };
      assert.equal(await planned(128), 56, 'a small dictionary: the million-vector floor');
      assert.equal(await planned(16_384), 100, 'a large dictionary: 4 vectors per decoder weight, capped');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('trains with the KL loss over neighbour groups (documents as pseudo-queries)', async () => {
    const dir = await tempDir();
    try {
      const { docs } = plantedData(32, 64, 3, 1024, 5);
      const events: string[] = [];
      const result = await train(
        { dModel: 32, docs },
        {
          nLatents: 64,
          k: 4,
          epochs: 2,
          batch: 90,
          neighbours: 8,
          out: join(dir, 'sae'),
          embedding,
          backend: 'wasm',
          onEvent: (e) => events.push(e.type),
        },
      );
      assert.ok(
        result.validation !== null && result.validation.kl > 0 && Number.isFinite(result.validation.kl),
      );
      assert.ok(events.includes('groups') && events.includes('checkpoint'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** Runs test/support/train-child.js; SIGKILLs it once it says HANGING. */
  function runChild(args: string[]): Promise<{ code: number | null; signal: string | null; stdout: string }> {
    const child = fileURLToPath(new URL('./support/train-child.js', import.meta.url));
    return new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      proc.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('HANGING')) proc.kill('SIGKILL');
      });
      proc.on('error', reject);
      proc.on('exit', (code, signal) => resolve({ code, signal, stdout }));
    });
  }

  async function assertSameWeights(a: string, b: string): Promise<void> {
    const wa = await readSaeWeights(a);
    const wb = await readSaeWeights(b);
    for (const key of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) {
      assert.deepEqual(wb[key], wa[key], `${key} differs after resume`);
    }
  }

  for (const backend of ['wasm', 'onnx'] as const) {
    it(`resumes after kill -9 to exactly the weights of an uninterrupted run (${backend})`, async () => {
      const dir = await tempDir();
      try {
        const straight = await runChild([join(dir, 'a'), 'never', 'fresh', backend]);
        assert.equal(straight.code, 0, straight.stdout);
        const killed = await runChild([join(dir, 'b'), 'epoch:2', 'fresh', backend]);
        assert.equal(killed.signal, 'SIGKILL');
        const resumed = await runChild([join(dir, 'b'), 'never', 'resume', backend]);
        assert.equal(resumed.code, 0, resumed.stdout);
        assert.match(resumed.stdout, /resumed at epoch 2/);
        await assertSameWeights(join(dir, 'a'), join(dir, 'b'));
        const metrics = (await readFile(join(dir, 'b.train', 'metrics.jsonl'), 'utf8'))
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).epoch);
        assert.deepEqual(metrics, [1, 2, 3, 4]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('streams a .npy file and resumes a kill -9 from a mid-epoch checkpoint to the same weights', async () => {
    const dir = await tempDir();
    try {
      const npy = join(dir, 'vectors.npy');
      const straight = await runChild([join(dir, 'a'), 'never', 'fresh', 'wasm', npy]);
      assert.equal(straight.code, 0, straight.stdout);
      const killed = await runChild([join(dir, 'b'), 'step:75', 'fresh', 'wasm', npy]);
      assert.equal(killed.signal, 'SIGKILL');
      const resumed = await runChild([join(dir, 'b'), 'never', 'resume', 'wasm', npy]);
      assert.equal(resumed.code, 0, resumed.stdout);
      // 64 steps an epoch, a checkpoint every 5 steps within it: the first at or past step 75 is step 64 + 15.
      assert.match(resumed.stdout, /resumed at epoch 1 step 79/);
      await assertSameWeights(join(dir, 'a'), join(dir, 'b'));
      // The streamed run trains exactly as the in-memory one.
      const memory = await runChild([join(dir, 'c'), 'never', 'fresh']);
      assert.equal(memory.code, 0, memory.stdout);
      await assertSameWeights(join(dir, 'a'), join(dir, 'c'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('on a validation plateau anneals the learning rate to zero, then stops; --plateau stop stops at once; resume keeps the anneal', async () => {
    // A large learning rate on a small planted set plateaus within a few epochs (patience 1).
    const dir = await tempDir();
    try {
      const { docs } = plantedData(32, 64, 3, 1024, 3);
      const base: TrainOptions = {
        nLatents: 64,
        k: 3,
        epochs: 40,
        batch: 64,
        lr: 0.05,
        neighbours: 0,
        patience: 1,
        annealEpochs: 4,
        out: join(dir, 'anneal'),
        embedding,
        backend: 'wasm',
      };
      const events: TrainEvent[] = [];
      const annealed = await train({ dModel: 32, docs }, { ...base, onEvent: (e) => events.push(e) });
      const anneal = events.find((e) => e.type === 'anneal');
      assert.ok(anneal && anneal.type === 'anneal', 'a plateau started an anneal');
      const from = anneal.epoch;
      assert.ok(from < 40 - 4, `the plateau came early enough to test (epoch ${from})`);
      const records = events.flatMap((e) => (e.type === 'epoch' ? [e.record] : []));
      assert.equal(records.length, from + 4, 'the anneal ran its 4 epochs, then training stopped');
      assert.ok(events.some((e) => e.type === 'early-stop' && e.annealed));
      assert.equal(annealed.annealFromEpoch, from);
      assert.ok(annealed.stoppedEarly);
      const lrs = records.map((r) => r.lr);
      for (let e = from; e < from + 4; e++)
        assert.ok(lrs[e]! < lrs[e - 1]!, `lr falls in anneal epoch ${e + 1}`);
      assert.ok(lrs[from + 3]! < 0.05 * lrs[from - 1]!, `the anneal ends near zero: ${lrs[from + 3]}`);
      const manifest = await readSaeManifest(base.out);
      assert.equal(manifest.training?.plateau, 'anneal');
      assert.equal(manifest.training?.annealFromEpoch, from);
      // The best validated weights are exported: the anneal's epochs are among the candidates.
      assert.equal(
        annealed.bestEpoch,
        records.reduce((b, r) => (r.validation!.loss < records[b - 1]!.validation!.loss ? r.epoch : b), 1),
      );

      // --plateau stop: the same run up to the plateau, then it stops.
      const stopEvents: TrainEvent[] = [];
      const stopped = await train(
        { dModel: 32, docs },
        { ...base, plateau: 'stop', out: join(dir, 'stop'), onEvent: (e) => stopEvents.push(e) },
      );
      assert.equal(stopEvents.filter((e) => e.type === 'epoch').length, from);
      assert.ok(!stopEvents.some((e) => e.type === 'anneal'));
      assert.equal(stopped.annealFromEpoch, null);
      assert.ok(stopped.stoppedEarly);

      // Interrupted two epochs into the anneal and resumed: the same weights as the uninterrupted run.
      const stepsPerEpoch = Math.ceil((1024 - Math.round(1024 * 0.05)) / 64);
      const cut = { ...base, out: join(dir, 'resumed') };
      await train({ dModel: 32, docs }, { ...cut, maxSteps: (from + 2) * stepsPerEpoch + 3 });
      await train({ dModel: 32, docs }, { ...cut, resume: true });
      const a = await readSaeWeights(base.out);
      const b = await readSaeWeights(cut.out);
      assert.deepEqual(b.W_dec, a.W_dec);
      assert.deepEqual(b.b_dec, a.b_dec);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to overwrite an earlier run without --resume', async () => {
    const dir = await tempDir();
    try {
      const { docs } = plantedData(32, 16, 2, 64);
      const options: TrainOptions = {
        nLatents: 16,
        k: 2,
        epochs: 1,
        batch: 32,
        neighbours: 0,
        out: join(dir, 'sae'),
        embedding,
        backend: 'wasm',
      };
      await train({ dModel: 32, docs }, options);
      await assert.rejects(
        train({ dModel: 32, docs }, { ...options, out: join(dir, 'sae2'), stateDir: join(dir, 'sae.train') }),
        {
          code: 'checkpoint_mismatch',
        },
      );
      await assert.rejects(
        train({ dModel: 32, docs: docs.map((v) => v * 2) }, { ...options, resume: true }),
        (error: TrainError) => {
          assert.equal(error.code, 'checkpoint_mismatch');
          assert.match(error.message, /different data/);
          return true;
        },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('bad input gets a TrainError with a code', () => {
    const base: TrainOptions = {
      nLatents: 8,
      k: 2,
      epochs: 1,
      out: '/nonexistent/never-written',
      embedding,
      backend: 'cpu',
    };
    const docs = new Float32Array(32 * 10).fill(0.5);

    it('NaN vectors', async () => {
      const bad = docs.slice();
      bad[32 * 3 + 5] = Number.NaN;
      await assert.rejects(train({ dModel: 32, docs: bad }, base), (e: TrainError) => {
        assert.equal(e.code, 'bad_input');
        assert.match(e.message, /row 3 has a non-finite value/);
        // A SteerError of the `train` component, so the CLI maps it by its kind like every other error.
        assert.ok(e instanceof SteerError);
        assert.equal(e.component, 'train');
        assert.equal(e.kind, 'input');
        assert.ok(isInputError(e));
        return true;
      });
    });

    it('mismatched dims', async () => {
      await assert.rejects(train({ dModel: 32, docs: docs.subarray(0, 33) }, base), { code: 'bad_input' });
      await assert.rejects(train({ dModel: 32, docs, queries: new Float32Array(31) }, base), {
        code: 'bad_input',
      });
    });

    it('k larger than the number of latents', async () => {
      await assert.rejects(train({ dModel: 32, docs }, { ...base, k: 9 }), (e: TrainError) => {
        assert.equal(e.code, 'bad_config');
        assert.match(e.message, /--k 9 is larger than --latents 8/);
        return true;
      });
    });

    it('an unknown plateau action or a zero anneal', async () => {
      await assert.rejects(
        train({ dModel: 32, docs }, { ...base, plateau: 'decay' as 'anneal' }),
        (e: TrainError) => {
          assert.equal(e.code, 'bad_config');
          assert.match(e.message, /--plateau must be anneal or stop, got decay/);
          return true;
        },
      );
      await assert.rejects(train({ dModel: 32, docs }, { ...base, annealEpochs: 0 }), {
        code: 'bad_config',
        message: /--anneal-epochs must be a positive integer, got 0/,
      });
      await assert.rejects(train({ dModel: 32, docs }, { ...base, patience: -1 }), {
        code: 'bad_config',
        message: /--patience must be 0 or a positive integer, got -1/,
      });
    });

    it('empty data', async () => {
      await assert.rejects(train({ dModel: 32, docs: new Float32Array(0) }, base), (e: TrainError) => {
        assert.equal(e.code, 'bad_input');
        assert.match(e.message, /empty/);
        return true;
      });
    });

    it('too few documents for the neighbours', async () => {
      await assert.rejects(train({ dModel: 32, docs }, { ...base, neighbours: 10 }), { code: 'bad_config' });
    });
  });
});
