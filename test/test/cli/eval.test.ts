// `steer eval` end to end on a tiny BEIR-layout dataset with the demo SAE, including the Markdown report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEsDouble } from '../../src/es-double.js';
import { parseJsonOutput, repoRoot, runSteer } from '../../src/run-cli.js';

const demoSae = join(repoRoot, 'packages/cli/demo/sae');

interface EvalOutput {
  queries: number;
  allQueries: number;
  embedder: string;
  hashes: { corpus: string; queries: string; qrels: string };
  rows: Array<{
    method: string;
    k: number;
    mse: number;
    mrr10: number;
    p10: number;
    r10: number;
    ndcg10: number;
    mrr10Ci: { value: number; low: number; high: number };
    retention: { value: number; low: number; high: number };
    overlap10: number;
  }>;
}

test('steer eval --json prints the five methods with metrics, intervals and overlap; --report writes the table', async () => {
  const cwd = await mkdtemp(join(tmpdir(), 'steer-eval-'));
  const dataset = join(cwd, 'tiny');
  const docs = [
    ['d1', 'Graduates with degrees earn higher salaries over their careers.'],
    ['d2', 'Espresso is brewed by forcing hot water through ground coffee.'],
    ['d3', 'City parks provide habitat for birds, bees and hedgehogs.'],
    ['d4', 'Electric cars produce no tailpipe emissions.'],
    ['d5', 'Working from home saves commuting time for employees.'],
  ];
  await mkdir(dataset);
  await writeFile(
    join(dataset, 'corpus.jsonl'),
    docs.map(([id, text]) => JSON.stringify({ _id: id, text })).join('\n'),
  );
  await writeFile(
    join(dataset, 'queries.jsonl'),
    [
      { _id: 'q1', text: 'how is coffee made' },
      { _id: 'q2', text: 'wildlife in urban green spaces' },
      { _id: 'q3', text: 'an unjudged query about electric vehicles' },
    ]
      .map((q) => JSON.stringify(q))
      .join('\n'),
  );
  await writeFile(join(dataset, 'qrels.tsv'), 'q1\td2\t1\nq2\td3\t1\n');

  const result = await runSteer(
    ['eval', '--dataset', dataset, '--sae', demoSae, '--json', '--report', 'report'],
    { cwd },
  );
  assert.equal(result.code, 0, result.stderr);
  const out = parseJsonOutput<EvalOutput>(result);
  assert.equal(out.queries, 2);
  assert.equal(out.allQueries, 3, 'the overlap uses the unjudged query too');
  assert.match(out.embedder, /^use-lite-512@model-embeddings-en@0\.2\.0 /);
  assert.match(out.hashes.corpus, /^[0-9a-f]{16}$/);
  assert.deepEqual(
    out.rows.map((r) => r.method),
    [
      'original',
      'sparse',
      'sparse-dot',
      'reconstructed',
      'reconstructed-cosine',
      'reconstructed-pursuit',
      'residual',
      'steer-reconstructed',
      'steer-reconstructed-pursuit',
    ],
  );
  const byMethod = new Map(out.rows.map((r) => [r.method, r]));
  assert.equal(byMethod.get('original')!.mrr10, 1, 'the USE-lite embedder ranks these obvious matches first');
  assert.deepEqual({ ...byMethod.get('residual')!, method: 'original', k: 0 }, byMethod.get('original'));
  assert.equal(byMethod.get('sparse')!.k, 8);
  assert.ok(byMethod.get('reconstructed')!.mse > 0);
  assert.ok(
    byMethod.get('reconstructed-pursuit')!.mse < byMethod.get('reconstructed')!.mse,
    'queries coded by pursuit are reconstructed more closely than by the encoder',
  );
  assert.ok(
    byMethod.get('steer-reconstructed-pursuit')!.mse < byMethod.get('steer-reconstructed')!.mse,
    'steer=reconstructed code=pursuit sends a query closer to the original than the encoder does',
  );
  for (const row of out.rows) {
    for (const value of [row.mrr10, row.p10, row.r10, row.ndcg10, row.overlap10])
      assert.ok(value >= 0 && value <= 1);
    assert.ok(row.mrr10Ci.low <= row.mrr10 && row.mrr10 <= row.mrr10Ci.high);
  }
  assert.equal(byMethod.get('original')!.overlap10, 1);
  assert.deepEqual(byMethod.get('original')!.retention, { value: 1, low: 1, high: 1 });
  const report = await readFile(join(cwd, 'report', 'eval.md'), 'utf8');
  assert.match(report, /\| tiny \| original \|/);
  assert.match(report, /Produced by `steer eval --dataset/);

  const missing = await runSteer(['eval', '--dataset', join(cwd, 'nope'), '--sae', demoSae], { cwd });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope/);
});

test('steer eval runs the dense rows on Elasticsearch too, with the same numbers as the embedded store', async () => {
  const cwd = await mkdtemp(join(tmpdir(), 'steer-eval-es-'));
  const dataset = join(cwd, 'tiny');
  await mkdir(dataset);
  const docs = [
    'Solar panels turn sunlight into electricity.',
    'Bread rises because yeast makes gas.',
    'Owls hunt at night.',
  ];
  await writeFile(
    join(dataset, 'corpus.jsonl'),
    docs.map((text, i) => JSON.stringify({ _id: `d${i}`, text })).join('\n'),
  );
  await writeFile(
    join(dataset, 'queries.jsonl'),
    JSON.stringify({ _id: 'q', text: 'how does yeast make bread rise' }),
  );
  await writeFile(join(dataset, 'qrels.tsv'), 'q\td1\t1\n');
  const embedded = parseJsonOutput<EvalOutput>(
    await runSteer(['eval', '--dataset', dataset, '--sae', demoSae, '--json'], { cwd }),
  );
  const double = await startEsDouble();
  try {
    const result = await runSteer(
      ['eval', '--dataset', dataset, '--sae', demoSae, '--backend', 'elasticsearch', '--json'],
      {
        cwd,
        env: { STEER_ES_URL: double.url },
      },
    );
    assert.equal(result.code, 0, result.stderr);
    const es = parseJsonOutput<EvalOutput>(result);
    assert.deepEqual(
      es.rows.map((r) => [r.method, r.mrr10, r.p10]),
      embedded.rows.map((r) => [r.method, r.mrr10, r.p10]),
    );
    assert.ok(double.requests.some((r) => r.path.endsWith('/_search')));
  } finally {
    await double.close();
  }
});
