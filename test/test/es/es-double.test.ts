// The Elasticsearch TEST DOUBLE itself: the REST behaviours the backend and bridge tests rely on.
/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read parsed JSON answers loosely */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startEsDouble } from '../../src/index.js';
import type { EsDouble } from '../../src/index.js';

async function call(
  double: EsDouble,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const response = await fetch(double.url + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text ? (JSON.parse(text) as Record<string, any>) : undefined,
  };
}

describe('Elasticsearch TEST DOUBLE', () => {
  let double: EsDouble;
  before(async () => {
    double = await startEsDouble({ licence: 'trial' });
    await call(double, 'PUT', '/films', {
      mappings: {
        properties: {
          v: { type: 'dense_vector', dims: 2, similarity: 'dot_product' },
          lat: { type: 'sparse_vector' },
          genre: { type: 'keyword' },
          year: { type: 'integer' },
        },
      },
    });
    const ndjson =
      [
        { index: { _index: 'films', _id: '1' } },
        { v: [1, 0], genre: 'drama', year: 1990, lat: { f1: 1 } },
        { index: { _id: '2' } },
        { v: [0, 1], genre: 'comedy', year: 2000, lat: { f1: 0.5, f2: 2 } },
        { create: { _id: '3' } },
        { v: [0.6, 0.8], genre: 'drama', year: 2010 },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n') + '\n';
    const bulk = await call(double, 'POST', '/films/_bulk', ndjson);
    assert.equal(bulk.json!.errors, false);
  });
  after(() => double.close());

  it('answers every response, errors and 404s included, with x-elastic-product: Elasticsearch', async () => {
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/nope/_mapping'],
      ['GET', '/films/_doc/404'],
      ['PATCH', '/films'],
    ] as const) {
      const r = await call(double, method, path);
      assert.equal(r.headers.get('x-elastic-product'), 'Elasticsearch', `${method} ${path}`);
    }
    const missing = await call(double, 'GET', '/nope/_mapping');
    assert.equal(missing.status, 404);
    assert.equal(missing.json!.error.type, 'index_not_found_exception');
    assert.equal(missing.json!.error.root_cause[0].type, 'index_not_found_exception');
  });

  it('_doc GET, _count and _mapping', async () => {
    const doc = await call(double, 'GET', '/films/_doc/2');
    assert.deepEqual(doc.json!._source, { v: [0, 1], genre: 'comedy', year: 2000, lat: { f1: 0.5, f2: 2 } });
    assert.equal((await call(double, 'GET', '/films/_count')).json!.count, 3);
    assert.equal((await call(double, 'GET', '/films/_mapping')).json!.films.mappings.properties.v.dims, 2);
  });

  it('_bulk reports per-item errors: wrong dims, non-unit dot_product vectors, non-positive sparse weights', async () => {
    const lines =
      [
        { index: { _index: 'films', _id: 'x' } },
        { v: [1, 0, 0] },
        { index: { _index: 'films', _id: 'y' } },
        { v: [2, 0] },
        { index: { _index: 'films', _id: 'z' } },
        { v: [1, 0], lat: { f1: -1 } },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n') + '\n';
    const r = await call(double, 'POST', '/_bulk', lines);
    assert.equal(r.json!.errors, true);
    assert.deepEqual(
      r.json!.items.map((i: any) => i.index.status),
      [400, 400, 400],
    );
    assert.match(r.json!.items[1].index.error.reason, /unit-length/);
    assert.equal((await call(double, 'POST', '/films/_bulk', '{"index":\n')).status, 400);
  });

  it('kNN: exact dot_product scores (1+dot)/2, k, num_candidates >= k, filters', async () => {
    const r = await call(double, 'POST', '/films/_search', {
      knn: { field: 'v', query_vector: [1, 0], k: 2, num_candidates: 10 },
    });
    assert.deepEqual(
      r.json!.hits.hits.map((h: any) => [h._id, h._score]),
      [
        ['1', 1],
        ['3', 0.8],
      ],
    );
    const bad = await call(double, 'POST', '/films/_search', {
      knn: { field: 'v', query_vector: [1, 0], k: 5, num_candidates: 2 },
    });
    assert.equal(bad.status, 400);
    const filtered = await call(double, 'POST', '/films/_search', {
      knn: {
        field: 'v',
        query_vector: [1, 0],
        k: 3,
        num_candidates: 10,
        filter: { bool: { filter: [{ term: { genre: 'drama' } }, { range: { year: { gt: 2000 } } }] } },
      },
    });
    assert.deepEqual(
      filtered.json!.hits.hits.map((h: any) => h._id),
      ['3'],
    );
  });

  it('sparse_vector query, rrf retriever, terms aggregations and _source filtering', async () => {
    const sparse = await call(double, 'POST', '/films/_search', {
      query: { sparse_vector: { field: 'lat', query_vector: { f1: 1, f2: 1 } } },
      _source: ['genre'],
    });
    assert.deepEqual(
      sparse.json!.hits.hits.map((h: any) => [h._id, h._score, h._source]),
      [
        ['2', 2.5, { genre: 'comedy' }],
        ['1', 1, { genre: 'drama' }],
      ],
    );
    const rrf = await call(double, 'POST', '/films/_search', {
      retriever: {
        rrf: {
          retrievers: [
            { knn: { field: 'v', query_vector: [1, 0], k: 3, num_candidates: 10 } },
            { standard: { query: { sparse_vector: { field: 'lat', query_vector: { f2: 1 } } } } },
          ],
          rank_window_size: 3,
        },
      },
      size: 3,
      aggs: { genres: { terms: { field: 'genre' } } },
    });
    assert.deepEqual(
      rrf.json!.hits.hits.map((h: any) => h._id),
      ['2', '1', '3'],
    );
    // Elasticsearch sums 1.0f / (60 + rank) in float32.
    assert.equal(rrf.json!.hits.hits[0]._score, Math.fround(Math.fround(1 / 61) + Math.fround(1 / 63)));
    assert.deepEqual(rrf.json!.aggregations.genres.buckets, [
      { key: 'drama', doc_count: 2 },
      { key: 'comedy', doc_count: 1 },
    ]);
  });

  it('rejects unknown search keys and malformed JSON like Elasticsearch (400 parsing errors)', async () => {
    assert.equal(
      (await call(double, 'POST', '/films/_search', { steer: 'x' })).json!.error.type,
      'parsing_exception',
    );
    assert.equal(
      (await call(double, 'POST', '/films/_search', '{oops')).json!.error.type,
      'x_content_parse_exception',
    );
  });

  it('requires the configured authorization and answers 401 security_exception otherwise', async () => {
    const secured = await startEsDouble({ requireAuthorization: 'ApiKey abc' });
    try {
      const denied = await call(secured, 'GET', '/');
      assert.equal(denied.status, 401);
      assert.equal(denied.json!.error.type, 'security_exception');
      assert.equal((await call(secured, 'GET', '/', undefined, { authorization: 'ApiKey abc' })).status, 200);
    } finally {
      await secured.close();
    }
  });
});
