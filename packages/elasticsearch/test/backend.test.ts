// Request shapes of the Elasticsearch backend, checked against @elastic/elasticsearch-mock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errors } from '@elastic/elasticsearch';
import type { Client } from '@elastic/elasticsearch';
import type { MockPattern } from '@elastic/elasticsearch-mock';
import { createMockClient } from './mock-client.js';
import type { ClientMockLike } from './mock-client.js';
import { ElasticsearchBackend, ElasticsearchBackendError, openElasticsearchBackend } from '../src/index.js';

const MAPPING = {
  docs: {
    mappings: {
      _meta: { steer: { embeddingModel: 'toy-3d' } },
      properties: {
        text: { type: 'text' },
        genre: { type: 'text', fields: { keyword: { type: 'keyword' } } },
        vector: { type: 'dense_vector', dims: 3, index: true, similarity: 'cosine' },
        steer_latents: { type: 'sparse_vector' },
      },
    },
  },
};

function setup(): {
  mock: ClientMockLike;
  client: Client;
  backend: ElasticsearchBackend;
  seen: MockPattern[];
} {
  const { mock, client } = createMockClient();
  const seen: MockPattern[] = [];
  mock.add({ method: 'GET', path: '/' }, () => ({ version: { number: '8.19.1', build_flavor: 'default' } }));
  mock.add({ method: 'GET', path: '/_license' }, () => ({ license: { type: 'trial', status: 'active' } }));
  mock.add({ method: 'GET', path: '/docs/_mapping' }, () => MAPPING);
  mock.add({ method: 'GET', path: '/docs/_settings' }, () => ({
    docs: { settings: { 'index.number_of_shards': '1' }, defaults: {} },
  }));
  mock.add({ method: ['GET', 'POST'], path: '/docs/_count' }, () => ({ count: 42 }));
  return { mock, client, backend: new ElasticsearchBackend(client, {}), seen };
}

function notFound(index: string): errors.ResponseError {
  return new errors.ResponseError({
    body: { error: { type: 'index_not_found_exception', reason: `no such index [${index}]` }, status: 404 },
    statusCode: 404,
    headers: {},
    warnings: null,
    meta: {} as never,
  });
}

describe('ElasticsearchBackend request shapes (elasticsearch-mock)', () => {
  it('createIndex sends a dense_vector + sparse_vector mapping with Steer _meta', async () => {
    const { mock, backend, seen } = setup();
    mock.add({ method: 'HEAD', path: '/fresh' }, () => notFound('fresh'));
    mock.add({ method: 'PUT', path: '/fresh' }, (params) => {
      seen.push(params);
      return { acknowledged: true, index: 'fresh' };
    });
    const info = await backend.createIndex('fresh', {
      dims: 4,
      similarity: 'dot_product',
      embeddingModel: 'm',
    });
    assert.deepEqual(info, {
      name: 'fresh',
      dims: 4,
      similarity: 'dot_product',
      embeddingModel: 'm',
      count: 0,
    });
    const mappings = (seen[0]!.body as { mappings: Record<string, unknown> }).mappings as {
      _meta: unknown;
      properties: Record<string, unknown>;
    };
    assert.deepEqual(mappings._meta, { steer: { embeddingModel: 'm', dims: 4, similarity: 'dot_product' } });
    assert.deepEqual(mappings.properties.vector, {
      type: 'dense_vector',
      dims: 4,
      index: true,
      similarity: 'dot_product',
    });
    assert.deepEqual(mappings.properties.steer_latents, { type: 'sparse_vector' });
    assert.deepEqual(mappings.properties.text, { type: 'text' });

    const { mock: mock2, client } = createMockClient();
    let sent: { mappings: { properties: { vector: unknown } } } | undefined;
    mock2.add({ method: 'HEAD', path: '/exact' }, () => notFound('exact'));
    mock2.add({ method: 'PUT', path: '/exact' }, (params) => {
      sent = params.body as typeof sent;
      return { acknowledged: true };
    });
    await new ElasticsearchBackend(client, { denseIndexOptions: { type: 'hnsw' } }).createIndex('exact', {
      dims: 2,
      similarity: 'l2_norm',
    });
    assert.deepEqual(sent!.mappings.properties.vector, {
      type: 'dense_vector',
      dims: 2,
      index: true,
      similarity: 'l2_norm',
      index_options: { type: 'hnsw' },
    });
  });

  it('createIndex refuses an existing index unless overwrite', async () => {
    const { mock, backend } = setup();
    mock.add({ method: 'HEAD', path: '/docs' }, () => '');
    await assert.rejects(
      backend.createIndex('docs', { dims: 3, similarity: 'cosine' }),
      (e: unknown) =>
        e instanceof ElasticsearchBackendError && e.code === 'index_exists' && /--overwrite/.test(e.message),
    );
  });

  it('describeIndex reads dims, similarity and model from _mapping and the count from _count', async () => {
    const { backend } = setup();
    assert.deepEqual(await backend.describeIndex('docs'), {
      name: 'docs',
      dims: 3,
      similarity: 'cosine',
      embeddingModel: 'toy-3d',
      count: 42,
    });
  });

  it('refuses an index whose dims do not match the SAE embedding model', async () => {
    const { backend } = setup();
    await assert.rejects(
      backend.assertCompatible('docs', { dims: 384, embeddingModel: 'bge-small' }),
      (e: unknown) =>
        e instanceof ElasticsearchBackendError &&
        e.code === 'dims_mismatch' &&
        /holds 3-d vectors .* \(bge-small\) gives 384-d/.test(e.message),
    );
    await assert.rejects(
      backend.assertCompatible('docs', { dims: 3, embeddingModel: 'other' }),
      /built with toy-3d but the SAE expects other/,
    );
    await assert.rejects(
      backend.knnSearch('docs', { vector: new Float32Array(384), k: 1 }),
      /holds 3-d vectors but the query vector has 384 dims/,
    );
  });

  it('knnSearch sends knn with k, num_candidates and the compiled filter (text field -> .keyword), and maps hits', async () => {
    const { mock, backend, seen } = setup();
    mock.add({ method: 'POST', path: '/docs/_search' }, (params) => {
      seen.push(params);
      return {
        hits: {
          total: { value: 1, relation: 'eq' },
          hits: [
            { _index: 'docs', _id: 'a', _score: 0.9, _source: { text: 'hello', genre: 'Drama', year: 2001 } },
          ],
        },
      };
    });
    const hits = await backend.knnSearch('docs', {
      vector: Float32Array.from([1, 0, 0]),
      k: 2,
      numCandidates: 20,
      filter: {
        op: 'and',
        filters: [
          { op: 'eq', field: 'genre', value: 'Drama' },
          { op: 'range', field: 'year', gte: 2000 },
        ],
      },
    });
    assert.deepEqual(hits, [
      {
        id: 'a',
        score: 0.9,
        text: 'hello',
        metadata: { genre: 'Drama', year: 2001 },
        source: { text: 'hello', genre: 'Drama', year: 2001 },
      },
    ]);
    assert.deepEqual(seen[0]!.body, {
      knn: {
        field: 'vector',
        k: 2,
        num_candidates: 20,
        query_vector: [1, 0, 0],
        filter: [
          { bool: { filter: [{ term: { 'genre.keyword': 'Drama' } }, { range: { year: { gte: 2000 } } }] } },
        ],
      },
      size: 2,
      _source: { excludes: ['vector', 'steer_latents'] },
    });
  });

  it('search: cluster-side query embedding, raw DSL filter, similarity and _source filtering', async () => {
    const { mock, client, seen } = setup();
    const backend = new ElasticsearchBackend(client, { queryModelId: 'e5-small' });
    mock.add({ method: 'POST', path: '/docs/_search' }, (params) => {
      seen.push(params);
      return { hits: { hits: [] } };
    });
    await backend.search('docs', {
      text: 'rivers',
      k: 3,
      rawFilter: { exists: { field: 'genre' } },
      similarity: 0.5,
      source: ['text'],
    });
    assert.deepEqual(seen[0]!.body, {
      knn: {
        field: 'vector',
        k: 3,
        num_candidates: 100,
        query_vector_builder: { text_embedding: { model_id: 'e5-small', model_text: 'rivers' } },
        filter: [{ exists: { field: 'genre' } }],
        similarity: 0.5,
      },
      size: 3,
      _source: ['text'],
    });
  });

  it('sparse search with explain fetches the latent field, explains hits, and hides the field again', async () => {
    const { mock, backend, seen } = setup();
    mock.add({ method: 'POST', path: '/docs/_search' }, (params) => {
      seen.push(params);
      return {
        hits: {
          hits: [{ _id: 'd', _score: 1.1, _source: { text: 't', steer_latents: { f2: 1, f5: 0.5 } } }],
        },
      };
    });
    const hits = await backend.search('docs', {
      mode: 'sparse',
      latents: { indices: [2, 5, 8], values: [0.8, 0.6, 0.4] },
      k: 1,
      explain: 2,
    });
    const body = seen[0]!.body as Record<string, unknown>;
    assert.deepEqual(body.query, {
      bool: {
        must: [
          {
            sparse_vector: {
              field: 'steer_latents',
              query_vector: { f2: 0.8, f5: 0.6, f8: 0.4 },
              prune: false,
            },
          },
        ],
      },
    });
    assert.deepEqual(body._source, { excludes: ['vector'] });
    assert.deepEqual(hits[0]!.source, { text: 't' });
    assert.deepEqual(
      hits[0]!.features!.map((f) => [f.feature, f.contribution]),
      [
        [2, 0.8],
        [5, 0.3],
      ],
    );
  });

  it('maps index_not_found_exception to SearchError index_not_found and a dead cluster to es_unreachable', async () => {
    const { mock, backend } = setup();
    mock.add({ method: 'GET', path: '/missing/_mapping' }, () => notFound('missing'));
    await assert.rejects(
      backend.describeIndex('missing'),
      (e: unknown) =>
        e instanceof ElasticsearchBackendError &&
        e.code === 'index_not_found' &&
        /index 'missing' does not exist/.test(e.message),
    );
    const dead = createMockClient({ maxRetries: 0 });
    dead.mock.add(
      { method: 'GET', path: '/down/_mapping' },
      () => new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9200'),
    );
    await assert.rejects(
      new ElasticsearchBackend(dead.client).describeIndex('down'),
      (e: unknown) =>
        e instanceof ElasticsearchBackendError &&
        e.esCode === 'es_unreachable' &&
        /ECONNREFUSED/.test(e.message),
    );
  });

  it('addDocuments bulk-indexes text, vector and metadata, and refuses wrong dims before sending them', async () => {
    const { mock, backend, seen } = setup();
    mock.add({ method: 'POST', path: '/_bulk' }, (params) => {
      seen.push(params);
      const lines = params.body as Array<Record<string, { _id: string }>>;
      const items = lines
        .filter((_, i) => i % 2 === 0)
        .map((a) => ({ index: { _id: a.index!._id, status: 201, result: 'created' } }));
      return { errors: false, items };
    });
    mock.add({ method: ['GET', 'POST'], path: '/docs/_refresh' }, () => ({ _shards: {} }));
    const progress: number[] = [];
    const result = await backend.addDocuments(
      'docs',
      [
        { id: 'a', text: 'alpha', vector: Float32Array.from([1, 0, 0]), metadata: { year: 2001 } },
        { id: 'b', text: 'beta', vector: Float32Array.from([0, 1, 0]) },
      ],
      { total: 2, onProgress: (p) => progress.push(p.done) },
    );
    assert.deepEqual(result, { added: 2 });
    assert.deepEqual(progress, [1, 2]);
    assert.deepEqual(seen[0]!.body, [
      { index: { _index: 'docs', _id: 'a' } },
      { text: 'alpha', vector: [1, 0, 0], year: 2001 },
      { index: { _index: 'docs', _id: 'b' } },
      { text: 'beta', vector: [0, 1, 0] },
    ]);
    await assert.rejects(
      backend.addDocuments('docs', [{ id: 'c', text: 'x', vector: new Float32Array(5) }]),
      /document 'c' has a 5-d vector but index 'docs' field 'vector' holds 3-d vectors/,
    );
  });

  it('opens from config + environment without reaching the cluster', async () => {
    const backend = await openElasticsearchBackend({ url: 'http://127.0.0.1:1' }, { env: {} });
    assert.equal(backend.kind, 'elasticsearch');
    await backend.close();
    await assert.rejects(openElasticsearchBackend({}, { env: {} }), /no cluster configured/);
  });
});
