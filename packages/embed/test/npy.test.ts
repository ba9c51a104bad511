// Tests of readNpy / writeNpy / createNpyWriter: round trip, numpy-compatible header, streaming, bad files.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createNpyWriter, readNpy, readNpyHeader, writeNpy } from '@steer/embed';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'steer-embed-npy-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('writeNpy then readNpy returns the same matrix; the header is numpy format 1.0, 64-byte aligned', async () => {
  const data = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 3);
  const path = join(dir, 'm.npy');
  await writeNpy(path, data, [3, 4]);
  const bytes = await readFile(path);
  assert.equal(bytes.subarray(0, 8).toString('latin1'), '\x93NUMPY\x01\x00');
  const headerLength = bytes.readUInt16LE(8);
  assert.equal((10 + headerLength) % 64, 0);
  assert.match(
    bytes.subarray(10, 10 + headerLength).toString('latin1'),
    /'descr': '<f4', 'fortran_order': False, 'shape': \(3, 4\)/,
  );
  assert.equal(bytes.length, 10 + headerLength + 48);
  const read = await readNpy(path);
  assert.deepEqual(read.shape, [3, 4]);
  assert.deepEqual([...read.data], [...data]);
});

test('float64 files written by numpy are converted; version 2 headers are read', async () => {
  const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
  const padded = header + ' '.repeat(64 - ((12 + header.length + 1) % 64)) + '\n';
  const prefix = Buffer.alloc(12);
  Buffer.from('\x93NUMPY\x02\x00', 'latin1').copy(prefix);
  prefix.writeUInt32LE(padded.length, 8);
  const body = Buffer.alloc(16);
  body.writeDoubleLE(1.5, 0);
  body.writeDoubleLE(-2.25, 8);
  const path = join(dir, 'f8.npy');
  await writeFile(path, Buffer.concat([prefix, Buffer.from(padded, 'latin1'), body]));
  const read = await readNpy(path);
  assert.deepEqual(read.shape, [2]);
  assert.deepEqual([...read.data], [1.5, -2.25]);
});

test('bad files and shapes are EmbedErrors', async () => {
  await assert.rejects(readNpy(join(dir, 'missing.npy')), { code: 'file_unreadable' });
  await writeFile(join(dir, 'junk.npy'), 'hello');
  await assert.rejects(readNpy(join(dir, 'junk.npy')), { code: 'invalid_file' });
  await writeNpy(join(dir, 'ok.npy'), new Float32Array(6), [2, 3]);
  const bytes = await readFile(join(dir, 'ok.npy'));
  await writeFile(join(dir, 'short.npy'), bytes.subarray(0, bytes.length - 4));
  await assert.rejects(readNpy(join(dir, 'short.npy')), /truncated/);
  const int32 = Buffer.from(bytes.toString('latin1').replace('<f4', '<i4'), 'latin1');
  await writeFile(join(dir, 'int.npy'), int32);
  await assert.rejects(readNpy(join(dir, 'int.npy')), /float32/);
  await assert.rejects(writeNpy(join(dir, 'bad.npy'), new Float32Array(5), [2, 3]), {
    code: 'dims_mismatch',
  });
  await assert.rejects(writeNpy(join(dir, 'no', 'such', 'dir.npy'), new Float32Array(1), [1]), {
    code: 'write_failed',
  });
});

test('createNpyWriter streams rows into a file numpy reads; nothing appears under the name before finish', async () => {
  const path = join(dir, 'stream.npy');
  const writer = await createNpyWriter(path, 3);
  await writer.append(Float32Array.from([1, 2, 3, 4, 5, 6]));
  await writer.append(Float32Array.from([7, 8, 9]));
  assert.equal(writer.rows, 3);
  await assert.rejects(readFile(path), { code: 'ENOENT' });
  await writer.finish();
  const read = await readNpy(path);
  assert.deepEqual(read.shape, [3, 3]);
  assert.deepEqual([...read.data], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const header = await readNpyHeader(path);
  assert.deepEqual(header, { shape: [3, 3], bytesPerValue: 4, dataStart: 128 });

  const aborted = await createNpyWriter(join(dir, 'aborted.npy'), 2);
  await aborted.append(new Float32Array(4));
  await assert.rejects(aborted.append(new Float32Array(3)), { code: 'dims_mismatch' });
  await aborted.abort();
  assert.deepEqual(
    (await readdir(dir)).filter((name) => name.includes('aborted')),
    [],
    'no temporary file is left',
  );
});

test('readNpyHeader checks the data length without reading the data', async () => {
  await writeNpy(join(dir, 'h.npy'), new Float32Array(8), [4, 2]);
  assert.deepEqual((await readNpyHeader(join(dir, 'h.npy'))).shape, [4, 2]);
  const bytes = await readFile(join(dir, 'h.npy'));
  await writeFile(join(dir, 'h-short.npy'), bytes.subarray(0, bytes.length - 4));
  await assert.rejects(readNpyHeader(join(dir, 'h-short.npy')), /truncated/);
  await assert.rejects(readNpyHeader(join(dir, 'nothing.npy')), { code: 'file_unreadable' });
});
