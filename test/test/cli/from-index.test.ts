// `steer train --from-index` and `steer label --from-index` with the real binary, on the embedded store and on the
// Elasticsearch test double: stored vectors read without re-embedding, kill -9 and --resume to the same weights, and
// the errors of a wrong field, a text field missing on some documents and dims that do not fit the SAE.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { readSaeManifest, readSaeWeights, writeSae } from '@steer/sae';
import { openLanceBackend } from '@steer/search';
import { startEsDouble } from '../../src/es-double.js';
import type { EsDouble } from '../../src/es-double.js';
import { parseJsonOutput, runSteer, steerBin } from '../../src/run-cli.js';

const DIMS = 16;
const DOCS = 240;
const WORDS = ['coffee', 'espresso', 'battery', 'charging', 'park', 'garden', 'office', 'commute'];

/** Document i: a unit vector mixing two of eight directions, and a text of the matching words. */
function documentOf(i: number): { id: string; vector: Float32Array; text: string } {
  const a = i % 8;
  const b = (i * 5 + 3) % 8;
  const vector = new Float32Array(DIMS);
  vector[a] = 1;
  vector[8 + b] = 0.5 + ((i * 37) % 10) / 10;
  vector[(i * 11) % DIMS]! += 0.1;
  const norm = Math.hypot(...vector);
  for (let c = 0; c < DIMS; c++) vector[c]! /= norm;
  return { id: `d${i}`, vector, text: `${WORDS[a]} and ${WORDS[b]} notes number ${i}` };
}

/** `steer label` of index `docs` with the SAE in folder `sae`, from `textField`, without token evidence. */
const labelArgs = (sae: string, textField: string): string[] => [
  'label',
  '--sae',
  sae,
  '--from-index',
  'docs',
  '--text-field',
  textField,
  '--no-evidence',
];

const TRAIN = ['--latents', '32', '--k', '4', '--epochs', '3', '--batch', '45', '--neighbours', '4'];
const TRAIN_COMPUTE = ['--backend', 'wasm', '--seed', '3'];

/** Runs the CLI and SIGKILLs it once `ready()` holds (polled every 5 ms); resolves with how it ended. */
function runUntil(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
  ready: () => boolean,
): Promise<{ signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [steerBin, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setInterval(() => {
      if (ready()) child.kill('SIGKILL');
    }, 5);
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearInterval(timer);
      resolve({ signal, stderr });
    });
  });
}

async function assertSameWeights(a: string, b: string): Promise<void> {
  const [wa, wb] = [await readSaeWeights(a), await readSaeWeights(b)];
  for (const key of ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const) assert.deepEqual(wb[key], wa[key], key);
}

/** An SAE of `dims` inputs for `model`, to label with. */
async function smallSae(dir: string, dims: number, model: string): Promise<void> {
  const n = 8;
  const W_enc = Float32Array.from({ length: n * dims }, (_, j) => ((j * 7) % 5) / 5 - 0.4);
  const W_dec = Float32Array.from({ length: dims * n }, (_, j) => ((j * 3) % 7) / 7 - 0.4);
  await writeSae(
    dir,
    { W_enc, b_enc: new Float32Array(n), W_dec, b_dec: new Float32Array(dims), dModel: dims, nLatents: n },
    { k: 2, embedding: { model, dims, normalized: true } },
  );
}

let cwd: string;
before(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'steer-from-index-'));
});
after(() => rm(cwd, { recursive: true, force: true }));

describe('the embedded store', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    dataDir = join(cwd, 'lance-data');
    env = { STEER_BACKEND: 'embedded', STEER_DATA_DIR: dataDir };
    const backend = await openLanceBackend(dataDir);
    await backend.createIndex('docs', { dims: DIMS, similarity: 'cosine', embeddingModel: 'toy-16' });
    await backend.addDocuments(
      'docs',
      Array.from({ length: DOCS }, (_, i) => {
        const doc = documentOf(i);
        return { ...doc, metadata: { body: i % 50 === 7 ? null : doc.text } };
      }),
    );
    await backend.close();
  });

  test('steer train --from-index trains on the stored vectors; kill -9 and --resume end at the same weights', async () => {
    const args = (out: string): string[] => ['train', '--from-index', 'docs', ...TRAIN, '--out', out];
    const straight = await runSteer([...args('sae-a'), ...TRAIN_COMPUTE, '--json'], { cwd, env });
    assert.equal(straight.code, 0, straight.stderr);
    const manifest = await readSaeManifest(parseJsonOutput<{ sae: string }>(straight).sae);
    assert.deepEqual(manifest.embedding, { model: 'toy-16', dims: DIMS, normalized: true });
    assert.equal(manifest.training?.vectors, DOCS);

    const checkpoint = join(cwd, 'sae-b.train', 'checkpoint.bin');
    const killed = await runUntil(
      [...args('sae-b'), ...TRAIN_COMPUTE, '--checkpoint-every', '3'],
      { cwd, env },
      () => existsSync(checkpoint),
    );
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    assert.match(killed.stderr, /read index 'docs': 240 16-dim vectors copied/);
    const refused = await runSteer([...args('sae-b'), ...TRAIN_COMPUTE], { cwd, env });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /pass --resume/);
    const resumed = await runSteer(
      [...args('sae-b'), ...TRAIN_COMPUTE, '--checkpoint-every', '3', '--resume'],
      {
        cwd,
        env,
      },
    );
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /train: resumed after epoch \d/);
    await assertSameWeights(join(cwd, 'sae-a'), join(cwd, 'sae-b'));
  });

  test('steer label --from-index reads ids, texts and vectors from the store and writes the catalog', async () => {
    await smallSae(join(cwd, 'sae-label'), DIMS, 'toy-16');
    const result = await runSteer([...labelArgs('sae-label', 'text'), '--json'], { cwd, env });
    assert.equal(result.code, 0, result.stderr);
    const out = parseJsonOutput<{ documents: number; catalog: string }>(result);
    assert.equal(out.documents, DOCS);
    const header = JSON.parse(await readFile(join(out.catalog, 'catalog.json'), 'utf8'));
    assert.equal(header.corpus.path, 'lancedb:docs/text');
    assert.deepEqual(await readdir(join(dataDir, 'index-copies')), [], 'the copy is removed after labelling');
  });

  test('label refuses a text field missing on some documents and an SAE of other dims, writing nothing', async () => {
    await smallSae(join(cwd, 'sae-8'), 8, 'toy-8');
    const missing = await runSteer(labelArgs('sae-label', 'body'), { cwd, env });
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /text field 'body' is missing on 5 documents of index 'docs' \(e\.g\. 'd\d+', /,
    );
    const dims = await runSteer(labelArgs('sae-8', 'text'), { cwd, env });
    assert.equal(dims.code, 2);
    assert.match(dims.stderr, /index 'docs' field 'vector' holds 16-dim vectors but SAE sae-\w+ expects 8/);
    assert.equal(existsSync(join(cwd, 'sae-8', 'catalog')), false);
    assert.deepEqual(await readdir(join(dataDir, 'index-copies')), []);
  });
});

describe('Elasticsearch (test double)', () => {
  let double: EsDouble;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    double = await startEsDouble({ latencyMs: 10 });
    env = { STEER_ES_URL: double.url, STEER_BACKEND: 'elasticsearch', STEER_DATA_DIR: join(cwd, 'es-data') };
    const client = new Client({ node: double.url });
    await client.indices.create({
      index: 'docs',
      mappings: {
        _meta: { steer: { embeddingModel: 'toy-16' } },
        properties: {
          embedding: { type: 'dense_vector', dims: DIMS, similarity: 'cosine' },
          title: { type: 'text' },
          body: { type: 'text' },
        },
      },
    });
    await client.bulk({
      refresh: true,
      operations: Array.from({ length: DOCS }, (_, i) => {
        const doc = documentOf(i);
        const source = {
          embedding: Array.from(doc.vector),
          title: doc.text,
          ...(i % 60 === 9 ? {} : { body: doc.text }),
        };
        return [{ index: { _index: 'docs', _id: doc.id } }, source];
      }).flat(),
    });
    await client.close();
  });
  after(() => double.close());

  test('steer train --from-index reads the vectors by point in time and slices; a copy killed midway resumes', async () => {
    const args = (out: string): string[] => [
      'train',
      '--from-index',
      'docs',
      ...TRAIN,
      '--out',
      out,
      '--page-size',
      '5',
    ];
    const straight = await runSteer([...args('es-a'), ...TRAIN_COMPUTE, '--json'], { cwd, env });
    assert.equal(straight.code, 0, straight.stderr);
    const manifest = await readSaeManifest(join(cwd, 'es-a'));
    assert.equal(manifest.embedding.model, 'toy-16');
    assert.equal(double.openPointsInTime(), 0, 'a finished read closes its point in time');

    // The double answers each request after 10 ms, so the kill lands while the copy is under way: after the first
    // part (16 pages of 5) is recorded and before the two slices of 120 documents are done.
    const manifestPath = join(cwd, 'es-b.train', 'index-copy', 'copy.json');
    const killed = await runUntil(
      [...args('es-b'), ...TRAIN_COMPUTE],
      { cwd, env },
      () => partsRecorded(manifestPath) >= 1,
    );
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const partial = JSON.parse(await readFile(manifestPath, 'utf8'));
    assert.ok(
      partial.slices.some((s: { done: boolean }) => !s.done),
      'killed before the copy finished',
    );
    assert.equal(double.openPointsInTime(), 1, 'the unfinished read leaves its point in time open');
    const resumed = await runSteer([...args('es-b'), ...TRAIN_COMPUTE, '--resume'], { cwd, env });
    assert.equal(resumed.code, 0, resumed.stderr);
    const copy = JSON.parse(await readFile(manifestPath, 'utf8'));
    assert.equal(
      copy.slices.reduce((n: number, s: { rows: number }) => n + s.rows, 0),
      DOCS,
    );
    assert.equal(copy.snapshot, partial.snapshot);
    await assertSameWeights(join(cwd, 'es-a'), join(cwd, 'es-b'));
  });

  test('steer label --from-index --text-field labels from the stored texts and vectors', async () => {
    await smallSae(join(cwd, 'sae-es'), DIMS, 'toy-16');
    const result = await runSteer([...labelArgs('sae-es', 'title'), '--json'], { cwd, env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(parseJsonOutput<{ documents: number }>(result).documents, DOCS);
  });

  test('a killed steer label --from-index continues its copy on the saved point in time', async () => {
    const args = labelArgs('sae-es', 'title');
    const copyDir = join(cwd, 'es-data', 'index-copies', 'elasticsearch-docs-vector-title');
    const killed = await runUntil(
      [...args, '--page-size', '5'],
      { cwd, env },
      () => partsRecorded(join(copyDir, 'copy.json')) >= 1,
    );
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const partial = JSON.parse(await readFile(join(copyDir, 'copy.json'), 'utf8'));
    assert.ok(partial.slices.some((s: { done: boolean }) => !s.done));
    assert.equal(double.openPointsInTime(), 1);
    const resumed = await runSteer([...args, '--page-size', '5', '--json'], { cwd, env });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(parseJsonOutput<{ documents: number }>(resumed).documents, DOCS);
    // The resumed read searched the saved point in time and closed it at the end; the copy is gone.
    assert.ok(double.requests.some((r) => JSON.stringify(r).includes(partial.resume)));
    assert.equal(double.openPointsInTime(), 0);
    assert.equal(existsSync(copyDir), false);
  });

  test('a field that is not dense_vector, a text field missing on some documents, dims that do not fit', async () => {
    await smallSae(join(cwd, 'sae-es-8'), 8, 'toy-8');
    const notVector = await runSteer(
      ['train', '--from-index', 'docs', '--vector-field', 'title', ...TRAIN, '--out', 'x', ...TRAIN_COMPUTE],
      { cwd, env },
    );
    assert.equal(notVector.code, 2);
    assert.match(
      notVector.stderr,
      /field 'title' of index 'docs' is text, not dense_vector; name a dense_vector field \(embedding\)/,
    );
    const missing = await runSteer(labelArgs('sae-es', 'body'), { cwd, env });
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /text field 'body' is missing on 4 documents of index 'docs' \(e\.g\. 'd\d+'/,
    );
    const dims = await runSteer(labelArgs('sae-es-8', 'title'), { cwd, env });
    assert.equal(dims.code, 2);
    assert.match(
      dims.stderr,
      /index 'docs' field 'embedding' holds 16-dim vectors but SAE sae-\w+ expects 8/,
    );
    assert.equal(existsSync(join(cwd, 'x')), false);
    assert.equal(existsSync(join(cwd, 'sae-es-8', 'catalog')), false);
    assert.equal(double.openPointsInTime(), 0, 'refused reads leave no point in time open');
  });
});

/** Parts the copy manifest at `path` records, 0 while it does not exist. */
function partsRecorded(path: string): number {
  try {
    const copy = JSON.parse(readFileSync(path, 'utf8')) as { slices: Array<{ parts: string[] }> };
    return copy.slices.reduce((n, s) => n + s.parts.length, 0);
  } catch {
    return 0;
  }
}
