// Diagnostics: parser recovery, compiler checks against the catalog and presets, and project problems.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DiagnosticSeverity } from 'vscode-languageserver';
import { SteerWorkspace } from '../src/index.js';
import { expectDiagnostics } from '../src/testing/index.js';
import { testProject } from './support/project.js';

test('parse errors come with codes and ranges even without a catalog', async () => {
  const [d] = await expectDiagnostics('"jobs" +f12*', { codes: ['no-viable-alternative'] });
  assert.equal(d!.range.start.character, 12);
  assert.equal(d!.severity, DiagnosticSeverity.Error);
  assert.equal(d!.source, 'steer');
});

test('unknown feature, alias and preset; dead feature; strength out of range', async () => {
  const { context, fixture } = await testProject();
  const text = [
    `"a" +f${fixture.nLatents + 5}`,
    '"b" +@learnin',
    '"c" $nosuch',
    `"d" +f${fixture.deadFeature}*0.5`,
    '"e" +@career*500',
    '"f" +@career*20x',
  ].join('\n');
  const diagnostics = await expectDiagnostics(text, {}, context);
  const byLine = diagnostics.map((d) => `${d.range.start.line}:${d.code}`);
  assert.deepEqual(byLine, [
    '0:unknown-feature',
    '1:unknown-alias',
    '2:unknown-preset',
    '3:dead-feature',
    '4:strength-out-of-range',
    '5:strength-out-of-range',
  ]);
  assert.match(diagnostics[0]!.message as string, new RegExp(`has ${fixture.nLatents} features`));
});

test('a clean query against the catalog has no diagnostics; saved presets resolve', async () => {
  const { context } = await testProject();
  await expectDiagnostics('"jobs" +@learning*0.5 -@cooking $jobs k=5', { codes: [] }, context);
});

test('a file bound to another SAE warns on its # sae: pragma', async () => {
  const { context } = await testProject();
  const [d] = await expectDiagnostics(
    '# sae: sae-0000000000000000\n"x" +@learning',
    { codes: ['sae-mismatch'] },
    context,
  );
  assert.equal(d!.range.start.line, 0);
});

test('SAE and embedder mismatch and an invalid config are reported on the document', async () => {
  const { fixture } = await testProject();
  const root = await mkdtemp(join(tmpdir(), 'steer-lsp-mismatch-'));
  // The fixture SAE (512-d USE lite) with a precomputed 3-d embedder: dims mismatch.
  await writeFile(join(root, 'vectors.jsonl'), '{"id":"a","text":"a","vector":[1,0,0]}\n');
  await writeFile(
    join(root, 'steer.config.json'),
    JSON.stringify({ sae: fixture.saeDir, embedder: 'vectors:./vectors.jsonl' }),
  );
  const workspace = new SteerWorkspace({ env: {}, watchFiles: false });
  try {
    const context = await workspace.contextFor(pathToFileURL(join(root, 'q.steer')).href);
    await context.warmedUp; // the embedder is checked against the SAE once it has loaded
    const [d] = await expectDiagnostics('"x"', { codes: ['embedder-mismatch'] }, context);
    assert.match(d!.message as string, /gives 3-d vectors but SAE .* expects 512/);
    const bad = join(root, 'bad');
    await mkdir(bad);
    await writeFile(join(bad, 'steer.config.json'), '{"sae": 12');
    const badContext = await workspace.contextFor(pathToFileURL(join(bad, 'q.steer')).href);
    const [c] = await expectDiagnostics('"x"', { codes: ['config-invalid'] }, badContext);
    assert.match(c!.message as string, /not valid JSON/);
  } finally {
    await workspace.dispose();
  }
});
