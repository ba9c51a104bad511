// The bridge server against a recording upstream: proxying, steer rewriting, and robustness (nothing crashes).
/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read parsed JSON answers loosely */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { startBridge } from '../src/index.js';
import type { BridgeSteering, RunningBridge, SteeredQuery } from '../src/index.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An upstream that records requests; `/<index>/_mapping` has one 2-d dense_vector field `emb`; `/slow` never answers. */
async function startUpstream(): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      return; // the bridge gave up on this request (timeout test)
    }
    const entry = {
      method: req.method!,
      url: req.url!,
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    };
    if (req.url!.startsWith('/slow')) return;
    seen.push(entry);
    if (req.url!.startsWith('/no-product')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"not":"elasticsearch"}');
      return;
    }
    res.setHeader('x-elastic-product', 'Elasticsearch');
    res.setHeader('x-upstream', 'yes');
    if (req.url!.endsWith('/_mapping')) {
      const index = req.url!.split('/')[1]!;
      if (index === 'missing') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: { root_cause: [], type: 'index_not_found_exception', reason: 'no such index [missing]' },
            status: 404,
          }),
        );
        return;
      }
      // Compressed when asked, as Elasticsearch answers over HTTP.
      const gzip = String(req.headers['accept-encoding'] ?? '').includes('gzip');
      const mapping = Buffer.from(
        JSON.stringify({
          [index]: {
            mappings: {
              properties: {
                emb: { type: 'dense_vector', dims: 2 },
                genre: { type: 'text', fields: { keyword: { type: 'keyword' } } },
              },
            },
          },
        }),
      );
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      });
      res.end(gzip ? gzipSync(mapping) : mapping);
      return;
    }
    res.writeHead(req.url!.startsWith('/teapot') ? 418 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(entry));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

const steering: BridgeSteering = {
  async resolve(query): Promise<SteeredQuery> {
    if (query === 'crash') throw new Error('boom');
    if (query.includes('(')) {
      const at = query.indexOf('(');
      const e = Object.assign(new Error('invalid steer query'), {
        code: 'steer_query_invalid',
        diagnostics: [
          {
            code: 'unexpected-token',
            message: "unexpected '('",
            severity: 'error',
            range: { start: { line: 0, character: at }, end: { line: 0, character: at + 1 } },
          },
        ],
      });
      throw e;
    }
    return {
      vector: Float32Array.from([0.6, 0.8]),
      latents: { indices: [1], values: [0.8] },
      k: 4,
      numCandidates: 40,
      mode: 'dense',
      filter: { op: 'eq', field: 'genre', value: 'drama' },
      diagnostics: [],
    };
  },
  async searchFeatures(concept, limit) {
    return [{ id: 7, label: `about ${concept}`, score: 0.9 }].slice(0, limit);
  },
  async explain({ hits }) {
    return hits.map((h) => ({ ...h, features: [] }));
  },
};

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
}

function call(
  base: string,
  method: string,
  path: string,
  body?: string | Readable,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // NOTE: node's client sends a GET body with neither content-length nor chunked framing unless told the length.
    const length = typeof body === 'string' ? { 'content-length': String(Buffer.byteLength(body)) } : {};
    // NOTE: the path goes as given (a URL string would be normalised, hiding `..` segments from the bridge).
    const { hostname, port } = new URL(base);
    const req = request(
      {
        hostname,
        port,
        path,
        method,
        headers: { 'content-type': 'application/json', ...length, ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode!, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

describe('bridge server', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let bridge: RunningBridge;
  const unexpected: unknown[] = [];
  before(async () => {
    upstream = await startUpstream();
    bridge = await startBridge({
      upstream: upstream.url,
      steering,
      port: 0,
      maxBodyBytes: 4096,
      upstreamTimeoutMs: 300,
      onError: (e) => unexpected.push(e),
    });
  });
  after(async () => {
    await bridge.close();
    upstream.server.closeAllConnections();
    await new Promise((r) => upstream.server.close(r));
  });

  it('listens on 127.0.0.1 by default', () => {
    assert.equal(bridge.host, '127.0.0.1');
    assert.match(bridge.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('proxies other requests unchanged: method, path, query string, headers with auth, body, status and headers back', async () => {
    const r = await call(bridge.url, 'PUT', '/idx/_doc/1?refresh=true&routing=a%2Fb', '{"a":1}', {
      authorization: 'Basic dTpw',
      'x-opaque-id': 'abc',
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-upstream'], 'yes');
    assert.equal(r.headers['x-elastic-product'], 'Elasticsearch');
    assert.equal(r.json.method, 'PUT');
    assert.equal(r.json.url, '/idx/_doc/1?refresh=true&routing=a%2Fb');
    assert.equal(r.json.headers.authorization, 'Basic dTpw');
    assert.equal(r.json.headers['x-opaque-id'], 'abc');
    assert.equal(r.json.body, '{"a":1}');
    assert.equal((await call(bridge.url, 'GET', '/teapot')).status, 418);
    const head = await call(bridge.url, 'HEAD', '/idx');
    assert.equal(head.status, 200);
  });

  it('relays upstream answers exactly: no x-elastic-product is added to answers that lack it', async () => {
    const r = await call(bridge.url, 'GET', '/no-product');
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-elastic-product'], undefined);
    assert.deepEqual(r.json, { not: 'elasticsearch' });
  });

  it('reads gzipped _mapping answers and steers; keeps the caller content type', async () => {
    const body = JSON.stringify({ steer: '"rivers"' });
    const r = await call(bridge.url, 'POST', '/films/_search', body, {
      'accept-encoding': 'gzip',
      'content-type': 'application/vnd.elasticsearch+json; compatible-with=8',
    });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.body.includes('"knn"'));
    assert.equal(r.json.headers['content-type'], 'application/vnd.elasticsearch+json; compatible-with=8');
  });

  it('keeps every request under the upstream path prefix', async () => {
    const prefixed = await startBridge({ upstream: `${upstream.url}/gateway/es`, steering, port: 0 });
    try {
      const r = await call(prefixed.url, 'GET', '/idx/_doc/1');
      assert.equal(r.json.url, '/gateway/es/idx/_doc/1');
      for (const path of ['/../x', '/idx/%2E%2E/%2e%2e/x', '/idx/..%2F..%2Fx']) {
        const refused = await call(prefixed.url, 'GET', path);
        assert.equal(refused.status, 400, path);
        assert.equal(refused.json.error.type, 'illegal_argument_exception');
      }
    } finally {
      await prefixed.close();
    }
  });

  it('streams chunked bodies through (e.g. _bulk NDJSON)', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => `{"index":{"_id":"${i}"}}\n{"n":${i}}\n`);
    const r = await call(bridge.url, 'POST', '/_bulk', Readable.from(lines), {
      'content-type': 'application/x-ndjson',
    });
    assert.equal(r.status, 200);
    assert.equal(r.json.body, lines.join(''));
    // undici frames it chunked, or with the length once the whole body is buffered.
    assert.ok(
      r.json.headers['transfer-encoding'] === 'chunked' ||
        Number(r.json.headers['content-length']) === Buffer.byteLength(lines.join('')),
    );
  });

  it('never adds credentials of its own unless configured, and then only to requests without any', async () => {
    const plain = await call(bridge.url, 'GET', '/x');
    assert.equal(plain.json.headers.authorization, undefined);
    const configured = await startBridge({
      upstream: upstream.url,
      steering,
      port: 0,
      upstreamAuthorization: 'ApiKey bridge',
    });
    try {
      assert.equal((await call(configured.url, 'GET', '/x')).json.headers.authorization, 'ApiKey bridge');
      assert.equal(
        (await call(configured.url, 'GET', '/x', undefined, { authorization: 'Basic mine' })).json.headers
          .authorization,
        'Basic mine',
      );
    } finally {
      await configured.close();
    }
  });

  it('rewrites a steer clause into knn (POST and GET with a body), keeping the rest of the body', async () => {
    for (const method of ['POST', 'GET']) {
      const r = await call(
        bridge.url,
        method,
        '/films/_search?typed_keys=true',
        JSON.stringify({ steer: '"rivers"', _source: ['title'], size: 3 }),
      );
      assert.equal(r.status, 200, r.text);
      const sent = JSON.parse(r.json.body);
      assert.equal(r.json.url, '/films/_search?typed_keys=true');
      assert.deepEqual(sent, {
        _source: ['title'],
        size: 3,
        knn: {
          field: 'emb',
          k: 4,
          num_candidates: 40,
          query_vector: [Math.fround(0.6), Math.fround(0.8)],
          filter: [{ term: { 'genre.keyword': 'drama' } }],
        },
      });
    }
    const noSteer = await call(bridge.url, 'POST', '/films/_search', '{"query":{"match_all":{}}}');
    assert.equal(noSteer.json.body, '{"query":{"match_all":{}}}');
  });

  it('relays the upstream answer when the index is missing', async () => {
    const r = await call(bridge.url, 'POST', '/missing/_search', JSON.stringify({ steer: '"x"' }));
    assert.equal(r.status, 404);
    assert.equal(r.json.error.type, 'index_not_found_exception');
  });

  it('answers malformed JSON with 400 x_content_parse_exception in the Elasticsearch error shape', async () => {
    const r = await call(bridge.url, 'POST', '/films/_search', '{"steer": "x", ');
    assert.equal(r.status, 400);
    assert.equal(r.json.status, 400);
    assert.equal(r.json.error.type, 'x_content_parse_exception');
    assert.equal(r.json.error.root_cause[0].type, 'x_content_parse_exception');
    assert.equal(r.headers['x-elastic-product'], 'Elasticsearch');
  });

  it('answers bad steer syntax with 400 and the line/character position', async () => {
    const r = await call(bridge.url, 'POST', '/films/_search', JSON.stringify({ steer: { query: '"x" (' } }));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.type, 'parsing_exception');
    assert.equal(r.json.error.line, 1);
    assert.equal(r.json.error.col, 5);
    assert.deepEqual(r.json.error.range, {
      start: { line: 0, character: 4 },
      end: { line: 0, character: 5 },
    });
    assert.match(r.json.error.reason, /\[1:5\] steer unexpected-token/);
  });

  it('answers 413 for bodies over the limit, declared or chunked', async () => {
    const big = JSON.stringify({ steer: '"x"', pad: 'y'.repeat(5000) });
    const declared = await call(bridge.url, 'POST', '/films/_search', big);
    assert.equal(declared.status, 413);
    assert.equal(declared.json.error.type, 'content_too_long_exception');
    const chunked = await call(
      bridge.url,
      'POST',
      '/_bulk',
      Readable.from(Array.from({ length: 10 }, () => 'z'.repeat(1000))),
    );
    assert.equal(chunked.status, 413);
    const passThrough = await call(bridge.url, 'PUT', '/idx/_doc/1', big);
    assert.equal(passThrough.status, 413);
  });

  it('refuses steered searches on a cluster below 8.15, naming its version, and proxies the rest', async () => {
    const old = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
      res.end(
        req.url === '/'
          ? JSON.stringify({ version: { number: '8.14.3', build_flavor: 'default' } })
          : JSON.stringify({
              films: { mappings: { properties: { emb: { type: 'dense_vector', dims: 2 } } } },
            }),
      );
    });
    await new Promise<void>((r) => old.listen(0, '127.0.0.1', r));
    const oldBridge = await startBridge({
      upstream: `http://127.0.0.1:${(old.address() as AddressInfo).port}`,
      steering,
      port: 0,
    });
    try {
      const r = await call(oldBridge.url, 'POST', '/films/_search', JSON.stringify({ steer: '"rivers"' }));
      assert.equal(r.status, 400);
      assert.match(
        r.json.error.reason,
        /runs Elasticsearch 8\.14\.3, but steered searches need 8\.15\.0 or later/,
      );
      assert.equal((await call(oldBridge.url, 'GET', '/films/_mapping')).status, 200);
    } finally {
      await oldBridge.close();
      old.closeAllConnections();
      await new Promise((r) => old.close(r));
    }
  });

  it('answers 502 when the upstream is down and 504 when it is too slow', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const down = await startBridge({ upstream: `http://127.0.0.1:${port}`, steering, port: 0 });
    try {
      const r = await call(down.url, 'GET', '/');
      assert.equal(r.status, 502);
      assert.equal(r.json.error.type, 'connect_exception');
      assert.match(r.json.error.reason, /cannot reach the upstream .*ECONNREFUSED/);
      const steer = await call(down.url, 'POST', '/films/_search', JSON.stringify({ steer: '"x"' }));
      assert.equal(steer.status, 502);
    } finally {
      await down.close();
    }
    const slow = await call(bridge.url, 'GET', '/slow/_search');
    assert.equal(slow.status, 504);
    assert.equal(slow.json.error.type, 'timeout_exception');
  });

  it('does not blame the upstream for a slow upload: the timeout counts once the request is sent', async () => {
    // The bridge gives the upstream 300 ms; this body takes about 900 ms to arrive.
    async function* slowly(): AsyncGenerator<string> {
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 150));
        yield `{"index":{"_id":"${i}"}}\n{"n":${i}}\n`;
      }
    }
    const r = await call(bridge.url, 'POST', '/_bulk', Readable.from(slowly()), {
      'content-type': 'application/x-ndjson',
    });
    assert.equal(r.status, 200);
    assert.equal(r.json.body.split('\n').length, 13);
  });

  it('answers 500 in the Elasticsearch shape when the steering fails unexpectedly, and keeps serving', async () => {
    const r = await call(bridge.url, 'POST', '/films/_search', JSON.stringify({ steer: 'crash' }));
    assert.equal(r.status, 500);
    assert.equal(r.json.error.type, 'steer_bridge_exception');
    assert.equal(unexpected.length, 1);
    assert.equal((await call(bridge.url, 'GET', '/x')).status, 200);
  });

  it('serves /_steer/features and /_steer/explain, and validates their input', async () => {
    const features = await call(bridge.url, 'GET', '/_steer/features?q=finance&limit=3');
    assert.deepEqual(features.json, {
      concept: 'finance',
      features: [{ id: 7, label: 'about finance', score: 0.9 }],
    });
    assert.equal((await call(bridge.url, 'GET', '/_steer/features')).status, 400);
    assert.equal((await call(bridge.url, 'GET', '/_steer/features?q=x&limit=0')).status, 400);
    const explained = await call(
      bridge.url,
      'POST',
      '/_steer/explain',
      JSON.stringify({ query: '"x"', hits: [{ id: 'a', text: 't' }] }),
    );
    assert.deepEqual(explained.json, { hits: [{ id: 'a', text: 't', features: [] }] });
    assert.equal((await call(bridge.url, 'POST', '/_steer/explain', '{"query": 1}')).status, 400);
    assert.equal((await call(bridge.url, 'POST', '/_steer/explain', 'nope')).status, 400);
    const many = JSON.stringify({
      query: '"x"',
      hits: Array.from({ length: 101 }, (_, i) => ({ id: `${i}`, text: 't' })),
    });
    assert.equal((await call(bridge.url, 'POST', '/_steer/explain', many)).status, 400);
    assert.equal((await call(bridge.url, 'DELETE', '/_steer/features')).status, 404);
  });

  it('survives garbage on the socket', async () => {
    const reply = await new Promise<string>((resolve) => {
      const socket = connect(bridge.port, '127.0.0.1', () => socket.write('\x00\x01 NOT HTTP\r\n\r\n'));
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
    });
    assert.match(reply, /^HTTP\/1.1 400/);
    assert.equal((await call(bridge.url, 'GET', '/x')).status, 200);
  });

  it('answers 200 concurrent mixed requests, every one of them', async () => {
    const kinds = [
      () =>
        call(bridge.url, 'POST', '/films/_search', JSON.stringify({ steer: '"x"' })).then((r) => [
          r.status,
          200,
        ]),
      () => call(bridge.url, 'GET', '/idx/_doc/1').then((r) => [r.status, 200]),
      () => call(bridge.url, 'POST', '/films/_search', '{bad').then((r) => [r.status, 200]),
      () => call(bridge.url, 'POST', '/films/_search', '{"steer": "x", bad').then((r) => [r.status, 400]),
      () =>
        call(bridge.url, 'POST', '/films/_search', JSON.stringify({ steer: '(' })).then((r) => [
          r.status,
          400,
        ]),
    ];
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => kinds[i % kinds.length]!()));
    for (const [got, want] of results) assert.equal(got, want);
  });
});
