// `steer index --latents` and `steer search` in sparse, hybrid and dense modes against the Elasticsearch test double.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbedder } from '@steer/embed';
import { loadSae } from '@steer/sae';
import { startEsDouble } from '../../src/es-double.js';
import type { EsDouble } from '../../src/es-double.js';
import { parseJsonOutput, repoRoot, runSteer } from '../../src/run-cli.js';

const demoSae = join(repoRoot, 'packages/cli/demo/sae');
const CORPUS = [
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
];

let double: EsDouble;
let cwd: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  double = await startEsDouble();
  cwd = await mkdtemp(join(tmpdir(), 'steer-es-cli-'));
  env = { STEER_ES_URL: double.url };
  await writeFile(join(cwd, 'corpus.jsonl'), CORPUS.map((d) => JSON.stringify(d)).join('\n'));
});

after(() => double.close());

/** `steer index corpus.jsonl` into the double's `docs` index with the demo SAE's latents, plus `extra` flags. */
function indexWithLatents(...extra: string[]): ReturnType<typeof runSteer> {
  return indexLatentsInto('docs', ...extra);
}

/** `steer index corpus.jsonl` into the double's `index` with the demo SAE's latents, plus `extra` flags. */
function indexLatentsInto(index: string, ...extra: string[]): ReturnType<typeof runSteer> {
  return runSteer(
    [
      'index',
      'corpus.jsonl',
      '--index',
      index,
      '--backend',
      'elasticsearch',
      '--latents',
      '--sae',
      demoSae,
      ...extra,
    ],
    { cwd, env },
  );
}

test('steer index --latents writes dense vectors and a sparse_vector latent field into Elasticsearch', async () => {
  const indexed = await indexWithLatents('--json');
  assert.equal(indexed.code, 0, indexed.stderr);
  const out = parseJsonOutput<{ added: number; latents: { written: number; failed: number } }>(indexed);
  assert.equal(out.added, 4);
  assert.deepEqual([out.latents.written, out.latents.failed], [4, 0]);
  const source = double.getSource('docs', 'growth') as Record<string, unknown>;
  const latents = Object.entries(source.steer_latents as Record<string, number>);
  assert.ok(latents.length > 0 && latents.every(([key, value]) => /^f\d+$/.test(key) && value > 0));
});

test('sparse search ranks by cosine between SAE codes: latents are written unit-normalised and _meta records l2', async () => {
  const mapping = (await (await fetch(`${double.url}/docs/_mapping`)).json()) as {
    docs: { mappings: { _meta: { steer: { latents?: unknown } } } };
  };
  assert.deepEqual(mapping.docs.mappings._meta.steer.latents, { steer_latents: { norm: 'l2' } });

  // An independent reference: the SAE's raw codes of the documents and of the query, cosine between them.
  const query = 'what do students gain from college';
  const embedder = await createEmbedder('default');
  const sae = await loadSae(demoSae);
  const docVectors = await embedder.embed(
    CORPUS.map((d) => d.text),
    { kind: 'document' },
  );
  const codes = await sae.encode(docVectors, CORPUS.length);
  const queryCode = await sae.encode(await embedder.embed([query], { kind: 'query' }), 1);
  await Promise.all([sae.dispose(), embedder.dispose()]);
  const q = new Map<number, number>();
  for (let j = 0; j < queryCode.k; j++)
    if (queryCode.values[j]! > 0) q.set(queryCode.indices[j]!, queryCode.values[j]!);
  const reference = CORPUS.map((doc, d) => {
    let dot = 0;
    let sumSquares = 0;
    for (let j = 0; j < codes.k; j++) {
      const value = codes.values[d * codes.k + j]!;
      if (value <= 0) continue;
      sumSquares += value * value;
      dot += (q.get(codes.indices[d * codes.k + j]!) ?? 0) * value;
    }
    const stored = Object.values(double.getSource('docs', doc._id)!.steer_latents as Record<string, number>);
    assert.ok(Math.abs(Math.hypot(...stored) - 1) < 0.01, `${doc._id}: stored latents have unit norm`);
    return { id: doc._id, score: dot / Math.sqrt(sumSquares) };
  })
    .filter((r) => r.score > 0)
    .sort((a, b) => b.score - a.score);

  const result = await runSteer(
    [
      'search',
      `"${query}" mode=sparse k=4`,
      '--index',
      'docs',
      '--backend',
      'elasticsearch',
      '--sae',
      demoSae,
      '--explain',
      '--json',
    ],
    { cwd, env },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /without a recorded normalisation/);
  const { hits } = parseJsonOutput<{
    hits: Array<{ id: string; score: number; features: Array<{ documentNorm?: string }> }>;
  }>(result);
  assert.deepEqual(
    hits.map((h) => h.id),
    reference.map((r) => r.id),
  );
  hits.forEach((h, i) => assert.ok(Math.abs(h.score - reference[i]!.score) < 0.01 * reference[i]!.score));
  assert.ok(hits.every((h) => h.features.length > 0 && h.features.every((f) => f.documentNorm === 'l2')));
});

test('an index whose latents were written before Steer recorded their normalisation: sparse search works and says how to rewrite them', async () => {
  const url = `${double.url}/docs/_mapping`;
  const mapping = (await (await fetch(url)).json()) as {
    docs: { mappings: { _meta: { steer: Record<string, unknown> } } };
  };
  const { latents: _latents, ...olderSteer } = mapping.docs.mappings._meta.steer;
  const put = await fetch(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ _meta: { steer: olderSteer } }),
  });
  assert.equal(put.status, 200);
  const search = (mode: string) =>
    runSteer(
      [
        'search',
        `"what do students gain from college" mode=${mode} k=2`,
        '--index',
        'docs',
        '--backend',
        'elasticsearch',
        '--sae',
        demoSae,
      ],
      { cwd, env },
    );
  const result = await search('sparse');
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /results for/);
  const advice = result.stderr.match(/without a recorded normalisation/g) ?? [];
  assert.equal(advice.length, 1, result.stderr);
  assert.match(
    result.stderr,
    /--latents --latent-norm l2 --sae <dir> --backend elasticsearch` \(without --resume\)/,
  );
  const rewritten = await indexWithLatents();
  assert.equal(rewritten.code, 0, rewritten.stderr);
  const after = await search('hybrid');
  assert.equal(after.code, 0, after.stderr);
  assert.doesNotMatch(after.stderr, /without a recorded normalisation/);
});

/** `_version` and `_source` of every corpus document in `index`, as `GET <index>/_doc/<id>` answers. */
async function storedDocuments(index: string): Promise<unknown[]> {
  return Promise.all(
    CORPUS.map(async (doc) => {
      const got = (await (await fetch(`${double.url}/${index}/_doc/${doc._id}`)).json()) as Record<
        string,
        unknown
      >;
      return { version: got._version, source: got._source };
    }),
  );
}

/** Replaces `_meta.steer.latents` of `index` (how an older or interrupted run left it). */
async function putLatentsMeta(index: string, latents: unknown): Promise<void> {
  const url = `${double.url}/${index}/_mapping`;
  const mapping = (await (await fetch(url)).json()) as Record<
    string,
    { mappings: { _meta: { steer: Record<string, unknown> } } }
  >;
  const steer = { ...mapping[index]!.mappings._meta.steer, latents };
  const put = await fetch(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ _meta: { steer } }),
  });
  assert.equal(put.status, 200);
}

test('steer index --latents --resume with another --latent-norm fails before it writes anything', async () => {
  const first = await indexLatentsInto('rawdocs', '--latent-norm', 'none');
  assert.equal(first.code, 0, first.stderr);
  const before = await storedDocuments('rawdocs');
  assert.ok(before.every((d) => (d as { version?: number }).version !== undefined));
  const resumed = await indexLatentsInto('rawdocs', '--resume');
  assert.equal(resumed.code, 2, resumed.stderr);
  assert.match(
    resumed.stderr,
    /index 'rawdocs' field 'steer_latents' holds latents written with --latent-norm none, so resuming with --latent-norm l2 would mix the two; rerun without --resume to rewrite them all, or resume with --latent-norm none/,
  );
  assert.deepEqual(await storedDocuments('rawdocs'), before, 'no document re-added or updated');
  const mapping = (await (await fetch(`${double.url}/rawdocs/_mapping`)).json()) as {
    rawdocs: { mappings: { _meta: { steer: { latents?: unknown } } } };
  };
  assert.deepEqual(mapping.rawdocs.mappings._meta.steer.latents, { steer_latents: { norm: 'none' } });
});

test("an unfinished run's incomplete record: search says once how to finish it, --resume with the same norm does", async () => {
  await putLatentsMeta('rawdocs', { steer_latents: { norm: 'none', complete: false } });
  const search = () =>
    runSteer(
      [
        'search',
        '"what do students gain from college" mode=sparse k=2',
        '--index',
        'rawdocs',
        '--backend',
        'elasticsearch',
        '--sae',
        demoSae,
      ],
      { cwd, env },
    );
  const result = await search();
  assert.equal(result.code, 0, result.stderr);
  const advice = result.stderr.match(/did not finish/g) ?? [];
  assert.equal(advice.length, 1, result.stderr);
  assert.match(
    result.stderr,
    /steer index <corpus\.jsonl> --index rawdocs --latents --latent-norm none --sae <dir> --backend elasticsearch --resume`/,
  );
  const resumed = await indexLatentsInto('rawdocs', '--resume', '--latent-norm', 'none');
  assert.equal(resumed.code, 0, resumed.stderr);
  const after = await search();
  assert.equal(after.code, 0, after.stderr);
  assert.doesNotMatch(after.stderr, /did not finish|recorded normalisation/);
});

test('--resume without --latents is refused before anything is written', async () => {
  const result = await runSteer(['index', 'corpus.jsonl', '--index', 'resumed', '--resume'], { cwd, env });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /--resume resumes the latents --latents writes .*add --latents --sae <dir>/);
});

test('--latent-norm takes l2 or none only', async () => {
  const result = await indexWithLatents('--latent-norm', 'max');
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /--latent-norm must be l2 .* or none .*, not 'max'/);
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
