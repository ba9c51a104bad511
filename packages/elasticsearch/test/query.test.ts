// Search bodies for dense, sparse and hybrid (RRF) modes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildSearchBody } from '../src/index.js';

const latents = { indices: [4, 7, 9], values: [0.8, 0.2, 0] };
const filter = [{ term: { lang: 'en' } }];

describe('buildSearchBody', () => {
  it('dense: a knn clause with k, num_candidates, filter and similarity', () => {
    const body = buildSearchBody({
      vectorField: 'vec',
      query: { vector: [0.6, 0.8] },
      k: 5,
      numCandidates: 50,
      filter,
      similarity: 0.3,
    });
    assert.deepEqual(body, {
      knn: { field: 'vec', k: 5, num_candidates: 50, query_vector: [0.6, 0.8], filter, similarity: 0.3 },
      size: 5,
    });
    assert.equal(
      buildSearchBody({ vectorField: 'vec', query: { vector: [1] }, k: 20 }).knn?.num_candidates,
      200,
    );
  });

  it('caps num_candidates at 10,000 (k = 2000 asks 20,000 by default) and refuses k above it', () => {
    const body = buildSearchBody({ vectorField: 'vec', query: { vector: [1] }, k: 2000 });
    assert.equal(body.knn?.num_candidates, 10_000);
    assert.equal(
      buildSearchBody({ vectorField: 'vec', query: { vector: [1] }, k: 5, numCandidates: 50_000 }).knn
        ?.num_candidates,
      10_000,
    );
    assert.throws(
      () => buildSearchBody({ vectorField: 'vec', query: { vector: [1] }, k: 10_001 }),
      /above Elasticsearch's limit of 10000/,
    );
  });

  it('dense with a deployed model: query_vector_builder.text_embedding', () => {
    const body = buildSearchBody({ vectorField: 'vec', query: { text: 'rivers', modelId: 'e5' }, k: 3 });
    assert.deepEqual(body.knn?.query_vector_builder, {
      text_embedding: { model_id: 'e5', model_text: 'rivers' },
    });
    assert.equal(body.knn?.query_vector, undefined);
  });

  it('sparse: a sparse_vector query over positive latents with filters in filter context', () => {
    const body = buildSearchBody({ mode: 'sparse', latentField: 'lat', latents, k: 4, filter });
    assert.deepEqual(body, {
      query: {
        bool: {
          must: [{ sparse_vector: { field: 'lat', query_vector: { f4: 0.8, f7: 0.2 }, prune: false } }],
          filter,
        },
      },
      size: 4,
    });
  });

  it('hybrid: an rrf retriever over a knn retriever and a standard sparse retriever', () => {
    const body = buildSearchBody({
      mode: 'hybrid',
      vectorField: 'vec',
      latentField: 'lat',
      query: { vector: [1, 0] },
      latents,
      k: 3,
      numCandidates: 30,
      filter,
      rankConstant: 20,
    });
    assert.deepEqual(body, {
      retriever: {
        rrf: {
          retrievers: [
            { knn: { field: 'vec', k: 3, num_candidates: 30, query_vector: [1, 0], filter } },
            {
              standard: {
                query: { sparse_vector: { field: 'lat', query_vector: { f4: 0.8, f7: 0.2 }, prune: false } },
                filter,
              },
            },
          ],
          rank_window_size: 3,
          rank_constant: 20,
        },
      },
      size: 3,
    });
  });

  it('refuses bad k, num_candidates below k, missing inputs and all-zero latents', () => {
    assert.throws(
      () => buildSearchBody({ vectorField: 'v', query: { vector: [1] }, k: 0 }),
      /k must be a positive integer/,
    );
    assert.throws(
      () => buildSearchBody({ vectorField: 'v', query: { vector: [1] }, k: 10, numCandidates: 5 }),
      /no smaller than k/,
    );
    assert.throws(() => buildSearchBody({ vectorField: 'v', k: 1 }), /needs a query vector/);
    assert.throws(
      () => buildSearchBody({ mode: 'sparse', latentField: 'l', k: 1 }),
      /needs the query latents/,
    );
    assert.throws(
      () =>
        buildSearchBody({ mode: 'sparse', latentField: 'l', latents: { indices: [1], values: [0] }, k: 1 }),
      /no positive latent activation/,
    );
    assert.throws(
      () => buildSearchBody({ vectorField: 'v', query: { vector: [1] }, k: 20_000 }),
      /above Elasticsearch's limit of 10000/,
    );
  });
});
