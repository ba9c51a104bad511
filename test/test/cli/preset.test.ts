// `steer preset save|list|show|rm` end to end, and a saved preset used in `steer search`.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseJsonOutput, repoRoot, runSteer } from '../../src/run-cli.js';

const demoSae = join(repoRoot, 'packages/cli/demo/sae');
let cwd: string;

before(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'steer-preset-'));
  await writeFile(join(cwd, 'steer.config.json'), JSON.stringify({ sae: demoSae, index: 'p' }));
  await writeFile(
    join(cwd, 'corpus.jsonl'),
    [
      { _id: 'a', text: 'A degree opens doors to well paid jobs and a steady career.' },
      { _id: 'b', text: 'University is a place to grow, to read widely and to question everything.' },
      { _id: 'c', text: 'Cold brew coffee is steeped for hours in cold water.' },
    ]
      .map((d) => JSON.stringify(d))
      .join('\n'),
  );
  const indexed = await runSteer(['index', 'corpus.jsonl'], { cwd });
  assert.equal(indexed.code, 0, indexed.stderr);
});

test('save, list, show and remove a preset; the config file supplies the SAE', async () => {
  const saved = await runSteer(['preset', 'save', 'boost', '+f3*0.4 -f5', '--json'], { cwd });
  assert.equal(saved.code, 0, saved.stderr);
  const savedOut = parseJsonOutput<{ name: string; saeId: string; edits: string }>(saved);
  assert.equal(savedOut.name, 'boost');
  assert.match(savedOut.saeId, /^sae-[0-9a-f]{16}$/);
  assert.equal(savedOut.edits, '+f3*0.4 -f5');

  const list = parseJsonOutput<{ presets: Array<{ name: string; edits: string }> }>(
    await runSteer(['preset', 'list', '--json'], { cwd }),
  );
  assert.deepEqual(
    list.presets.map((p) => [p.name, p.edits]),
    [['boost', '+f3*0.4 -f5']],
  );
  const shown = parseJsonOutput<{ text: string }>(
    await runSteer(['preset', 'show', 'boost', '--json'], { cwd }),
  );
  assert.match(shown.text, /preset boost = \+f3\*0\.4 -f5/);

  const withPreset = await runSteer(['search', '"what is a degree for" $boost', '--json'], { cwd });
  assert.equal(withPreset.code, 0, withPreset.stderr);
  const { edits } = parseJsonOutput<{ edits: Array<{ feature: number; op: string; value: number }> }>(
    withPreset,
  );
  assert.deepEqual(
    edits.map((e) => [e.feature, e.op]),
    [
      [3, 'add'],
      [5, 'zero'],
    ],
  );

  const removed = await runSteer(['preset', 'rm', 'boost', '--json'], { cwd });
  assert.equal(removed.code, 0, removed.stderr);
  const missing = await runSteer(['preset', 'show', 'boost'], { cwd });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /boost/);
});

test('bad preset input is refused with exit code 2', async () => {
  const badName = await runSteer(['preset', 'save', 'f12', '+f3*0.4'], { cwd });
  assert.equal(badName.code, 2);
  const badEdits = await runSteer(['preset', 'save', 'x', '+f3*'], { cwd });
  assert.equal(badEdits.code, 2);
  assert.match(badEdits.stderr, /expected/i);
  const unknownFeature = await runSteer(['preset', 'save', 'y', '+f999999'], { cwd });
  assert.equal(unknownFeature.code, 2);
  const noAction = await runSteer(['preset'], { cwd });
  assert.equal(noAction.code, 2);
});
