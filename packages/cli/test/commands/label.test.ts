// `steer label` and `steer features` end to end on a demo-like corpus with the real default embedder.
// The SAE is a test construction: features planted along the embedder's embeddings of topic words.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseArgs } from 'node:util';
import { mulberry32 } from '@steer/core';
import { plantedWeights } from '@steer/test-support';
import { loadDefaultEmbedder } from '@steer/embed';
import { writeSae } from '@steer/sae';
import type { Command, CommandIO } from '../../src/command.js';
import { UsageError } from '../../src/command.js';
import { featuresCommand } from '../../src/commands/features.js';
import { labelCommand } from '../../src/commands/label.js';
import { textSink } from '../helpers.js';

const TOPICS: Record<string, string[]> = {
  coffee: ['espresso', 'roast', 'beans', 'brew', 'caffeine', 'barista'],
  'electric cars': ['battery', 'charging', 'electric', 'range', 'vehicle', 'motor'],
  'city parks': ['park', 'trees', 'playground', 'picnic', 'garden', 'benches'],
  'remote work': ['remote', 'office', 'commute', 'home', 'meetings', 'laptop'],
};

let root: string;
let saeDir: string;
let otherSaeDir: string;
let corpusPath: string;
// NOTE: the embedding cache lives in a folder shared between runs so that reruns on a busy machine are fast.
const dataDir = join(tmpdir(), 'steer-cli-label-test-data');

function seeded(seed: number): () => number {
  return mulberry32(seed);
}

async function plantedSae(
  dir: string,
  directions: Float32Array[],
  dims: number,
  extra: number,
  model: string,
): Promise<void> {
  const weights = plantedWeights(directions, dims, extra, {
    seed: extra,
    bias: (_j, _n, planted) => (planted ? 0 : -0.2),
  });
  await writeSae(dir, weights, { k: 3, embedding: { model, dims, normalized: true } });
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'steer-cli-label-'));
  const random = seeded(5);
  const lines: string[] = [];
  for (const [topic, words] of Object.entries(TOPICS)) {
    for (let n = 0; n < 8; n++) {
      const picked = Array.from({ length: 4 }, () => words[Math.floor(random() * words.length)]);
      lines.push(
        JSON.stringify({
          _id: `${topic.replace(' ', '-')}-${n}`,
          title: `About ${topic}`,
          text: `Notes on ${picked.join(', ')} and more ${topic}.`,
          metadata: {},
        }),
      );
    }
  }
  corpusPath = join(root, 'corpus.jsonl');
  await writeFile(corpusPath, lines.join('\n') + '\n');
  const embedder = await loadDefaultEmbedder();
  const vectors = await embedder.embed(Object.keys(TOPICS));
  const directions = Object.keys(TOPICS).map((_, i) =>
    vectors.slice(i * embedder.dims, (i + 1) * embedder.dims),
  );
  saeDir = join(root, 'sae');
  otherSaeDir = join(root, 'other-sae');
  await plantedSae(saeDir, directions, embedder.dims, 12, embedder.id);
  await plantedSae(otherSaeDir, directions, embedder.dims, 13, embedder.id);
  await embedder.dispose();
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function run(
  command: Command,
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = textSink();
  const stderr = textSink();
  const io: CommandIO = { stdout, stderr, interactive: false, cwd: root, env: { STEER_DATA_DIR: dataDir } };
  const parsed = parseArgs({ args: argv, options: command.options, allowPositionals: true, strict: true });
  const code = await command.run({ positionals: parsed.positionals, values: parsed.values }, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

test('steer label builds the catalog and steer features searches, aliases, plots and shows it', async () => {
  const labelled = await run(labelCommand, [
    '--sae',
    saeDir,
    '--corpus',
    corpusPath,
    '--evidence-features',
    '2',
    '--evidence-docs',
    '1',
    '--json',
  ]);
  assert.equal(labelled.code, 0);
  const summary = JSON.parse(labelled.stdout);
  assert.equal(summary.documents, 32);
  assert.equal(labelled.stderr, '', 'quiet in --json mode');

  const searched = await run(featuresCommand, ['search', 'coffee', '--sae', saeDir, '--json']);
  const { features } = JSON.parse(searched.stdout) as {
    features: Array<{ id: number; label: string; score: number }>;
  };
  assert.ok(
    features.slice(0, 3).some((f) => f.id === 0),
    `coffee -> ${JSON.stringify(features.slice(0, 3))}`,
  );
  for (const f of features)
    assert.ok(typeof f.id === 'number' && typeof f.score === 'number' && 'label' in f);
  assert.match(features.find((f) => f.id === 0)!.label, /espresso|roast|beans|brew|caffeine|barista|coffee/);

  assert.equal((await run(featuresCommand, ['alias', '@morning_cup', 'f0', '--sae', saeDir])).code, 0);
  const relabelled = await run(labelCommand, [
    '--sae',
    saeDir,
    '--corpus',
    corpusPath,
    '--no-evidence',
    '--json',
  ]);
  assert.equal(relabelled.code, 0);
  // The feedback pool of concept search: on by default, sized by --feedback-docs, left out by --no-feedback.
  const catalogHeader = async () =>
    JSON.parse(await readFile(join(saeDir, 'catalog', 'catalog.json'), 'utf8')) as {
      files: Record<string, number>;
      options: { feedbackDocuments: number };
    };
  assert.ok((await catalogHeader()).files['feedback.bin']! > 0);
  const relabel = (...extra: string[]) =>
    run(labelCommand, ['--sae', saeDir, '--corpus', corpusPath, '--no-evidence', ...extra, '--json']);
  await relabel('--no-feedback');
  assert.equal((await catalogHeader()).files['feedback.bin'], undefined);
  await relabel('--feedback-docs', '8');
  assert.equal((await catalogHeader()).options.feedbackDocuments, 8);
  await assert.rejects(
    run(labelCommand, ['--sae', saeDir, '--corpus', corpusPath, '--feedback-docs', '0']),
    (e: unknown) => e instanceof UsageError && /--feedback-docs/.test(e.message),
  );
  const aliasSearch = JSON.parse(
    (await run(featuresCommand, ['search', 'morning_cup', '--sae', saeDir, '--json'])).stdout,
  );
  assert.equal(aliasSearch.features[0].id, 0);
  assert.deepEqual(aliasSearch.features[0].aliases, ['morning_cup']);
  const listed = JSON.parse((await run(featuresCommand, ['alias', '--sae', saeDir, '--json'])).stdout);
  assert.deepEqual(listed, { aliases: { morning_cup: 0 } });
  assert.equal((await run(featuresCommand, ['alias', '--remove', 'morning_cup', '--sae', saeDir])).code, 0);
  await assert.rejects(
    run(featuresCommand, ['alias', '--remove', 'morning_cup', '--sae', saeDir]),
    UsageError,
  );

  const plotPath = join(root, 'plots', 'freq.svg');
  const stats = await run(featuresCommand, ['stats', '--plot', plotPath, '--sae', saeDir]);
  assert.equal(stats.code, 0);
  assert.match(stats.stdout, /head:\n {2}f\d+\t[\d.]+% \(\d+ docs\)\t\S/);
  assert.match(stats.stdout, /torso:/);
  assert.match(stats.stdout, /tail:/);
  const svg = await readFile(plotPath, 'utf8');
  assert.match(svg, /^<svg /);
  assert.equal((svg.match(/<polyline class="series"/g) ?? []).length, 2);
  assert.match(svg, /SAE features/);
  assert.match(svg, /bag-of-words terms/);

  const shown = JSON.parse((await run(featuresCommand, ['show', 'f0', '--sae', saeDir, '--json'])).stdout);
  assert.equal(shown.id, 0);
  assert.ok(shown.topDocuments.length > 0 && shown.topDocuments[0].id.startsWith('coffee-'));
  assert.ok(shown.stats.typicalActivation > 0);
});

test('steer label and steer features refuse bad input with clear errors', async () => {
  await assert.rejects(
    run(labelCommand, ['--sae', saeDir, '--corpus', join(root, 'missing.jsonl')]),
    (e: unknown) => e instanceof UsageError && /cannot read .*missing\.jsonl/.test(e.message),
  );
  const noIds = join(root, 'no-ids.jsonl');
  await writeFile(noIds, '{"title":"x","text":"no id here"}\n');
  await assert.rejects(
    run(labelCommand, ['--sae', saeDir, '--corpus', noIds]),
    (e: unknown) => e instanceof UsageError && /"_id"/.test(e.message),
  );
  await assert.rejects(
    run(labelCommand, ['--sae', saeDir]),
    (e: unknown) => e instanceof UsageError && /--corpus/.test(e.message),
  );
  await assert.rejects(run(featuresCommand, ['frobnicate', '--sae', saeDir]), UsageError);
  await assert.rejects(run(featuresCommand, ['show', 'x12', '--sae', saeDir]), UsageError);
  // A catalog built for one SAE, copied beside another: refused by name.
  const { cp } = await import('node:fs/promises');
  await run(labelCommand, ['--sae', saeDir, '--corpus', corpusPath, '--no-evidence', '--json']);
  await cp(join(saeDir, 'catalog'), join(otherSaeDir, 'catalog'), { recursive: true });
  await assert.rejects(
    run(featuresCommand, ['stats', '--sae', otherSaeDir]),
    (e: unknown) =>
      (e as Error).name === 'CatalogError' &&
      /was built for SAE .* but .* holds SAE/.test((e as Error).message),
  );
  await assert.rejects(
    run(labelCommand, ['--sae', otherSaeDir, '--corpus', corpusPath, '--no-evidence']),
    (e: unknown) => (e as Error).name === 'CatalogError' && /--force/.test((e as Error).message),
  );
});
