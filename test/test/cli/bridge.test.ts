// `steer bridge` end to end: the real CLI in front of the Elasticsearch test double, steering a real search, and
// answering hostile or malformed requests as Elasticsearch would while the process keeps serving.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Client } from '@elastic/elasticsearch';
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

const MAX_BODY = 64 * 1024;

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
  // The bridge holds credentials (so it checks Host and Origin), takes 64 KiB bodies, gives the upstream 2 s and
  // callers 3 s to send a request.
  bridge = spawn(
    process.execPath,
    [
      steerBin,
      'bridge',
      '--upstream',
      double.url,
      '--port',
      '0',
      '--sae',
      demoSae,
      '--json',
      '--upstream-auth',
      'ApiKey bridge-key',
      '--max-body',
      String(MAX_BODY),
      '--timeout',
      '2000',
      '--client-timeout',
      '3000',
    ],
    { cwd },
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

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** How the connection ended: a clean close, or a reset. */
  ended: 'close' | 'reset' | 'open';
}

/**
 * Sends raw bytes to the bridge and reads one HTTP answer. `body` may be parts with pauses (numbers, in ms)
 * between them. `after` runs once the answer's head arrived (to keep uploading, say). Never throws on a reset:
 * it is reported in `ended`.
 */
function raw(
  head: string,
  body: Buffer | string | Array<Buffer | string | number> = '',
  options: { after?: (socket: ReturnType<typeof connect>) => void; waitClose?: boolean } = {},
): Promise<RawAnswer> {
  const { port, hostname } = new URL(bridgeUrl);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let data = Buffer.alloc(0);
    let ended: RawAnswer['ended'] = 'open';
    let answered = false;
    const parse = (): RawAnswer | undefined => {
      const split = data.indexOf('\r\n\r\n');
      if (split < 0) return undefined;
      const lines = data.subarray(0, split).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const at = line.indexOf(':');
        headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      const rest = data.subarray(split + 4);
      if (rest.length < length) return undefined;
      return {
        status: Number(lines[0]!.split(' ')[1]),
        headers,
        body: rest.subarray(0, length).toString(),
        ended,
      };
    };
    const finish = (): void => {
      const answer = parse();
      if (answer && (!options.waitClose || ended !== 'open')) {
        answered = true;
        resolve({ ...answer, ended });
        socket.destroy();
      }
    };
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (!answered && parse() && options.after) {
        const run = options.after;
        options.after = undefined;
        run(socket);
      }
      finish();
    });
    socket.on('error', () => {
      ended = 'reset';
      if (!answered) resolve(parse() ?? { status: 0, headers: {}, body: '', ended });
    });
    socket.on('close', () => {
      if (ended === 'open') ended = 'close';
      if (!answered) resolve(parse() ?? { status: 0, headers: {}, body: '', ended });
    });
    socket.write(head.replace(/\n/g, '\r\n') + '\r\n');
    void (async () => {
      for (const part of Array.isArray(body) ? body : [body]) {
        if (typeof part === 'number') await new Promise((wait) => setTimeout(wait, part));
        else if (part.length > 0 && !socket.destroyed) socket.write(part);
      }
    })();
  });
}

function hostHeader(): string {
  return new URL(bridgeUrl).host;
}

async function post(path: string, body: string | Buffer, headers: Record<string, string>): Promise<Response> {
  return fetch(bridgeUrl + path, { method: 'POST', headers, body });
}

function errorType(json: unknown): string {
  return (json as { error?: { type?: string; root_cause?: Array<{ type: string }> } }).error?.type ?? '';
}

test('hostile and malformed requests get the status and error type Elasticsearch gives, and the bridge keeps serving', async () => {
  const json = { 'content-type': 'application/json' };
  const steer = JSON.stringify({ steer: { query: '"why study" k=2', field: 'embedding' } });

  // Bodies the bridge parses.
  let r = await post('/degrees/_search', '{"steer": ', json);
  assert.deepEqual([r.status, errorType(await r.json())], [400, 'x_content_parse_exception']);
  // 30,000 levels (the 64 KiB limit of this bridge; the probe had 100,000 on the default limit).
  const deep = `{"steer": "x", "q": ${'['.repeat(30_000)}${']'.repeat(30_000)}}`;
  r = await post('/degrees/_search', deep, json);
  const deepBody = (await r.json()) as { error: { reason: string } };
  assert.deepEqual([r.status, errorType(deepBody)], [400, 'x_content_parse_exception']);
  assert.match(deepBody.error.reason, /exceeds the maximum allowed nesting depth \(1000\)/);
  r = await post('/degrees/_search', steer, { 'content-type': 'text/plain' });
  assert.equal(r.status, 406);
  assert.deepEqual(await r.json(), {
    error: 'Content-Type header [text/plain] is not supported',
    status: 406,
  });
  let a = await raw(
    `POST /degrees/_search HTTP/1.1\nHost: ${hostHeader()}\nContent-Length: ${steer.length}\nConnection: close\n`,
    steer,
  );
  assert.equal(a.status, 406);
  assert.deepEqual(JSON.parse(a.body), { error: 'Content-Type header is missing', status: 406 });
  r = await post('/degrees/_search', steer.replace('"embedding"', '"text"'), json);
  assert.deepEqual([r.status, errorType(await r.json())], [400, 'illegal_argument_exception']);
  r = await post('/degrees/_search', JSON.stringify({ steer: 42 }), json);
  assert.deepEqual([r.status, errorType(await r.json())], [400, 'illegal_argument_exception']);
  r = await post('/degrees/_search', JSON.stringify({ steer: 'x', knn: {} }), json);
  assert.deepEqual([r.status, errorType(await r.json())], [400, 'illegal_argument_exception']);

  // Compressed bodies: gzip is decoded (and steered), garbage and bombs are refused.
  r = await post('/degrees/_search', gzipSync(steer), { ...json, 'content-encoding': 'gzip' });
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { hits: { hits: unknown[] } }).hits.hits.length, 2);
  r = await post('/degrees/_search', Buffer.from('not gzip at all'), { ...json, 'content-encoding': 'gzip' });
  assert.deepEqual([r.status, errorType(await r.json())], [400, 'illegal_argument_exception']);
  const bomb = gzipSync(Buffer.from(`{"steer": "x", "pad": "${' '.repeat(2 * MAX_BODY)}"}`));
  assert.ok(bomb.length < MAX_BODY);
  r = await post('/degrees/_search', bomb, { ...json, 'content-encoding': 'gzip' });
  assert.deepEqual([r.status, errorType(await r.json())], [413, 'content_too_long_exception']);

  // Paths that would leave the upstream's prefix, and targets that are not paths.
  for (const target of [
    '/../degrees/_search',
    '/degrees/%2e%2e/x',
    '/a/..%2f..%2fb',
    'http://evil.example/x',
    '*',
  ]) {
    a = await raw(`GET ${target} HTTP/1.1\nHost: ${hostHeader()}\nConnection: close\n`);
    assert.deepEqual(
      [a.status, errorType(JSON.parse(a.body || '{}'))],
      [400, 'illegal_argument_exception'],
      target,
    );
  }
  a = await raw(`GET /%zz/_search HTTP/1.1\nHost: ${hostHeader()}\nConnection: close\n`);
  assert.equal(a.status, 400);

  // DNS rebinding and cross-site requests, refused since the bridge holds credentials.
  a = await raw(
    `GET /degrees/_mapping HTTP/1.1\nHost: evil.example:${new URL(bridgeUrl).port}\nConnection: close\n`,
  );
  assert.deepEqual([a.status, errorType(JSON.parse(a.body))], [403, 'security_exception']);
  r = await fetch(`${bridgeUrl}/degrees/_search`, {
    method: 'POST',
    headers: { ...json, origin: 'https://evil.example' },
    body: steer,
  });
  assert.deepEqual([r.status, errorType(await r.json())], [403, 'security_exception']);

  // Oversized bodies: a readable 413 (the rest is drained, no reset), 417 to Expect, 413 mid-stream.
  const declared = 10 * MAX_BODY;
  a = await raw(
    `POST /degrees/_doc/big HTTP/1.1\nHost: ${hostHeader()}\nContent-Type: application/json\nContent-Length: ${declared}\n`,
    Buffer.alloc(MAX_BODY, 0x20),
    { after: (socket) => socket.end(Buffer.alloc(declared - MAX_BODY, 0x20)), waitClose: true },
  );
  assert.deepEqual([a.status, errorType(JSON.parse(a.body))], [413, 'content_too_long_exception']);
  assert.equal(a.ended, 'close', 'the connection is closed, not reset');
  a = await raw(
    `POST /degrees/_bulk HTTP/1.1\nHost: ${hostHeader()}\nContent-Type: application/x-ndjson\nContent-Length: ${declared}\nExpect: 100-continue\n`,
  );
  assert.equal(a.status, 417);
  a = await raw(
    `POST /degrees/_bulk HTTP/1.1\nHost: ${hostHeader()}\nContent-Type: application/x-ndjson\nTransfer-Encoding: chunked\n`,
    `${(2 * MAX_BODY).toString(16)}\r\n${' '.repeat(2 * MAX_BODY)}\r\n`,
    { after: (socket) => socket.end('0\r\n\r\n'), waitClose: true },
  );
  assert.deepEqual([a.status, errorType(JSON.parse(a.body))], [413, 'content_too_long_exception']);

  // A slow caller is the caller's problem: 408 from the bridge, nothing sent upstream, never a 504.
  const before = double.requests.length;
  a = await raw(
    `POST /degrees/_search HTTP/1.1\nHost: ${hostHeader()}\nContent-Type: application/json\nContent-Length: 100\n`,
    '{"steer"',
    { waitClose: true },
  );
  assert.equal(a.status, 408);
  assert.equal(double.requests.length, before);
  // A body slower than the upstream timeout (2 s) but within the caller's (3 s) is still steered.
  a = await raw(
    `POST /degrees/_search HTTP/1.1\nHost: ${hostHeader()}\nContent-Type: application/json\nContent-Length: ${steer.length}\nConnection: close\n`,
    [steer.slice(0, 10), 2_500, steer.slice(10)],
  );
  assert.equal(a.status, 200);
  assert.equal((JSON.parse(a.body) as { hits: { hits: unknown[] } }).hits.hits.length, 2);

  // Not a request at all.
  a = await raw('NOT HTTP\n');
  assert.equal(a.status, 400);
  r = await fetch(`${bridgeUrl}/_steer/nope`);
  assert.deepEqual([r.status, errorType(await r.json())], [404, 'resource_not_found_exception']);

  // A client that gzips its bodies (the JS client with compression: true, as with a Cloud ID) is steered.
  const client = new Client({ node: bridgeUrl, compression: true });
  const steered = await client.transport.request<{ hits: { hits: Array<{ _id: string }> } }>({
    method: 'POST',
    path: '/degrees/_search',
    body: { steer: { query: '"why study at university" k=2', field: 'embedding' } },
  });
  assert.equal(steered.hits.hits.length, 2);
  await client.close();

  // Still alive and serving.
  assert.equal(bridge.exitCode, null);
  r = await post('/degrees/_search', steer, json);
  assert.equal(r.status, 200);
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
