import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFileAtomic, writeFileAtomicWith } from '@steer/core';

async function folder(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'steer-atomic-'));
}

test('writeFileAtomic writes text, bytes and chunks, replaces the old file and leaves no temporary file', async () => {
  const dir = await folder();
  try {
    const path = join(dir, 'a.json');
    await writeFileAtomic(path, 'old');
    await writeFileAtomic(path, 'new');
    assert.equal(await readFile(path, 'utf8'), 'new');
    await writeFileAtomic(path, new Uint8Array([104, 105]));
    assert.equal(await readFile(path, 'utf8'), 'hi');
    await writeFileAtomic(path, [new Uint8Array([97]), new Uint8Array([98, 99])]);
    assert.equal(await readFile(path, 'utf8'), 'abc');
    assert.deepEqual(await readdir(dir), ['a.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('without overwrite an existing file fails with EEXIST and is kept; mkdir creates the folder', async () => {
  const dir = await folder();
  try {
    const path = join(dir, 'p.steer');
    await writeFile(path, 'mine');
    await assert.rejects(writeFileAtomic(path, 'theirs', { overwrite: false }), { code: 'EEXIST' });
    assert.equal(await readFile(path, 'utf8'), 'mine');
    await writeFileAtomic(join(dir, 'x', 'y', 'z.txt'), 'deep', { mkdir: true });
    assert.equal(await readFile(join(dir, 'x', 'y', 'z.txt'), 'utf8'), 'deep');
    await assert.rejects(writeFileAtomic(join(dir, 'missing', 'f.txt'), 'x'), { code: 'ENOENT' });
    assert.deepEqual((await readdir(dir)).sort(), ['p.steer', 'x']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a writer that fails leaves the old file and no temporary file', async () => {
  const dir = await folder();
  try {
    const path = join(dir, 'index.bin');
    await writeFileAtomic(path, 'old');
    await assert.rejects(
      writeFileAtomicWith(path, async (handle) => {
        await handle.write(new Uint8Array([1, 2, 3]), 0, 3, 0);
        throw new Error('disk full');
      }),
      /disk full/,
    );
    assert.equal(await readFile(path, 'utf8'), 'old');
    assert.deepEqual(await readdir(dir), ['index.bin']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
