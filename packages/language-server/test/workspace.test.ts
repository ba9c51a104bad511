// The workspace finds steer.config.json upwards from each document (as the CLI does), reloads a project when
// its config changes on disk, and says what failed (and how to fix it) when a part of a project cannot load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SteerWorkspace } from '../src/index.js';
import { expectHover } from '../src/testing/index.js';
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

test('an embedder whose runtime cannot load is reported once, with the cause and a fix, and keeps the labels', async () => {
  const { fixture } = await testProject();
  const problems: Array<{ severity: string; message: string; fix: string; configFile?: string }> = [];
  const missing = Object.assign(
    new Error("Cannot find module 'onnxruntime-node'\nRequire stack:\n- server.js"),
    {
      code: 'MODULE_NOT_FOUND',
    },
  );
  const workspace = new SteerWorkspace({
    env: {},
    watchFiles: false,
    onProblem: (problem) => problems.push(problem),
    loadEmbedder: () => Promise.reject(missing),
  });
  try {
    const uri = pathToFileURL(join(fixture.root, 'a.steer')).href;
    const context = await workspace.contextFor(uri);
    assert.ok(context.catalog, 'labels, aliases and statistics need no embedder');
    await context.warmedUp;
    assert.equal(context.conceptSearchReady?.(), false);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.severity, 'error');
    assert.match(
      problems[0]!.message,
      /cannot load the embedder "default" \(Cannot find module 'onnxruntime-node'\)/,
    );
    assert.match(
      problems[0]!.fix,
      new RegExp(
        `cannot load onnxruntime-node on ${process.platform}-${process.arch}.*install the Steer extension built for this platform`,
      ),
    );
    assert.equal(problems[0]!.configFile, fixture.configFile);
    assert.deepEqual(
      context.problems.map((p) => p.code),
      ['catalog-unavailable'],
      'the same problem is on every document',
    );
    await workspace.contextFor(uri);
    assert.equal(problems.length, 1, 'reported once per project load');
  } finally {
    await workspace.dispose();
  }
});

test('a catalog that cannot open says why on hover instead of "no SAE is configured"', async () => {
  const { fixture } = await testProject();
  const root = await mkdtemp(join(tmpdir(), 'steer-lsp-broken-sae-'));
  await writeFile(join(root, 'steer.config.json'), JSON.stringify({ sae: join(root, 'no-such-sae') }));
  const workspace = new SteerWorkspace({ env: {}, watchFiles: false });
  try {
    const context = await workspace.contextFor(pathToFileURL(join(root, 'q.steer')).href);
    assert.equal(context.catalog, undefined);
    const hover = await expectHover(
      `"x" +f${fixture.topics.learning}<|>`,
      { contains: ['cannot open the feature catalog'] },
      context,
    );
    const text = JSON.stringify(hover);
    assert.ok(!text.includes('no SAE is configured'), text);
  } finally {
    await workspace.dispose();
  }
});
