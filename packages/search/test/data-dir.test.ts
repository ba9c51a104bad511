import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ensureWritableDir } from '../src/data-dir.js';
import { SearchError } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'steer-search-dir-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('ensureWritableDir creates missing folders', async () => {
  const dir = join(root, 'a', 'b', 'c');
  await ensureWritableDir(dir);
  assert.ok(existsSync(dir));
  assert.deepEqual(readdirSync(dir), []);
});

test('a path under a regular file is unwritable, named in the error, and nothing is created', async () => {
  const file = join(root, 'plain-file');
  writeFileSync(file, 'x');
  const dir = join(file, 'sub', 'deeper');
  await assert.rejects(ensureWritableDir(dir), (e: unknown) => {
    assert.ok(e instanceof SearchError);
    assert.equal(e.code, 'data_dir_unwritable');
    assert.match(e.message, new RegExp(`${dir}.*is a file.*--data-dir`));
    return true;
  });
  assert.deepEqual(readdirSync(root).sort(), ['a', 'plain-file']);
});
