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
interface DemoSide {
  perspective: string;
  concept: string;
  features: Array<{ id: number; label?: string; weight: number }>;
  overridden: Array<{ id: number }>;
}
interface DemoOutput {
  index: string;
  reusedIndex: boolean;
  workspace: { dir: string; config: string; file: string; steerFile: string };
  queries: Array<{
    query: string;
    steerQuery: string;
    toward: DemoSide;
    away: DemoSide;
    baseline: DemoHit[];
    steered: DemoHit[];
  }>;
}

const ids = (features: Array<{ id: number }>): number[] => features.map((f) => f.id).sort((a, b) => a - b);

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
  const lineIds = [...idLine.matchAll(/[+-]f(\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(
    found.edits.map((e) => e.feature).sort(),
    lineIds.sort(),
    `${aliasLine} names the features of ${idLine}`,
  );

  // The features the demo names are the edits in effect once the compiler merged them (one edit per feature):
  // exactly those `steer search` plans for the same steer query, none both toward and away; a feature of both
  // concepts (electric cars: the best "running costs" feature is also in the "emissions" direction) is listed on
  // the side whose edit is kept and named as overridden on the other.
  for (const q of out.queries) {
    const run = await runSteer(['search', q.steerQuery, '--json'], { cwd: workspace });
    assert.equal(run.code, 0, run.stderr);
    const planned = parseJsonOutput<{ edits: Array<{ feature: number; op: string; value: number }> }>(
      run,
    ).edits;
    const amplified = planned.filter((e) => e.op !== 'zero' && e.value > 0).map((e) => e.feature);
    const zeroed = planned.filter((e) => e.op === 'zero').map((e) => e.feature);
    assert.deepEqual(
      ids(q.toward.features),
      amplified.sort((a, b) => a - b),
      `toward in effect: ${q.steerQuery}`,
    );
    assert.deepEqual(
      ids(q.away.features),
      zeroed.sort((a, b) => a - b),
      `away in effect: ${q.steerQuery}`,
    );
    for (const f of q.away.overridden) assert.ok(amplified.includes(f.id), `f${f.id} stays amplified`);
    for (const f of q.toward.overridden) assert.ok(zeroed.includes(f.id), `f${f.id} stays zeroed`);
  }

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

  // Each query's line names the features in effect on each side (as --json does), never one on both sides, and
  // says which feature of a concept another edit overrode.
  const steerLines = human.stdout.split('\n').filter((line) => line.startsWith('   steer toward '));
  assert.equal(steerLines.length, out.queries.length);
  steerLines.forEach((line, i) => {
    const q = out.queries[i]!;
    const [towardText, awayText] = line.split(`, away from '${q.away.perspective}' `) as [string, string];
    assert.ok(awayText !== undefined, line);
    const listed = (text: string) =>
      [...text.matchAll(/f(\d+) \(/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
    assert.deepEqual(listed(towardText), ids(q.toward.features), line);
    assert.deepEqual(listed(awayText), ids(q.away.features), line);
    assert.ok(
      listed(towardText).every((id) => !listed(awayText).includes(id)),
      `no feature both toward and away: ${line}`,
    );
    for (const f of q.away.overridden)
      assert.match(awayText, new RegExp(`\\bf${f.id} is steered toward instead`));
    if (q.away.features.length === 0) assert.match(awayText, /^with no feature/);
  });
});
