// The VS Code extension packages offline into a .vsix (npm run package) within CI's time budget, and the
// package holds the extension, the bundled language server and the TextMate grammar; the bundled server
// starts on its own (outside the repository) and answers with the grammar's diagnostics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../../src/run-cli.js';
import { LspClient } from './lsp-client.js';

const extensionDir = join(repoRoot, 'extension');
const vsix = join(extensionDir, 'steer-vscode-0.1.0.vsix');

test('npm run package builds steer-vscode-0.1.0.vsix with the server and grammar in under 30 s', async () => {
  const started = Date.now();
  const build = spawnSync('npm', ['run', 'package', '--silent'], {
    cwd: extensionDir,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const seconds = (Date.now() - started) / 1000;
  assert.equal(build.status, 0, `${build.stdout}\n${build.stderr}`);
  assert.ok(seconds < 30, `packaging took ${seconds.toFixed(1)} s`);
  const listing = execFileSync('unzip', ['-l', vsix], { encoding: 'utf8' });
  for (const file of [
    'extension/package.json',
    'extension/out/extension.js',
    'extension/out/server.js',
    'extension/syntaxes/steer.tmLanguage.json',
    'extension/language-configuration.json',
  ]) {
    assert.ok(listing.includes(file), `${file} is in the vsix:\n${listing}`);
  }
  assert.ok(!listing.includes('extension/src/'), 'sources stay out of the vsix');
  const manifest = JSON.parse(
    execFileSync('unzip', ['-p', vsix, 'extension/package.json'], { encoding: 'utf8' }),
  ) as {
    contributes: {
      grammars: Array<{ language: string; path: string }>;
      commands: Array<{ command: string }>;
    };
  };
  assert.deepEqual(
    manifest.contributes.grammars.map((g) => [g.language, g.path]),
    [['steer', './syntaxes/steer.tmLanguage.json']],
  );
  assert.deepEqual(manifest.contributes.commands.map((c) => c.command).sort(), [
    'steer.explainFeature',
    'steer.runQuery',
    'steer.savePreset',
  ]);
  const grammar = JSON.parse(
    execFileSync('unzip', ['-p', vsix, 'extension/syntaxes/steer.tmLanguage.json'], { encoding: 'utf8' }),
  ) as { scopeName: string };
  assert.equal(grammar.scopeName, 'source.steer');

  // The bundled server, alone in a folder without node_modules, still parses and reports syntax errors.
  const dir = await mkdtemp(join(tmpdir(), 'steer-vsix-'));
  const server = join(dir, 'server.js');
  await writeFile(
    server,
    execFileSync('unzip', ['-p', vsix, 'extension/out/server.js'], { maxBuffer: 64 * 1024 * 1024 }),
  );
  const client = LspClient.startScript(server, ['--stdio'], dir, { NODE_PATH: '' });
  try {
    await client.request('initialize', { processId: process.pid, capabilities: {} });
    client.notify('initialized', {});
    const uri = pathToFileURL(join(dir, 'q.steer')).href;
    client.notify('textDocument/didOpen', {
      textDocument: { uri, languageId: 'steer', version: 1, text: '"jobs" +f12*' },
    });
    const published = await client.waitFor<{ diagnostics: Array<{ code: string }> }>(
      'textDocument/publishDiagnostics',
      (p) => p.diagnostics.some((d) => d.code === 'no-viable-alternative'),
    );
    assert.ok(published.diagnostics.length >= 1);
    assert.equal(await client.stop(), 0);
  } finally {
    client.kill();
  }
});
