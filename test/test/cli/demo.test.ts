// `steer demo` end to end in a temporary directory: offline, on the embedded store, steering that moves results,
// and the workspace it leaves (steer.config.json, demo.steer) answering `steer search` from inside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseJsonOutput, runSteer } from '../../src/run-cli.js';

interface DemoHit {
  id: string;
  score: number;
  text: string;
  perspective?: string;
  moved?: number | null;
}
interface DemoOutput {
  index: string;
  reusedIndex: boolean;
  workspace: { dir: string; config: string; file: string; steerFile: string };
  queries: Array<{
    query: string;
    steerQuery: string;
    toward: { perspective: string };
    baseline: DemoHit[];
    steered: DemoHit[];
  }>;
}

test('steer demo --json shows steering toward the chosen perspective, and a second run reuses the index', async () => {
  const cwd = await mkdtemp(join(tmpdir(), 'steer-demo-'));
  const first = await runSteer(['demo', '--json'], { cwd });
  assert.equal(first.code, 0, first.stderr);
  const out = parseJsonOutput<DemoOutput>(first);
  assert.equal(out.reusedIndex, false);
  assert.ok(out.queries.length >= 2);
  let shifted = 0;
  for (const q of out.queries) {
    assert.ok(q.baseline.length === 5 && q.steered.length === 5, `top 5 for ${q.query}`);
    for (const hit of [...q.baseline, ...q.steered]) {
      assert.equal(typeof hit.id, 'string');
      assert.equal(typeof hit.score, 'number');
      assert.ok(hit.text.length > 0);
    }
    const count = (hits: DemoHit[]) => hits.filter((h) => h.perspective === q.toward.perspective).length;
    assert.ok(
      count(q.steered) >= count(q.baseline),
      `steering toward ${q.toward.perspective} must not lose that perspective (${q.steerQuery})`,
    );
    if (count(q.steered) > count(q.baseline)) shifted++;
  }
  assert.ok(shifted >= 2, `at least two queries shift toward their perspective, got ${shifted}`);

  // The workspace: a config naming the SAE copy and the index, and demo.steer with every way to name features.
  const workspace = join(cwd, 'steer-demo');
  assert.equal(out.workspace.dir, workspace);
  assert.equal(out.workspace.steerFile, 'written');
  const config = JSON.parse(await readFile(join(workspace, 'steer.config.json'), 'utf8')) as Record<
    string,
    string
  >;
  assert.deepEqual(config, {
    sae: 'sae',
    index: out.index,
    dataDir: '.steer',
    embedder: 'default',
    backend: 'embedded',
  });
  const demoSteer = await readFile(join(workspace, 'demo.steer'), 'utf8');
  assert.match(demoSteer, /^# sae: sae-[0-9a-f]+$/m);
  assert.match(demoSteer, / \+f\d+\*2x/, 'feature ids');
  assert.match(demoSteer, /^preset \w+ = \+@\w+\*2x/m, 'a preset of aliases');
  assert.match(demoSteer, / \+~"[^"]+"\*2x/, 'a concept');
  assert.match(demoSteer, / \$\w+ k=5$/m, 'the preset used');
  const aliasLine = demoSteer.split('\n').find((line) => /^"[^"]+" \+@\w+\*2x -@\w+ k=5$/.test(line));
  assert.ok(aliasLine, `a query steered by aliases in:\n${demoSteer}`);

  // A user in the workspace runs a line of demo.steer as it is: the config finds the SAE, aliases and index.
  const search = await runSteer(['search', aliasLine, '--json'], { cwd: workspace });
  assert.equal(search.code, 0, search.stderr);
  const found = parseJsonOutput<{ hits: DemoHit[]; edits: Array<{ feature: number; op: string }> }>(search);
  assert.equal(found.hits.length, 5);
  const idLine = demoSteer
    .split('\n')
    .find((line) => line.startsWith(aliasLine.slice(0, aliasLine.indexOf(' +@'))) && / \+f\d+/.test(line))!;
  const ids = [...idLine.matchAll(/[+-]f(\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(
    found.edits.map((e) => e.feature).sort(),
    ids.sort(),
    `${aliasLine} names the features of ${idLine}`,
  );

  // A second run reuses the index, and keeps a demo.steer the user edited.
  await writeFile(join(workspace, 'demo.steer'), `${demoSteer}"my own query" k=3\n`);
  const second = await runSteer(['demo', '--json'], { cwd });
  assert.equal(second.code, 0, second.stderr);
  const again = parseJsonOutput<DemoOutput>(second);
  assert.equal(again.reusedIndex, true);
  assert.equal(again.workspace.steerFile, 'kept');
  assert.match(await readFile(join(workspace, 'demo.steer'), 'utf8'), /"my own query"/);
  assert.deepEqual(
    again.queries.map((q) => q.steered.map((h) => h.id)),
    out.queries.map((q) => q.steered.map((h) => h.id)),
  );

  // Without --json it ends by saying how to open the workspace in VS Code and in Neovim.
  const human = await runSteer(['demo'], { cwd });
  assert.equal(human.code, 0, human.stderr);
  const ending = human.stdout.slice(human.stdout.indexOf('Your demo workspace is ready'));
  assert.match(ending, /steer\.config\.json/);
  assert.match(ending, /VS Code: .*code --install-extension/s);
  assert.match(ending, /code steer-demo steer-demo\/demo\.steer/);
  assert.match(ending, /Neovim: +nvim steer-demo\/demo\.steer .*lsp', '--stdio'/);
});
