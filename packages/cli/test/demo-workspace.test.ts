// The workspace `steer demo` leaves: the SAE copy keeps aliases, the config keeps the user's keys, an edited
// demo.steer is never overwritten, and the generated queries name features by id, alias, concept and preset.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from '@steer/grammar';
import { UsageError } from '../src/command.js';
import {
  configPath,
  copySae,
  demoAliases,
  demoSteerText,
  writeDemoConfig,
  writeDemoSteerFile,
  type DemoSteering,
} from '../src/demo-workspace.js';

const STEERINGS: DemoSteering[] = [
  {
    query: 'what is the value of a university degree',
    toward: { perspective: 'growth', concept: 'learning and curiosity', id: 84 },
    away: { perspective: 'career', id: 13 },
  },
  {
    query: 'what happens when people work from home',
    toward: { perspective: 'business', concept: 'productivity and "office" costs', id: 424 },
  },
  {
    query: 'what are the pros and cons of electric cars',
    toward: { perspective: 'environment', concept: 'carbon emissions', id: 58 },
    away: { perspective: 'economics', id: 118 },
  },
];

test('demo.steer parses cleanly and names features by id, alias, concept and preset', () => {
  const text = demoSteerText('sae-0123', STEERINGS, 5);
  const { ast, errors } = parse(text);
  assert.deepEqual(errors, []);
  assert.deepEqual(ast.header, [
    { kind: 'pragma', key: 'sae', value: 'sae-0123', range: ast.header[0]!.range },
  ]);
  assert.match(text, /^"what is the value of a university degree" \+f84\*2x -f13 k=5$/m);
  assert.match(text, /^"what is the value of a university degree" \+@growth\*2x -@career k=5$/m);
  assert.match(
    text,
    /^"what happens when people work from home" \+~"productivity and \\"office\\" costs"\*2x k=5$/m,
  );
  assert.match(text, /^preset environment_view = \+@environment\*2x -@economics$/m);
  assert.match(text, /^"what are the pros and cons of electric cars" \$environment_view k=5$/m);
  assert.deepEqual(
    [...demoAliases(STEERINGS)],
    [
      ['growth', 84],
      ['career', 13],
      ['business', 424],
      ['environment', 58],
      ['economics', 118],
    ],
  );
});

test('copySae copies only what changed and never touches the aliases of the copy', async () => {
  const root = await mkdtemp(join(tmpdir(), 'steer-demo-ws-'));
  const from = join(root, 'from');
  const to = join(root, 'to');
  await mkdir(join(from, 'catalog'), { recursive: true });
  await writeFile(join(from, 'manifest.json'), '{"id": "a"}');
  await writeFile(join(from, 'catalog', 'labels.jsonl'), '{"id": 1}\n');
  await writeFile(join(from, 'catalog', 'aliases.json'), '{"saeId": "a", "aliases": {"shipped": 1}}');
  assert.equal(await copySae(from, to), 2);
  assert.equal(
    existsSync(join(to, 'catalog', 'aliases.json')),
    false,
    'aliases of the source are not copied',
  );
  await writeFile(join(to, 'catalog', 'aliases.json'), '{"saeId": "a", "aliases": {"mine": 1}}');
  assert.equal(await copySae(from, to), 0, 'nothing changed');
  await writeFile(join(from, 'catalog', 'labels.jsonl'), '{"id": 2}\n');
  assert.equal(await copySae(from, to), 1);
  assert.equal(await readFile(join(to, 'catalog', 'labels.jsonl'), 'utf8'), '{"id": 2}\n');
  assert.match(await readFile(join(to, 'catalog', 'aliases.json'), 'utf8'), /"mine"/);
});

test('writeDemoConfig names the SAE and index and keeps the keys a user added', async () => {
  const ws = await mkdtemp(join(tmpdir(), 'steer-demo-ws-'));
  assert.equal(await writeDemoConfig(ws, { sae: 'sae', index: 'demo-1', dataDir: '.steer' }), true);
  const path = join(ws, 'steer.config.json');
  assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), {
    sae: 'sae',
    index: 'demo-1',
    dataDir: '.steer',
    embedder: 'default',
    backend: 'embedded',
  });
  assert.equal(await writeDemoConfig(ws, { sae: 'sae', index: 'demo-1', dataDir: '.steer' }), false);
  await writeFile(path, JSON.stringify({ steerMode: 'reconstructed', index: 'old' }));
  assert.equal(await writeDemoConfig(ws, { sae: 'sae', index: 'demo-2', dataDir: '.steer' }), true);
  const merged = JSON.parse(await readFile(path, 'utf8')) as Record<string, string>;
  assert.equal(merged.steerMode, 'reconstructed');
  assert.equal(merged.index, 'demo-2');
  await writeFile(path, '[1, 2');
  await assert.rejects(writeDemoConfig(ws, { sae: 'sae', index: 'demo-2', dataDir: '.steer' }), (error) => {
    assert.ok(error instanceof UsageError);
    assert.match(error.message, /steer\.config\.json is not a JSON object.*fix or delete it/);
    return true;
  });
  assert.equal(await readFile(path, 'utf8'), '[1, 2', 'a broken config is left as it is');
});

test('writeDemoSteerFile rewrites its own file but keeps one the user edited', async () => {
  const ws = await mkdtemp(join(tmpdir(), 'steer-demo-ws-'));
  const dataDir = join(ws, '.steer');
  assert.equal(await writeDemoSteerFile(ws, dataDir, '"a" k=5\n'), 'written');
  assert.equal(await writeDemoSteerFile(ws, dataDir, '"a" k=5\n'), 'unchanged');
  assert.equal(await writeDemoSteerFile(ws, dataDir, '"b" k=5\n'), 'written', 'an unedited file is updated');
  await writeFile(join(ws, 'demo.steer'), '"my own query"\n');
  assert.equal(await writeDemoSteerFile(ws, dataDir, '"c" k=5\n'), 'kept');
  assert.equal(await readFile(join(ws, 'demo.steer'), 'utf8'), '"my own query"\n');
});

test('configPath keeps paths inside the workspace relative and others absolute', () => {
  assert.equal(configPath('/w/demo', '/w/demo/.steer'), '.steer');
  assert.equal(configPath('/w/demo', '/data/steer'), '/data/steer');
  assert.equal(configPath('/w/demo', '/w/other'), '/w/other');
});
