// `steer index` + `steer search` end to end in a temporary directory, and the CLI's answers to bad input.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSae } from '@steer/sae';
import { parseJsonOutput, repoRoot, runSteer } from '../../src/run-cli.js';

const demoSae = join(repoRoot, 'packages/cli/demo/sae');
let cwd: string;

const corpus = [
  { _id: 'c1', text: 'Students borrow money to pay tuition and hope for a well paid job after graduation.' },
  { _id: 'c2', text: 'A university education teaches curiosity, critical thinking and lifelong learning.' },
  { _id: 'c3', text: 'Espresso is brewed by forcing hot water through finely ground coffee beans.' },
  { _id: 'c4', text: 'Electric cars cut tailpipe emissions and help cities meet their climate goals.' },
  { _id: 'c5', text: 'City parks give children space to play football and families room for picnics.' },
];

before(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'steer-search-'));
  await writeFile(join(cwd, 'corpus.jsonl'), corpus.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const indexed = await runSteer(['index', 'corpus.jsonl', '--index', 'small', '--json'], { cwd });
  assert.equal(indexed.code, 0, indexed.stderr);
  assert.deepEqual(parseJsonOutput<{ added: number }>(indexed).added, 5);
});

test('steer search --json prints {"hits": [{id, score, text}]} ranked by score', async () => {
  const result = await runSteer(['search', 'coffee brewing', '--index', 'small', '--k', '3', '--json'], {
    cwd,
  });
  assert.equal(result.code, 0, result.stderr);
  const { hits } = parseJsonOutput<{ hits: Array<{ id: string; score: number; text: string }> }>(result);
  assert.equal(hits.length, 3);
  assert.equal(hits[0]!.id, 'c3');
  assert.ok(hits[0]!.score >= hits[1]!.score && hits[1]!.score >= hits[2]!.score);
  assert.equal(hits[0]!.text, corpus[2]!.text);
});

type Hits = Array<{ id: string; score: number }>;

/** `steer search <query> --json [...extra]` on the small index with the demo SAE; fails the test on a non-zero exit. */
async function searchJson<T>(query: string, extra: string[] = []): Promise<T> {
  const args = ['search', query, '--index', 'small', '--sae', demoSae, '--json', ...extra];
  const result = await runSteer(args, { cwd });
  assert.equal(result.code, 0, result.stderr);
  return parseJsonOutput<T>(result);
}

/** `steer search <query> --compare --json` on the small index with the demo SAE. */
function searchCompared(query: string): Promise<{ hits: Hits; baseline: Hits }> {
  return searchJson(query, ['--compare']);
}

test('steer search with feature edits through the SAE changes the scores; no edits changes nothing', async () => {
  const plain = await searchJson<{ hits: Hits }>('"what is a degree worth"');
  const out = await searchCompared('"what is a degree worth" +f0*0.8');
  assert.deepEqual(out.baseline, plain.hits);
  assert.notDeepEqual(
    out.hits.map((h) => h.score),
    plain.hits.map((h) => h.score),
  );
});

test('steer=reconstructed pursues the query by default, keeping the scores closer to the unsteered query than code=encoder', async () => {
  const drift = async (options: string): Promise<number> => {
    const out = await searchCompared(`"what is a degree worth" ${options}`);
    const before = new Map(out.baseline.map((hit) => [hit.id, hit.score]));
    // No edits: residual steering searches with the query itself, reconstructed with what the SAE keeps of it.
    return (
      out.hits.reduce((sum, hit) => sum + Math.abs(hit.score - before.get(hit.id)!), 0) / out.hits.length
    );
  };
  const residual = await drift('');
  const byEncoder = await drift('steer=reconstructed code=encoder');
  const byPursuit = await drift('steer=reconstructed code=pursuit');
  const byDefault = await drift('steer=reconstructed');
  assert.equal(residual, 0);
  assert.ok(byPursuit > 0 && byPursuit < byEncoder, `pursuit ${byPursuit} vs encoder ${byEncoder}`);
  assert.equal(byDefault, byPursuit, 'code=auto (the default) pursues under steer=reconstructed');
  const reported = await searchJson<{ steering: unknown }>('"what is a degree worth" steer=reconstructed');
  assert.deepEqual(reported.steering, { mode: 'reconstructed', code: 'pursuit' });
  const bad = await runSteer(['search', '"x" code=lasso', '--index', 'small', '--json'], { cwd });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /expected code to be one of 'auto', 'encoder', 'pursuit', found "lasso"/);
});

test("a relative strength is a multiple of the query's own unit, reported with the edits", async () => {
  type Edit = { feature: number; op: string; value: number; relative?: number; unit?: number };
  const out = await searchJson<{
    edits: Edit[];
    strengthUnit: { unit: number; scale: number; queryNorm: number; basis: string };
  }>('"what is a degree worth" +f0*2x ~"coffee"/2 -f7*0.5x');
  assert.equal(out.strengthUnit.basis, 'query');
  assert.ok(Math.abs(out.strengthUnit.unit - out.strengthUnit.scale * out.strengthUnit.queryNorm) < 1e-9);
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b));
  // An amplify's 1x is where the query's results and the feature's meet on the demo catalog's pool: its own unit.
  const amplified = out.edits[0]!;
  assert.equal(amplified.feature, 0);
  assert.equal(amplified.relative, 2);
  assert.ok(amplified.unit! > 0 && amplified.unit !== out.strengthUnit.unit, JSON.stringify(amplified));
  assert.ok(close(amplified.value, 2 * amplified.unit!));
  // The concept's two features share the default 1x along their direction, with one unit for the direction.
  const concept = out.edits.slice(1, 3);
  assert.equal(concept.length, 2);
  assert.ok(concept.every((e) => e.op === 'add' && e.value > 0 && e.relative! > 0 && e.relative! < 1));
  assert.equal(concept[0]!.unit, concept[1]!.unit);
  assert.ok(concept.every((e) => close(e.value, e.relative! * e.unit!)));
  // A subtraction keeps the query's unit (scale x |h|).
  const subtracted = out.edits[3]!;
  assert.equal(subtracted.feature, 7);
  assert.ok(close(subtracted.unit!, out.strengthUnit.unit));
  assert.ok(close(subtracted.value, -0.5 * out.strengthUnit.unit));
});

test('bad input exits with code 2 and a message that names the problem', async () => {
  const cases: Array<{ args: string[]; pattern: RegExp }> = [
    {
      args: ['search', '"jobs" +f99999999*0.5', '--index', 'small', '--sae', demoSae],
      pattern: /f99999999|out of range|unknown feature/i,
    },
    { args: ['search', '"jobs" +f1*', '--index', 'small', '--sae', demoSae], pattern: /expected/i },
    { args: ['search', 'jobs', '--index', 'nope'], pattern: /nope/ },
    {
      args: ['search', 'jobs', '--index', 'small', '--sae', join(cwd, 'missing-sae')],
      pattern: /missing-sae/,
    },
    { args: ['index', 'missing.jsonl'], pattern: /missing\.jsonl/ },
    { args: ['search', 'jobs', '--k', 'zero', '--index', 'small'], pattern: /--k/ },
    { args: ['frobnicate'], pattern: /unknown command/ },
  ];
  for (const c of cases) {
    const result = await runSteer(c.args, { cwd });
    assert.equal(result.code, 2, `${c.args.join(' ')} -> ${result.code}: ${result.stderr}`);
    assert.match(result.stderr, c.pattern, c.args.join(' '));
  }
});

test('an SAE for another embedding size, and a corrupt SAE file, are refused with the fix', async () => {
  const small = join(cwd, 'sae-16d');
  const d = 16;
  const n = 32;
  await writeSae(
    small,
    {
      W_enc: new Float32Array(n * d),
      b_enc: new Float32Array(n),
      W_dec: new Float32Array(d * n),
      b_dec: new Float32Array(d),
      dModel: d,
      nLatents: n,
    },
    { k: 4, embedding: { model: 'tiny-16', dims: d, normalized: true } },
  );
  const mismatch = await runSteer(['search', '"jobs" +f1*0.5', '--index', 'small', '--sae', small], { cwd });
  assert.equal(mismatch.code, 2, mismatch.stderr);
  assert.match(mismatch.stderr, /512.*16|16.*512/);

  const corrupt = join(cwd, 'corrupt-sae');
  await cp(demoSae, corrupt, { recursive: true });
  await writeFile(join(corrupt, 'sae.safetensors'), 'not a safetensors file');
  const bad = await runSteer(['search', '"jobs" +f1*0.5', '--index', 'small', '--sae', corrupt], { cwd });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /safetensors|corrupt|hash/i);
});

test('an empty corpus and an unwritable data directory fail with code 2 and leave no partial files', async () => {
  await writeFile(join(cwd, 'empty.jsonl'), '\n');
  const before = await readdir(join(cwd, '.steer'));
  const empty = await runSteer(['index', 'empty.jsonl', '--index', 'empty'], { cwd });
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /no documents/);
  assert.deepEqual(await readdir(join(cwd, '.steer')), before);

  await writeFile(join(cwd, 'a-file'), 'x');
  const unwritable = await runSteer(['index', 'corpus.jsonl', '--data-dir', join(cwd, 'a-file', 'data')], {
    cwd,
  });
  assert.equal(unwritable.code, 2, unwritable.stderr);
  assert.match(unwritable.stderr, /a-file/);
  assert.equal(existsSync(join(cwd, 'a-file', 'data')), false);
});
