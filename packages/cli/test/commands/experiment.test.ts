// `steer experiment table1` end to end as a user runs it: a BEIR folder written by the test, the default embedder,
// `--latents` and `--epochs` set, and the report it writes; and the usage error of too few latents.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runSteer } from '../helpers.js';

let root: string;

const run = (argv: string[]) => runSteer(argv, root);

const TOPICS = ['rivers and lakes', 'jet engines', 'bread baking', 'chess openings', 'tax law', 'bird song'];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'steer-cli-experiment-'));
  const dir = join(root, 'toy');
  await mkdir(join(dir, 'qrels'), { recursive: true });
  const docs = TOPICS.flatMap((topic, t) =>
    [0, 1, 2, 3].map((i) => ({
      _id: `d${t}-${i}`,
      title: `${topic} ${i}`,
      text: `A note on ${topic}, part ${i}. It is about ${topic} and nothing else.`,
    })),
  );
  await writeFile(join(dir, 'corpus.jsonl'), docs.map((d) => JSON.stringify(d)).join('\n'));
  await writeFile(
    join(dir, 'queries.jsonl'),
    TOPICS.map((topic, t) => JSON.stringify({ _id: `q${t}`, text: `what about ${topic}` })).join('\n'),
  );
  await writeFile(
    join(dir, 'qrels', 'test.tsv'),
    ['query-id\tcorpus-id\tscore', ...TOPICS.map((_, t) => `q${t}\td${t}-0\t1`)].join('\n'),
  );
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('steer experiment table1 --latents trains SAEs of that size and says so in the report', async () => {
  const args = [
    'experiment',
    'table1',
    '--dataset',
    'toy',
    '--k',
    '4',
    '--seeds',
    '0',
    '--latents',
    '16',
    '--epochs',
    '2',
    '--out',
    'out',
    '--cache',
    'cache',
    '--data-dir',
    'data',
  ];
  const { code, stderr } = await run(args);
  assert.equal(code, 0, stderr);
  const md = await readFile(join(root, 'out', 'table1.md'), 'utf8');
  assert.match(
    md,
    /Produced by `steer experiment table1 --dataset toy --k 4 --latents 16 --epochs 2 --seeds 0 /,
  );
  assert.match(
    md,
    /\*\*Not the default recipe's size\*\*: this run set 16 latents \(`--latents`\) and at most 2 epochs/,
  );
  assert.match(md, /\| toy \| 4 \| 0 \| sae-[0-9a-f]{16} \| 16 \| 0\.03 \| \d+ \/ 2 \|/);
  assert.match(md, /## How faithful the SAE would have to be/);
  assert.match(md, /## Tried and not adopted/);
  assert.match(
    md,
    /\| toy \| 4 \| `sparse-query-top-2k` \| sparse \(Steer's rule: cosine\) \| [\d.]+% ± 0\.0 \| [+−][\d.]+ \|/,
  );
  assert.match(md, /\| toy \| 4 \| \d\.\d{3} ± 0\.000 \| \d\.\d{3} ± 0\.000 \| \d\.\d{3} ± 0\.000 \| —? ?\|/);

  const tooFew = await run([...args.slice(0, 9), '2', ...args.slice(10)]);
  assert.equal(tooFew.code, 2);
  assert.match(
    tooFew.stderr,
    /--latents 2 is fewer than K = 4; give at least as many latents as the largest --k/,
  );
});
