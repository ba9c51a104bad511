// Tests of the safetensors reader/writer: round trip and strict validation of damaged files.
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SaeError } from '../src/index.js';
import {
  MAX_HEADER_BYTES,
  readSafetensorsF32,
  readSafetensorsHeader,
  writeSafetensors,
} from '../src/safetensors.js';
import { createHash } from 'node:crypto';

let dir: string;

function file(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

async function rejectsCorrupt(bytes: Buffer, pattern: RegExp): Promise<void> {
  const path = join(dir, `case-${Math.random().toString(36).slice(2)}.safetensors`);
  await writeFile(path, bytes);
  await assert.rejects(
    readSafetensorsHeader(path),
    (error: unknown) =>
      error instanceof SaeError &&
      error.code === 'sae_corrupt' &&
      pattern.test(error.message) &&
      /re-export/.test(error.message),
  );
}

describe('safetensors', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'steer-safetensors-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips float32 tensors bit for bit, with an 8-byte aligned data section and the right hash', async () => {
    const a = Float32Array.from([1.5, -2, Math.PI, 1e-30, -0]);
    const b = Float32Array.from({ length: 12 }, (_, i) => i / 7);
    const path = join(dir, 'round.safetensors');
    const handle = await open(path, 'w');
    const sha = await writeSafetensors(
      handle,
      [
        { name: 'a', shape: [5], data: a },
        { name: 'b', shape: [3, 4], data: b },
      ],
      { format: 'x' },
    );
    await handle.close();
    assert.equal(
      sha,
      createHash('sha256')
        .update(await readFile(path))
        .digest('hex'),
    );
    const header = await readSafetensorsHeader(path);
    assert.equal(header.dataStart % 8, 0);
    assert.deepEqual(header.metadata, { format: 'x' });
    assert.deepEqual(header.tensors.get('b'), { dtype: 'F32', shape: [3, 4], dataOffsets: [20, 68] });
    for (const hash of [true, false]) {
      const { tensors, sha256 } = await readSafetensorsF32(path, header, ['b', 'a'], { hash });
      assert.deepEqual(Buffer.from(tensors.get('a')!.buffer), Buffer.from(a.buffer));
      assert.deepEqual(Buffer.from(tensors.get('b')!.buffer), Buffer.from(b.buffer));
      assert.equal(sha256, hash ? sha : undefined);
    }
  });

  it('rejects a missing file with sae_not_found', async () => {
    await assert.rejects(
      readSafetensorsHeader(join(dir, 'nope.safetensors')),
      (error: unknown) => error instanceof SaeError && error.code === 'sae_not_found',
    );
  });

  it('rejects files shorter than the length prefix', async () => {
    await rejectsCorrupt(Buffer.from([1, 2, 3]), /fewer than the 8-byte header length/);
  });

  it('rejects an oversized header length', async () => {
    await rejectsCorrupt(file({}, undefined, BigInt(MAX_HEADER_BYTES) + 1n), /more than the/);
    await rejectsCorrupt(file({}, undefined, 2n ** 63n), /more than the/);
  });

  it('rejects a header longer than the file (truncated)', async () => {
    await rejectsCorrupt(file({}, undefined, 1000n), /truncated/);
  });

  it('rejects invalid JSON and non-object headers', async () => {
    await rejectsCorrupt(file('{"a": '), /not valid JSON/);
    await rejectsCorrupt(file('[1,2]'), /not a JSON object/);
  });

  it('rejects unknown dtypes, bad shapes and bad offsets', async () => {
    const data = new Uint8Array(16);
    await rejectsCorrupt(
      file({ t: { dtype: 'F33', shape: [4], data_offsets: [0, 16] } }, data),
      /unknown dtype/,
    );
    await rejectsCorrupt(file({ t: { dtype: 'F32', shape: [-4], data_offsets: [0, 16] } }, data), /shape/);
    await rejectsCorrupt(file({ t: { dtype: 'F32', shape: [4], data_offsets: [0] } }, data), /data_offsets/);
    await rejectsCorrupt(
      file({ t: { dtype: 'F32', shape: [4], data_offsets: [8, 4] } }, data),
      /before it begins/,
    );
  });

  it('rejects tensors that run past the end of the data (truncated file)', async () => {
    await rejectsCorrupt(
      file({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(12)),
      /only 12 bytes \(truncated\?\)/,
    );
  });

  it('rejects offsets that disagree with the shape', async () => {
    await rejectsCorrupt(
      file({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, new Uint8Array(16)),
      /12 bytes of F32/,
    );
  });

  it('rejects overlapping tensors', async () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    await rejectsCorrupt(file(header, new Uint8Array(12)), /"a" and "b" overlap/);
  });

  it('rejects non-string metadata values', async () => {
    await rejectsCorrupt(file({ __metadata__: { format: 1 } }), /__metadata__ values must be strings/);
  });

  it('refuses to read a non-F32 tensor as float32 and a missing tensor', async () => {
    const path = join(dir, 'int.safetensors');
    await writeFile(path, file({ t: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)));
    const header = await readSafetensorsHeader(path);
    await assert.rejects(readSafetensorsF32(path, header, ['t'], { hash: false }), /dtype I32, expected F32/);
    await assert.rejects(readSafetensorsF32(path, header, ['u'], { hash: false }), /tensor "u" is missing/);
  });
});
