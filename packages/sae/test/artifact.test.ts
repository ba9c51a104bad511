// Tests of the SAE folder format: atomic write, manifest, validating reads, hash verification.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSaeManifest, readSaeWeights, SaeError, writeSae, type SaeWeights } from '../src/index.js';
import { randomWeights } from '../test-support/reference.js';

const embedding = { model: 'tiny-model', dims: 16, normalized: false };

function hasCode(code: string, pattern?: RegExp) {
  return (error: unknown): boolean =>
    error instanceof SaeError &&
    error.code === code &&
    (pattern === undefined || pattern.test(error.message));
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

describe('SAE artifact', () => {
  let root: string;
  let weights: SaeWeights;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'steer-sae-artifact-test-'));
    weights = randomWeights(16, 64, 1);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes a folder that reads back bit for bit, with a manifest naming the file hash', async () => {
    const dir = join(root, 'nested', 'sae');
    const manifest = await writeSae(dir, weights, { k: 4, embedding, training: { steps: 10 } });
    const sha = createHash('sha256')
      .update(await readFile(join(dir, 'sae.safetensors')))
      .digest('hex');
    assert.equal(manifest.sha256, sha);
    assert.equal(manifest.id, `sae-${sha.slice(0, 16)}`);
    assert.equal(manifest.format, 'steer-sae/1');
    assert.deepEqual({ k: manifest.k, d: manifest.dModel, n: manifest.nLatents }, { k: 4, d: 16, n: 64 });
    assert.ok(!Number.isNaN(Date.parse(manifest.createdAt)));
    assert.deepEqual(await readSaeManifest(dir), manifest);
    assert.deepEqual((await readdir(dir)).sort(), ['manifest.json', 'sae.safetensors']);
    assert.deepEqual(await readdir(join(root, 'nested')), ['sae'], 'no temporary folders are left behind');
    const back = await readSaeWeights(dir);
    for (const name of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const)
      assert.ok(sameBits(back[name], weights[name]), name);
    assert.deepEqual([back.dModel, back.nLatents], [16, 64]);
    const header = JSON.parse(
      (await readFile(join(dir, 'sae.safetensors')))
        .subarray(8, 8 + 300)
        .toString('utf8')
        .split('}}')[0] + '}}',
    );
    assert.deepEqual(header.__metadata__, { format: 'steer-sae/1' });
  });

  it('replaces an existing SAE folder atomically and refuses a folder with other files', async () => {
    const dir = join(root, 'replace');
    await writeSae(dir, weights, { k: 4, embedding });
    const second = await writeSae(dir, randomWeights(16, 64, 2), { k: 8, embedding });
    assert.equal((await readSaeManifest(dir)).id, second.id);
    assert.deepEqual(
      (await readdir(root)).filter((name) => name.startsWith('.')),
      [],
    );
    const other = join(root, 'other');
    await mkdir(other);
    await writeFile(join(other, 'notes.txt'), 'keep me');
    await assert.rejects(
      writeSae(other, weights, { k: 4, embedding }),
      hasCode('dir_not_empty', /notes\.txt/),
    );
    assert.equal(await readFile(join(other, 'notes.txt'), 'utf8'), 'keep me');
  });

  it('refuses bad weights and metadata without writing anything', async () => {
    const dir = join(root, 'bad');
    await assert.rejects(
      writeSae(dir, weights, { k: 65, embedding }),
      hasCode('k_too_large', /only 64 latents/),
    );
    await assert.rejects(writeSae(dir, weights, { k: 0, embedding }), hasCode('invalid_input'));
    await assert.rejects(
      writeSae(dir, weights, { k: 4, embedding: { ...embedding, dims: 384 } }),
      hasCode('dims_mismatch', /384 dims/),
    );
    await assert.rejects(
      writeSae(dir, { ...weights, W_dec: new Float32Array(10) }, { k: 4, embedding }),
      hasCode('invalid_weights', /W_dec/),
    );
    const nan = { ...weights, b_enc: weights.b_enc.slice() };
    nan.b_enc[3] = Number.NaN;
    await assert.rejects(
      writeSae(dir, nan, { k: 4, embedding }),
      hasCode('invalid_weights', /b_enc\[3\] is NaN/),
    );
    await assert.rejects(readdir(dir), { code: 'ENOENT' });
  });

  it('reports a missing folder and a folder without manifest as sae_not_found', async () => {
    await assert.rejects(readSaeManifest(join(root, 'missing')), hasCode('sae_not_found', /does not exist/));
    await assert.rejects(readSaeWeights(join(root, 'missing')), hasCode('sae_not_found'));
    const empty = join(root, 'empty');
    await mkdir(empty);
    await assert.rejects(readSaeManifest(empty), hasCode('sae_not_found', /no manifest\.json/));
  });

  it('reports a damaged manifest as sae_corrupt', async () => {
    const dir = join(root, 'manifest-damage');
    const manifest = await writeSae(dir, weights, { k: 4, embedding });
    const cases: Array<[unknown, RegExp]> = [
      [{ ...manifest, format: 'other/1' }, /format/],
      [{ ...manifest, id: 'sae-0000000000000000' }, /id/],
      [{ ...manifest, dModel: 'x' }, /dModel/],
      [{ ...manifest, embedding: { model: 'm' } }, /embedding/],
    ];
    for (const [content, pattern] of cases) {
      await writeFile(join(dir, 'manifest.json'), JSON.stringify(content));
      await assert.rejects(readSaeManifest(dir), hasCode('sae_corrupt', pattern));
    }
    await writeFile(join(dir, 'manifest.json'), '{ not json');
    await assert.rejects(readSaeManifest(dir), hasCode('sae_corrupt', /not JSON/));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, k: 100 }));
    await assert.rejects(readSaeManifest(dir), hasCode('k_too_large'));
  });

  it('reports weights that disagree with the manifest, and a changed file as hash_mismatch', async () => {
    const dir = join(root, 'weights-damage');
    const manifest = await writeSae(dir, weights, { k: 4, embedding });
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, nLatents: 32 }));
    await assert.rejects(
      readSaeWeights(dir),
      hasCode('sae_corrupt', /W_enc has shape \[64, 16\], expected \[32, 16\]/),
    );
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const bytes = await readFile(join(dir, 'sae.safetensors'));
    bytes[bytes.length - 1]! ^= 0x40;
    await writeFile(join(dir, 'sae.safetensors'), bytes);
    await assert.rejects(readSaeWeights(dir), hasCode('hash_mismatch', /re-export/));
    const unchecked = await readSaeWeights(dir, { verifyHash: false });
    assert.equal(unchecked.b_dec.length, 16);
    await writeFile(join(dir, 'sae.safetensors'), bytes.subarray(0, bytes.length - 10));
    await assert.rejects(readSaeWeights(dir, { verifyHash: false }), hasCode('sae_corrupt', /truncated/));
    await rm(join(dir, 'sae.safetensors'));
    await assert.rejects(readSaeWeights(dir), hasCode('sae_not_found'));
  });
});
