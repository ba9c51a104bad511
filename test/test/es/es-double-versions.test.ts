// The Elasticsearch TEST DOUBLE plays 8.15, 8.19 and 9.2 as they differ: wire rules (compression, Content-Type,
// compatibility headers, limits), sparse_vector pruning, vectors in _source, the RRF licence, and search keys.
/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read parsed JSON answers loosely */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import { startEsDouble } from '../../src/index.js';
import type { EsDouble, EsDoubleVersion } from '../../src/index.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP exchange with no client-side decoding, so compression and framing are visible. */
function exchange(
  double: EsDouble,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ hostname: '127.0.0.1', port: double.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function call(
  double: EsDouble,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: any }> {
  const answer = await exchange(double, method, path, body === undefined ? undefined : JSON.stringify(body));
  const text = answer.body.toString();
  return { status: answer.status, json: text ? JSON.parse(text) : undefined };
}

const MAPPINGS = {
  properties: {
    v: { type: 'dense_vector', dims: 2, similarity: 'cosine' },
    lat: { type: 'sparse_vector' },
    genre: { type: 'keyword' },
    text: { type: 'text' },
  },
};

async function seed(double: EsDouble): Promise<void> {
  assert.equal((await call(double, 'PUT', '/docs', { mappings: MAPPINGS })).status, 200);
  // Every document holds f0; each one also its own token: f0 is frequent, so pruning drops it from light queries.
  const lines = Array.from({ length: 12 }, (_, i) => [
    { index: { _index: 'docs', _id: `d${i}` } },
    {
      v: [1, i + 1],
      lat: { f0: 1, [`t${i}`]: 1 },
      genre: i % 2 === 0 ? 'even' : 'odd',
      text: i === 3 ? 'the quick brown fox jumps over the lazy dog' : `document number ${i}`,
    },
  ]).flat();
  const bulk = await exchange(
    double,
    'POST',
    '/_bulk',
    lines.map((l) => JSON.stringify(l)).join('\n') + '\n',
    { 'content-type': 'application/x-ndjson' },
  );
  assert.equal(JSON.parse(bulk.body.toString()).errors, false);
}

for (const version of ['8.15', '8.19', '9.2'] as const satisfies readonly EsDoubleVersion[]) {
  describe(`Elasticsearch TEST DOUBLE as ${version}`, () => {
    let double: EsDouble;
    const major = Number(version.split('.')[0]);
    before(async () => {
      double = await startEsDouble({ version, maxContentLength: 64 * 1024 });
      await seed(double);
    });
    after(() => double.close());

    it('reports its version and a basic licence; the rrf retriever needs Enterprise or trial', async () => {
      const info = await call(double, 'GET', '/');
      assert.ok(info.json.version.number.startsWith(version));
      assert.equal((await call(double, 'GET', '/_license')).json.license.type, 'basic');
      const rrf = await call(double, 'POST', '/docs/_search', {
        retriever: {
          rrf: {
            retrievers: [
              { knn: { field: 'v', query_vector: [1, 0], k: 3, num_candidates: 10 } },
              { standard: { query: { match_all: {} } } },
            ],
          },
        },
      });
      assert.equal(rrf.status, 403);
      assert.equal(rrf.json.error.type, 'security_exception');
      assert.equal(
        rrf.json.error.reason,
        'current license is non-compliant for [Reciprocal Rank Fusion (RRF)]',
      );
    });

    it('compresses answers for clients that accept gzip, and reads gzipped bodies', async () => {
      const answer = await exchange(double, 'POST', '/docs/_search', gzipSync('{"size":1}'), {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'accept-encoding': 'gzip, deflate',
      });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['content-encoding'], 'gzip');
      assert.equal(JSON.parse(gunzipSync(answer.body).toString()).hits.hits.length, 1);
      const plain = await exchange(double, 'GET', '/docs/_count');
      assert.equal(plain.headers['content-encoding'], undefined);
    });

    it('answers 406 to bodies it cannot read, and checks the compatible-with version', async () => {
      const text = await exchange(double, 'POST', '/docs/_search', '{}', { 'content-type': 'text/plain' });
      assert.equal(text.status, 406);
      assert.deepEqual(JSON.parse(text.body.toString()), {
        error: 'Content-Type header [text/plain] is not supported',
        status: 406,
      });
      const missing = await exchange(double, 'POST', '/docs/_search', '{}', {});
      assert.deepEqual(JSON.parse(missing.body.toString()), {
        error: 'Content-Type header is missing',
        status: 406,
      });
      const own = `application/vnd.elasticsearch+json; compatible-with=${major}`;
      const ok = await exchange(double, 'POST', '/docs/_search', '{}', { 'content-type': own, accept: own });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['content-type'], `application/vnd.elasticsearch+json;compatible-with=${major}`);
      const future = `application/vnd.elasticsearch+json; compatible-with=${major + 1}`;
      const refused = await exchange(double, 'POST', '/docs/_search', '{}', {
        'content-type': future,
        accept: future,
      });
      assert.equal(refused.status, 400);
      assert.equal(JSON.parse(refused.body.toString()).error.type, 'media_type_header_exception');
    });

    it('refuses JSON nested deeper than 1000 levels, bodies over http.max_content_length, and 100-continue for them', async () => {
      const deep = `{"query": {"bool": {"filter": ${'['.repeat(1001)}${']'.repeat(1001)}}}}`;
      const nested = await call(double, 'POST', '/docs/_search', JSON.parse(deep));
      assert.equal(nested.status, 400);
      assert.equal(nested.json.error.type, 'x_content_parse_exception');
      assert.match(
        nested.json.error.reason,
        /Depth \(1001\) exceeds the maximum allowed nesting depth \(1000\)/,
      );
      const big = await exchange(
        double,
        'PUT',
        '/docs/_doc/big',
        JSON.stringify({ pad: 'x'.repeat(70_000) }),
      );
      assert.equal(big.status, 413);
      assert.equal(big.body.length, 0, 'Elasticsearch answers 413 with an empty body');
      const expect = await exchange(double, 'PUT', '/docs/_doc/big', undefined, {
        'content-type': 'application/json',
        'content-length': String(100_000),
        expect: '100-continue',
      }).catch((error: unknown) => ({ status: 417, error }) as unknown as RawAnswer);
      assert.equal(expect.status, 417);
    });

    it(`${version === '8.15' ? 'does not prune' : 'prunes'} sparse_vector query tokens by default; prune:false and index_options decide`, async () => {
      const search = (query: object) =>
        call(double, 'POST', '/docs/_search', { size: 20, query: { sparse_vector: query } });
      const light = { field: 'lat', query_vector: { f0: 0.1, t1: 1 } };
      const byDefault = await search(light);
      assert.equal(byDefault.json.hits.hits.length, version === '8.15' ? 12 : 1);
      const exact = await search({ ...light, prune: false });
      assert.equal(exact.json.hits.hits.length, 12);
      assert.equal(exact.json.hits.hits[0]._score, Math.fround(0.1 + 1), 'weights are scored as float32');
      const forced = await search({ ...light, prune: true });
      assert.equal(forced.json.hits.hits.length, 1, 'prune:true prunes on every version');
      const options = { type: 'sparse_vector', index_options: { prune: false } };
      const created = await call(double, 'PUT', '/noprune', { mappings: { properties: { lat: options } } });
      if (version === '8.15') {
        assert.equal(created.status, 400);
        assert.equal(created.json.error.type, 'mapper_parsing_exception');
        assert.match(created.json.error.reason, /unknown parameter \[index_options\]/);
      } else {
        assert.equal(created.status, 200);
      }
    });

    it('keeps sparse weights to 9 significant bits and refuses sub-normal ones', async () => {
      await call(double, 'PUT', '/docs/_doc/w', { lat: { w: 0.123456789 } });
      const hit = await call(double, 'POST', '/docs/_search', {
        query: { sparse_vector: { field: 'lat', query_vector: { w: 1 }, prune: false } },
      });
      assert.equal(hit.json.hits.hits[0]._score, 0.123291015625, '0x3DFCD6EA with its low 15 bits cleared');
      const tiny = await call(double, 'PUT', '/docs/_doc/tiny', { lat: { w: 1e-39 } });
      assert.equal(tiny.status, 400);
      assert.equal(tiny.json.error.type, 'document_parsing_exception');
      assert.match(tiny.json.error.caused_by.reason, /featureValue must be a positive normal float/);
      await call(double, 'DELETE', '/docs/_doc/w');
    });

    it(`${version === '9.2' ? 'leaves vectors out of' : 'keeps vectors in'} _source; exclude_vectors is ${major >= 9 ? 'honoured' : 'unknown'}`, async () => {
      const hit = (
        await call(double, 'POST', '/docs/_search', { size: 1, query: { ids: { values: ['d0'] } } })
      ).json.hits.hits[0];
      assert.equal('v' in hit._source, version !== '9.2');
      assert.equal('lat' in hit._source, version !== '9.2');
      const doc = (await call(double, 'GET', '/docs/_doc/d0')).json;
      assert.equal('v' in doc._source, version !== '9.2');
      const asked = await call(double, 'POST', '/docs/_search', {
        size: 1,
        query: { ids: { values: ['d0'] } },
        _source: { exclude_vectors: false },
      });
      if (major >= 9) {
        assert.deepEqual(asked.json.hits.hits[0]._source.v, [1, 1]);
        const settings = await call(
          double,
          'GET',
          '/docs/_settings?flat_settings=true&include_defaults=true',
        );
        assert.equal(settings.json.docs.defaults['index.mapping.exclude_source_vectors'], 'true');
      } else {
        assert.equal(asked.status, 400);
        assert.equal(asked.json.error.type, 'parsing_exception');
      }
      const fields = await call(double, 'POST', '/docs/_search', {
        size: 1,
        query: { ids: { values: ['d0'] } },
        fields: ['v', 'genre'],
        _source: false,
      });
      assert.deepEqual(fields.json.hits.hits[0].fields, { v: [1, 1], genre: ['even'] });
    });

    it('takes the wider search keys: post_filter after aggregations, collapse, highlight; refuses unknown keys', async () => {
      const body = {
        query: { bool: { should: [{ match: { text: 'quick fox' } }, { match_all: {} }] } },
        post_filter: { term: { genre: 'odd' } },
        aggs: { genres: { terms: { field: 'genre' } } },
        collapse: { field: 'genre' },
        highlight: { fields: { text: {} } },
        size: 5,
      };
      const r = await call(double, 'POST', '/docs/_search', body);
      assert.equal(r.status, 200);
      assert.equal(r.json.hits.total.value, 6, 'post_filter narrows the hits');
      assert.deepEqual(
        r.json.aggregations.genres.buckets.map((b: any) => b.doc_count),
        [6, 6],
        'but not the aggregations',
      );
      assert.equal(r.json.hits.hits.length, 1, 'collapsed to one hit per genre');
      assert.deepEqual(r.json.hits.hits[0].fields, { genre: ['odd'] });
      assert.deepEqual(r.json.hits.hits[0].highlight, {
        text: ['the <em>quick</em> brown <em>fox</em> jumps over the lazy dog'],
      });
      const unknown = await call(double, 'POST', '/docs/_search', { steer: 'rivers' });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.json.error.type, 'parsing_exception');
      assert.equal(unknown.json.error.reason, 'Unknown key for a VALUE_STRING in [steer].');
    });
  });
}
