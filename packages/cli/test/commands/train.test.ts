// `steer train` end to end on embeddings written by the test: --json output, a loadable SAE, exit codes and
// the usage errors of bad input.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseArgs } from 'node:util';
import { readNpy, writeNpy } from '@steer/embed';
import { machineInfo } from '@steer/onnx';
import { readSaeManifest, readSaeWeights } from '@steer/sae';
import type { CommandIO } from '../../src/command.js';
import { UsageError } from '../../src/command.js';
import { trainCommand } from '../../src/commands/train.js';
import { textSink } from '../helpers.js';

let root: string;

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = textSink();
  const stderr = textSink();
  const io: CommandIO = { stdout, stderr, interactive: false, cwd: root, env: {} };
  const parsed = parseArgs({
    args: argv,
    options: trainCommand.options,
    allowPositionals: true,
    strict: true,
  });
  const code = await trainCommand.run({ positionals: parsed.positionals, values: parsed.values }, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'steer-cli-train-'));
  // 300 unit vectors of 16 dims mixing two of 8 directions.
  let state = 7;
  const random = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  const rows = 300;
  const d = 16;
  const data = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    data[r * d + Math.floor(random() * d)] += 1;
    data[r * d + Math.floor(random() * d)] += 0.5 + random();
    const norm = Math.hypot(...data.subarray(r * d, r * d + d));
    for (let c = 0; c < d; c++) data[r * d + c]! /= norm;
  }
  await writeNpy(join(root, 'vectors.npy'), data, [rows, d]);
  await writeFile(join(root, 'bad.jsonl'), '{"vector":[1,2,3]}\n{"vector":[1,2]}\n');
  // A BEIR-style mini collection for --corpus: two topics, judged queries.
  const topics = [
    [
      'espresso roast',
      'coffee beans brew',
      'barista caffeine',
      'latte milk foam',
      'grinder burr coffee',
      'cold brew steeping',
    ],
    [
      'battery charging',
      'electric motor torque',
      'vehicle range miles',
      'charging station network',
      'regenerative braking',
      'lithium cells pack',
    ],
  ];
  const corpus = topics.flatMap((words, t) =>
    words.map((w, i) => JSON.stringify({ _id: `d${t}${i}`, title: '', text: `${w} notes ${i}` })),
  );
  await writeFile(join(root, 'corpus.jsonl'), corpus.join('\n') + '\n');
  await writeFile(
    join(root, 'queries.jsonl'),
    [
      JSON.stringify({ _id: 'q0', text: 'how to brew coffee' }),
      JSON.stringify({ _id: 'q1', text: 'electric car battery' }),
    ].join('\n') + '\n',
  );
  await writeFile(
    join(root, 'qrels.tsv'),
    'query-id\tcorpus-id\tscore\nq0\td00\t2\nq0\td01\t1\nq1\td10\t2\n',
  );
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A small run on vectors.npy: 32 latents, k 4, 2 epochs, batches of 45, 4 neighbours. */
const SMALL_RUN = [
  '--embeddings',
  'vectors.npy',
  '--latents',
  '32',
  '--k',
  '4',
  '--epochs',
  '2',
  '--batch',
  '45',
  '--neighbours',
  '4',
];

test('steer train --json prints exactly one JSON document and writes a loadable SAE', async () => {
  const result = await run([
    ...SMALL_RUN,
    '--out',
    'sae',
    '--backend',
    'wasm',
    '--embedding-model',
    'test-16',
    '--json',
  ]);
  assert.equal(result.code, 0);
  const lines = result.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const summary = JSON.parse(lines[0]!);
  assert.deepEqual(Object.keys(summary).sort(), [
    'backend',
    'deadFraction',
    'mse',
    'nLatents',
    'sae',
    'stepsPerSecond',
  ]);
  assert.equal(summary.nLatents, 32);
  assert.equal(summary.sae, join(root, 'sae'));
  assert.equal(summary.backend, 'wasm');
  assert.ok(summary.mse > 0 && summary.stepsPerSecond > 0);
  const manifest = await readSaeManifest(join(root, 'sae'));
  assert.deepEqual(manifest.embedding, { model: 'test-16', dims: 16, normalized: true });
  assert.deepEqual(manifest.training?.machine, machineInfo(), 'the SAE records the machine that trained it');
  assert.equal(result.stderr, '');
});

/** A run of 16 latents, k 2, on plain rows (no KL groups) of the test's vectors, for `epochs` epochs. */
function plainRun(epochs: number): string[] {
  return [
    '--embeddings',
    'vectors.npy',
    '--latents',
    '16',
    '--k',
    '2',
    '--epochs',
    String(epochs),
    '--neighbours',
    '0',
  ];
}

test('steer train reports progress on stderr, refuses to clobber a run, and resumes it', async () => {
  const args = [...plainRun(1), '--out', 'sae2', '--backend', 'wasm'];
  const result = await run(args);
  assert.equal(result.code, 0);
  assert.match(result.stderr, /backend wasm/);
  assert.match(result.stderr, /epoch 1: loss/);
  assert.match(result.stdout, /trained 16 latents for \d+ steps on wasm/);
  assert.match(
    result.stderr,
    /16 latents, k 2, up to 1 epochs; scale-free loss: MSE x [\d.e+-]+, no KL term/,
  );
  await assert.rejects(run(args), (e: Error) => e instanceof UsageError && /pass --resume/.test(e.message));
  const resumed = await run([...args, '--resume']);
  assert.equal(resumed.code, 0);
  assert.match(resumed.stderr, /resumed after epoch 1/);
});

test('steer train anneals on a validation plateau and says so; --plateau stop stops there; a bad --plateau is a usage error', async () => {
  const args = [
    ...plainRun(40),
    '--batch',
    '32',
    '--lr',
    '0.05',
    '--patience',
    '1',
    '--anneal-epochs',
    '2',
    '--backend',
    'wasm',
  ];
  const annealed = await run([...args, '--out', 'sae-anneal']);
  assert.equal(annealed.code, 0);
  const from =
    /no validation gain since epoch \d+; annealing the learning rate to zero over 2 epochs from epoch (\d+)/.exec(
      annealed.stderr,
    );
  assert.ok(from, annealed.stderr);
  const last = Number(from[1]) + 1;
  assert.match(
    annealed.stderr,
    new RegExp(`anneal done after epoch ${last}; the best validation loss was at epoch \\d+`),
  );
  assert.doesNotMatch(annealed.stderr, new RegExp(`epoch ${last + 1}: loss`));
  const manifest = await readSaeManifest(join(root, 'sae-anneal'));
  assert.equal(manifest.training?.plateau, 'anneal');
  assert.equal(manifest.training?.annealFromEpoch, last - 2);

  const stopped = await run([...args, '--plateau', 'stop', '--out', 'sae-stop']);
  assert.equal(stopped.code, 0);
  assert.match(stopped.stderr, new RegExp(`early stop after epoch ${last - 2}: no validation gain`));
  assert.doesNotMatch(stopped.stderr, /annealing/);

  await assert.rejects(
    run([...args, '--plateau', 'decay', '--out', 'sae-bad']),
    (e: Error) => e instanceof UsageError && /--plateau/.test(e.message) && /anneal/.test(e.message),
  );
});

test('steer train streams a folder of .npy shards and prints how the neighbours were found, with IVF recall', async () => {
  const { data } = await readNpy(join(root, 'vectors.npy'));
  await mkdir(join(root, 'shards'));
  await writeNpy(join(root, 'shards', 'part-1.npy'), data.subarray(0, 100 * 16), [100, 16]);
  await writeNpy(join(root, 'shards', 'part-2.npy'), data.subarray(100 * 16), [200, 16]);
  const result = await run([
    '--embeddings',
    'shards',
    '--latents',
    '16',
    '--k',
    '2',
    '--epochs',
    '1',
    '--neighbours',
    '4',
    '--batch',
    '45',
    '--neighbour-search',
    'ivf',
    '--out',
    'sae-shards',
    '--backend',
    'wasm',
  ]);
  assert.equal(result.code, 0);
  assert.match(result.stderr, /300 document vectors of 16 dims \(.*shards \(2 shards\)\)/);
  assert.match(
    result.stderr,
    /train: nearest documents by IVF \(\d+ lists, \d+ probed\): recall@4 [01]\.\d{3} against exact neighbours on 300 sampled queries/,
  );
  const manifest = await readSaeManifest(join(root, 'sae-shards'));
  const [search] = manifest.training?.neighbourSearch as Array<{ method: string; recall: number }>;
  assert.equal(search!.method, 'ivf');
  assert.ok(search!.recall >= 0.9, `recall ${search!.recall}`);
});

test('steer train --corpus embeds documents and judged queries with the embedder and records it in the SAE', async () => {
  const result = await run([
    '--corpus',
    'corpus.jsonl',
    '--queries',
    'queries.jsonl',
    '--qrels',
    'qrels.tsv',
    '--data-dir',
    join(root, '.steer'),
    '--latents',
    '16',
    '--k',
    '2',
    '--epochs',
    '1',
    '--neighbours',
    '3',
    '--batch',
    '8',
    '--out',
    'sae-corpus',
    '--backend',
    'wasm',
    '--json',
  ]);
  assert.equal(result.code, 0);
  const summary = JSON.parse(result.stdout);
  const manifest = await readSaeManifest(summary.sae);
  assert.equal(manifest.embedding.model, 'use-lite-512');
  assert.match(manifest.embedding.version ?? '', /model-embeddings-en@/);
  assert.equal(manifest.dModel, 512);
  assert.equal(manifest.training?.pseudoQueries, true);
});

test('steer train --embeddings records the model and version that steer embed wrote beside the vectors', async () => {
  await writeNpy(
    join(root, 'sidecar.npy'),
    new Float32Array(300 * 16).map((_, i) => Math.sin(i)),
    [300, 16],
  );
  await writeFile(
    join(root, 'sidecar.npy.model.json'),
    JSON.stringify({ model: 'test-16', version: 'v7 rev2', dims: 16, normalized: false }),
  );
  const args = ['--embeddings', 'sidecar.npy', '--latents', '16', '--k', '2', '--epochs', '1', '--json'];
  const result = await run([...args, '--neighbours', '0', '--out', 'sae-sidecar', '--backend', 'wasm']);
  assert.equal(result.code, 0);
  const manifest = await readSaeManifest(join(root, 'sae-sidecar'));
  assert.deepEqual(manifest.embedding, { model: 'test-16', version: 'v7 rev2', dims: 16, normalized: false });
  await writeFile(join(root, 'sidecar.npy.model.json'), '{"model": 3}');
  await assert.rejects(
    run([...args, '--out', 'sae-bad-sidecar']),
    (e: Error) => e instanceof UsageError && /sidecar\.npy\.model\.json must be/.test(e.message),
  );
});

test('steer train --threads N runs the onnx backend on N threads and trains the same SAE on 1 or 2', async () => {
  const trainOn = async (threads: string): Promise<{ stderr: string; weights: Buffer }> => {
    const out = `sae-threads-${threads}`;
    const result = await run([...SMALL_RUN, '--backend', 'onnx', '--threads', threads, '--out', out]);
    assert.equal(result.code, 0, result.stderr);
    const sae = await readSaeWeights(join(root, out));
    const weights = Buffer.concat(
      [sae.W_enc, sae.b_enc, sae.W_dec, sae.b_dec].map((a) =>
        Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      ),
    );
    return { stderr: result.stderr, weights };
  };
  const one = await trainOn('1');
  const two = await trainOn('2');
  assert.match(one.stderr, /train: backend onnx: .*\b1 thread\b/);
  assert.match(two.stderr, /train: backend onnx: .*\b2 threads\b/);
  assert.ok(one.weights.equals(two.weights), 'the SAE differs between --threads 1 and --threads 2');
  await assert.rejects(
    run(['--embeddings', 'vectors.npy', '--k', '4', '--out', 'x', '--threads', '0']),
    (e: Error) => e instanceof UsageError && /--threads must be a whole number >= 1, not '0'/.test(e.message),
  );
});

test('bad input is a UsageError (exit 2) naming the problem', async () => {
  const base = ['--k', '2', '--latents', '8', '--epochs', '1', '--out', 'x', '--json'];
  await assert.rejects(
    run(['--embeddings', 'vectors.npy', ...base.slice(2)]),
    (e: Error) => e instanceof UsageError && /--k is required/.test(e.message),
  );
  await assert.rejects(
    run(['--embeddings', 'vectors.npy', ...base, '--loss', 'huber']),
    /--loss must be one of scale-free, paper/,
  );
  await assert.rejects(
    run(['--embeddings', 'vectors.npy', ...base, '--k', '9']),
    (e: Error) => e instanceof UsageError && /--k 9 is larger/.test(e.message),
  );
  await assert.rejects(
    run(['--embeddings', 'bad.jsonl', ...base]),
    (e: Error) => e instanceof UsageError && /line 2 has 2 dims/.test(e.message),
  );
  await assert.rejects(
    run(['--embeddings', 'missing.npy', ...base]),
    (e: Error) => e instanceof UsageError && /cannot read/.test(e.message),
  );
  await assert.rejects(
    run(['--embeddings', 'vectors.npy', '--corpus', 'c.jsonl', ...base]),
    /exactly one of --embeddings, --corpus or --from-index/,
  );
  await assert.rejects(
    run(['--embeddings', 'vectors.npy', ...base, '--backend', 'tpu']),
    /--backend must be one of auto, cuda, webgpu, onnx, wasm, cpu/,
  );
});
