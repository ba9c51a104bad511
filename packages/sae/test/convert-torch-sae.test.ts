// Tests of scripts/convert_torch_sae.py on checkpoints in the paper's, OpenAI's and SAELens' key names;
// they need a python3 with torch (Debian: apt-get install python3-torch) and are skipped without one.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadSae, readSaeManifest, readSaeWeights } from '../src/index.js';

const script = fileURLToPath(new URL('../../scripts/convert_torch_sae.py', import.meta.url));

function findTorchPython(): string | undefined {
  for (const python of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore' });
    if (probe.status === 0) return python;
  }
  return undefined;
}

const python = findTorchPython();
const skip =
  python === undefined
    ? 'no python3 with torch and numpy found (apt-get install -y python3-torch); converter tests skipped'
    : false;

const d = 8;
const n = 24;
// Exactly representable float32 values, so the JS expectation is exact.
const wEnc = (i: number, j: number): number => (i * d + j - 90) / 64; // W_enc [n, d]
const bEnc = (i: number): number => (i - 12) / 32;
const wDec = (j: number, i: number): number => (j * n + i + 7) / 128; // W_dec [d, n]
const bDec = (j: number): number => (3 - j) / 16;

const MAKE_CHECKPOINTS = `
import sys, torch
d, n, out = ${d}, ${n}, sys.argv[1]
i = torch.arange(n, dtype=torch.float32)[:, None]; j = torch.arange(d, dtype=torch.float32)[None, :]
W_enc = (i * d + j - 90) / 64                     # [n, d]
b_enc = (torch.arange(n, dtype=torch.float32) - 12) / 32
W_dec = (j.T * n + i.T + 7) / 128                 # [d, n]
b_dec = (3 - torch.arange(d, dtype=torch.float32)) / 16
torch.save({'state_dict': {'module.encoder.weight': W_enc, 'module.encoder.bias': b_enc,
            'module.decoder.weight': W_dec, 'module.decoder.bias': b_dec}}, out + '/paper.pt')
torch.save({'encoder.weight': W_enc, 'latent_bias': b_enc, 'decoder.weight': W_dec, 'pre_bias': b_dec,
            'stats_last_nonzero': torch.zeros(n, dtype=torch.long)}, out + '/openai.pt')
torch.save({'W_enc': W_enc.T.contiguous(), 'b_enc': b_enc, 'W_dec': W_dec.T.contiguous(), 'b_dec': b_dec}, out + '/saelens.pt')
torch.save({'encoder.weight': W_enc, 'encoder.bias': b_enc}, out + '/no-decoder.pt')
torch.save({'W_enc': torch.ones(d, d), 'W_dec': torch.ones(d, d)}, out + '/square.pt')
`;

function convert(
  checkpoint: string,
  out: string,
  extra: string[] = [],
): { status: number | null; stderr: string } {
  const result = spawnSync(
    python!,
    [script, checkpoint, out, '--k', '4', '--model', 'tiny-bge', '--normalized', 'true', ...extra],
    {
      encoding: 'utf8',
    },
  );
  return { status: result.status, stderr: result.stderr };
}

describe('convert_torch_sae.py', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'steer-sae-convert-test-'));
    execFileSync(python!, ['-c', MAKE_CHECKPOINTS, dir]);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const name of ['paper', 'openai', 'saelens']) {
    it(`converts ${name}-style key names into the same SAE folder`, async () => {
      const out = join(dir, `${name}-sae`);
      const { status, stderr } = convert(join(dir, `${name}.pt`), out);
      assert.equal(status, 0, stderr);
      const manifest = await readSaeManifest(out);
      assert.deepEqual(
        { k: manifest.k, d: manifest.dModel, n: manifest.nLatents, embedding: manifest.embedding },
        { k: 4, d, n, embedding: { model: 'tiny-bge', dims: d, normalized: true } },
      );
      const weights = await readSaeWeights(out);
      assert.deepEqual(
        [...weights.W_enc],
        Array.from({ length: n * d }, (_, x) => wEnc(Math.floor(x / d), x % d)),
      );
      assert.deepEqual(
        [...weights.b_enc],
        Array.from({ length: n }, (_, i) => bEnc(i)),
      );
      assert.deepEqual(
        [...weights.W_dec],
        Array.from({ length: d * n }, (_, x) => wDec(Math.floor(x / n), x % n)),
      );
      assert.deepEqual(
        [...weights.b_dec],
        Array.from({ length: d }, (_, j) => bDec(j)),
      );
      const runtime = await loadSae(out);
      try {
        const latents = await runtime.encode(new Float32Array(d).fill(0.5), 1);
        assert.equal(latents.k, 4);
      } finally {
        await runtime.dispose();
      }
    });
  }

  it('fails clearly on a checkpoint without a decoder and on an ambiguous square SAE', () => {
    const missing = convert(join(dir, 'no-decoder.pt'), join(dir, 'nope'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /no W_dec in the checkpoint \(looked for W_dec, decoder\.weight/);
    const square = convert(join(dir, 'square.pt'), join(dir, 'nope'));
    assert.equal(square.status, 2);
    assert.match(square.stderr, /pass --layout linear/);
    const tooLarge = spawnSync(
      python!,
      [
        script,
        join(dir, 'paper.pt'),
        join(dir, 'nope'),
        '--k',
        '99',
        '--model',
        'm',
        '--normalized',
        'false',
      ],
      {
        encoding: 'utf8',
      },
    );
    assert.match(tooLarge.stderr, /--k is 99 but the SAE has 24 latents/);
  });
});
