// `steer index --latents` and `steer search` in sparse, hybrid and dense modes against the Elasticsearch test double.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEsDouble } from '../../src/es-double.js';
import type { EsDouble } from '../../src/es-double.js';
import { parseJsonOutput, repoRoot, runSteer } from '../../src/run-cli.js';

const demoSae = join(repoRoot, 'packages/cli/demo/sae');
let double: EsDouble;
let cwd: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  double = await startEsDouble();
  cwd = await mkdtemp(join(tmpdir(), 'steer-es-cli-'));
  env = { STEER_ES_URL: double.url };
  await writeFile(
    join(cwd, 'corpus.jsonl'),
    [
      {
        _id: 'salary',
        text: 'Graduates earn higher salaries and land jobs sooner than non-graduates.',
        metadata: { lang: 'en' },
      },
      {
        _id: 'growth',
        text: 'College years are for curiosity, reading widely and growing as a person.',
        metadata: { lang: 'en' },
      },
      {
        _id: 'espresso',
        text: 'An espresso is pulled in about thirty seconds at nine bars of pressure.',
        metadata: { lang: 'en' },
      },
      {
        _id: 'kaffee',
        text: 'Kaffee wird in Deutschland am liebsten als Filterkaffee getrunken.',
        metadata: { lang: 'de' },
      },
    ]
      .map((d) => JSON.stringify(d))
      .join('\n'),
  );
});

after(() => double.close());

test('steer index --latents writes dense vectors and a sparse_vector latent field into Elasticsearch', async () => {
  const indexed = await runSteer(
    [
      'index',
      'corpus.jsonl',
      '--index',
      'docs',
      '--backend',
      'elasticsearch',
      '--latents',
      '--sae',
      demoSae,
      '--json',
    ],
    { cwd, env },
  );
  assert.equal(indexed.code, 0, indexed.stderr);
  const out = parseJsonOutput<{ added: number; latents: { written: number; failed: number } }>(indexed);
  assert.equal(out.added, 4);
  assert.deepEqual([out.latents.written, out.latents.failed], [4, 0]);
  const source = double.getSource('docs', 'growth') as Record<string, unknown>;
  const latents = Object.entries(source.steer_latents as Record<string, number>);
  assert.ok(latents.length > 0 && latents.every(([key, value]) => /^f\d+$/.test(key) && value > 0));
});

test('dense, sparse and hybrid searches answer through the Elasticsearch backend, with filters', async () => {
  for (const mode of ['dense', 'sparse', 'hybrid']) {
    const result = await runSteer(
      [
        'search',
        `"what do students gain from college" mode=${mode} k=2 where lang:en`,
        '--index',
        'docs',
        '--backend',
        'elasticsearch',
        '--sae',
        demoSae,
        '--json',
      ],
      { cwd, env },
    );
    assert.equal(result.code, 0, `${mode}: ${result.stderr}`);
    const { hits } = parseJsonOutput<{ hits: Array<{ id: string; score: number }> }>(result);
    assert.ok(hits.length > 0 && hits.length <= 2, mode);
    assert.ok(!hits.some((h) => h.id === 'kaffee'), `${mode}: the filter keeps German documents out`);
  }
});

test('an unreachable cluster is a clear error with exit code 2', async () => {
  const result = await runSteer(['search', 'jobs', '--index', 'docs', '--backend', 'elasticsearch'], {
    cwd,
    env: { STEER_ES_URL: 'http://127.0.0.1:9' },
  });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /127\.0\.0\.1:9|unreachable|connect/i);
});
