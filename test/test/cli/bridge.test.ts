// `steer bridge` end to end: the real CLI in front of the Elasticsearch test double, steering a real search.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadDefaultEmbedder } from '@steer/embed';
import { startEsDouble } from '../../src/es-double.js';
import type { EsDouble } from '../../src/es-double.js';
import { repoRoot, steerBin } from '../../src/run-cli.js';

const demoSae = join(repoRoot, 'packages/cli/demo/sae');
const docs = [
  { id: 'pay', text: 'Graduates with a degree earn higher salaries and find jobs faster.' },
  { id: 'mind', text: 'A degree is a chance to grow as a person and learn to think critically.' },
  { id: 'park', text: 'The city park has a pond, old oak trees and a playground.' },
];

let double: EsDouble;
let bridge: ChildProcessWithoutNullStreams;
let bridgeUrl: string;

before(async () => {
  double = await startEsDouble();
  const embedder = await loadDefaultEmbedder();
  const vectors = await embedder.embed(
    docs.map((d) => d.text),
    { kind: 'document' },
  );
  await embedder.dispose();
  const put = await fetch(`${double.url}/degrees`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      mappings: {
        properties: {
          text: { type: 'text' },
          embedding: { type: 'dense_vector', dims: 512, similarity: 'dot_product' },
        },
      },
    }),
  });
  assert.equal(put.status, 200);
  const bulk = docs
    .flatMap((d, i) => [
      JSON.stringify({ index: { _index: 'degrees', _id: d.id } }),
      JSON.stringify({ text: d.text, embedding: Array.from(vectors.subarray(i * 512, (i + 1) * 512)) }),
    ])
    .join('\n');
  const bulked = await fetch(`${double.url}/_bulk?refresh=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: bulk + '\n',
  });
  assert.equal(bulked.status, 200);

  const cwd = await mkdtemp(join(tmpdir(), 'steer-bridge-'));
  bridge = spawn(
    process.execPath,
    [steerBin, 'bridge', '--upstream', double.url, '--port', '0', '--sae', demoSae, '--json'],
    {
      cwd,
    },
  );
  const firstLine = createInterface({ input: bridge.stdout })[Symbol.asyncIterator]().next();
  const line = await firstLine;
  bridgeUrl = (JSON.parse(String(line.value)) as { url: string }).url;
});

after(async () => {
  if (bridge.exitCode === null) {
    bridge.kill('SIGTERM');
    await once(bridge, 'exit');
  }
  await double.close();
});

test('a steer clause is answered with Elasticsearch hits; other requests pass through unchanged', async () => {
  const response = await fetch(`${bridgeUrl}/degrees/_search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      steer: { query: '"why study at university" k=2', field: 'embedding' },
      _source: ['text'],
    }),
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('x-elastic-product'), 'Elasticsearch');
  const body = (await response.json()) as {
    hits: { hits: Array<{ _id: string; _source: { text: string } }> };
  };
  assert.equal(body.hits.hits.length, 2);
  assert.ok(body.hits.hits.every((h) => h._id !== 'park'));
  assert.ok(body.hits.hits[0]!._source.text.length > 0);

  const mapping = await fetch(`${bridgeUrl}/degrees/_mapping`);
  assert.equal(mapping.status, 200);
  assert.deepEqual(await mapping.json(), await (await fetch(`${double.url}/degrees/_mapping`)).json());
});

test('bad steer syntax is a 400 in the Elasticsearch error shape, and the bridge stops cleanly on SIGTERM', async () => {
  const response = await fetch(`${bridgeUrl}/degrees/_search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ steer: '"jobs" +f1*' }),
  });
  assert.equal(response.status, 400);
  const body = (await response.json()) as { error: { type: string; reason: string }; status: number };
  assert.equal(body.status, 400);
  assert.match(body.error.reason, /expected/i);

  bridge.kill('SIGTERM');
  const [code] = (await once(bridge, 'exit')) as [number | null];
  assert.equal(code, 0);
});
