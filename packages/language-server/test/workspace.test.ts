// The workspace finds steer.config.json upwards from each document (as the CLI does) and reloads a project
// when its config changes on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SteerWorkspace } from '../src/index.js';
import { testProject } from './support/project.js';

test('documents in sub-folders share the project of the nearest steer.config.json', async () => {
  const { fixture } = await testProject();
  await mkdir(join(fixture.root, 'deep', 'er'), { recursive: true });
  const workspace = new SteerWorkspace({ env: {}, watchFiles: false });
  try {
    const top = await workspace.projectFor(pathToFileURL(join(fixture.root, 'a.steer')).href);
    const deep = await workspace.projectFor(pathToFileURL(join(fixture.root, 'deep', 'er', 'b.steer')).href);
    assert.equal(top, deep);
    assert.equal(top.configFile, fixture.configFile);
    const context = await top.context();
    assert.equal(context.catalog?.saeId, fixture.saeId);
  } finally {
    await workspace.dispose();
  }
});

test('a change of steer.config.json on disk drops the project and notifies; the next context reflects the file', async () => {
  const { fixture } = await testProject();
  let changed!: () => void;
  const notified = new Promise<void>((resolve) => (changed = resolve));
  const workspace = new SteerWorkspace({ env: {}, onConfigChanged: () => changed() });
  const uri = pathToFileURL(join(fixture.root, 'a.steer')).href;
  const original = await readFile(fixture.configFile, 'utf8');
  // NOTE: the watcher does not hold the process open (a server's stdin does); hold it while waiting.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    assert.ok((await workspace.contextFor(uri)).catalog);
    await writeFile(fixture.configFile, JSON.stringify({ embedder: 'default' }));
    await notified;
    const context = await workspace.contextFor(uri);
    assert.equal(context.catalog, undefined, 'no SAE configured any more');
  } finally {
    clearInterval(keepAlive);
    await writeFile(fixture.configFile, original);
    await workspace.dispose();
  }
});
