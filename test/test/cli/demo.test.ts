// `steer demo` end to end in a temporary directory: offline, on the embedded store, steering that moves results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
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
  reusedIndex: boolean;
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

  const second = await runSteer(['demo', '--json'], { cwd });
  assert.equal(second.code, 0, second.stderr);
  const again = parseJsonOutput<DemoOutput>(second);
  assert.equal(again.reusedIndex, true);
  assert.deepEqual(
    again.queries.map((q) => q.steered.map((h) => h.id)),
    out.queries.map((q) => q.steered.map((h) => h.id)),
  );
});
