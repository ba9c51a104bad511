// Parsing the steer clause and rewriting a search body into knn / sparse_vector / rrf.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BridgeHttpError, parseSteerClause, rewriteSearchBody, steerSyntaxError } from '../src/index.js';
import type { SteeredQuery } from '../src/index.js';

const steered: SteeredQuery = {
  vector: Float32Array.from([0.6, 0.8]),
  latents: { indices: [1, 0], values: [0.8, 0.6] },
  k: 3,
  numCandidates: 30,
  mode: 'dense',
  filter: { op: 'eq', field: 'genre', value: 'drama' },
  diagnostics: [],
};
const fields = { vectorField: 'emb', latentField: 'steer_latents' };

describe('parseSteerClause', () => {
  it('takes a query string or an object with query, field, k, num_candidates, mode', () => {
    assert.deepEqual(parseSteerClause('"rivers" +f3'), { query: '"rivers" +f3' });
    assert.deepEqual(
      parseSteerClause({ query: '"x"', field: 'emb', k: 5, num_candidates: 50, mode: 'hybrid' }),
      {
        query: '"x"',
        field: 'emb',
        k: 5,
        numCandidates: 50,
        mode: 'hybrid',
      },
    );
  });

  for (const [value, message] of [
    [42, /must be a steer query string or an object/],
    ['  ', /the steer query is empty/],
    [{ query: '"x"', kk: 1 }, /unknown key \[kk\]/],
    [{ query: '' }, /\[query\] must be a non-empty/],
    [{ query: '"x"', k: 0 }, /\[k\] must be an integer from 1 to 10000/],
    [{ query: '"x"', k: 10, num_candidates: 5 }, /cannot be less than \[k\]/],
    [{ query: '"x"', mode: 'fast' }, /\[mode\] must be dense, sparse or hybrid/],
  ] as const) {
    it(`answers 400 for ${JSON.stringify(value)}`, () => {
      assert.throws(
        () => parseSteerClause(value),
        (e: unknown) => e instanceof BridgeHttpError && e.status === 400 && message.test(e.message),
      );
    });
  }
});

describe('rewriteSearchBody', () => {
  it('dense: knn from the steered vector; keeps _source, size, aggs; user query + steer filter become knn filters', () => {
    const body = {
      steer: '"x"',
      _source: ['title'],
      size: 2,
      aggs: { g: { terms: { field: 'genre' } } },
      query: { range: { year: { gte: 2000 } } },
    };
    const out = rewriteSearchBody(body, { query: '"x"' }, steered, fields);
    assert.deepEqual(out, {
      _source: ['title'],
      size: 2,
      aggs: { g: { terms: { field: 'genre' } } },
      knn: {
        field: 'emb',
        k: 3,
        num_candidates: 30,
        query_vector: [Float32Array.from([0.6])[0], Float32Array.from([0.8])[0]],
        filter: [{ term: { genre: 'drama' } }, { range: { year: { gte: 2000 } } }],
      },
    });
  });

  it('sparse and hybrid modes (clause mode overrides the query mode)', () => {
    const sparse = rewriteSearchBody(
      { steer: 'q' },
      { query: 'q', mode: 'sparse' },
      { ...steered, filter: undefined },
      fields,
    );
    assert.deepEqual(sparse.query, {
      bool: {
        must: [
          { sparse_vector: { field: 'steer_latents', query_vector: { f1: 0.8, f0: 0.6 }, prune: false } },
        ],
      },
    });
    assert.equal(sparse.size, 3);
    const hybrid = rewriteSearchBody(
      { steer: 'q', size: 5 },
      { query: 'q' },
      { ...steered, mode: 'hybrid' },
      fields,
    ) as { retriever: { rrf: { retrievers: unknown[]; rank_window_size: number } }; size: number };
    assert.equal(hybrid.retriever.rrf.retrievers.length, 2);
    assert.equal(hybrid.retriever.rrf.rank_window_size, 5);
    assert.equal(hybrid.size, 5);
  });

  it('refuses steer next to knn or retriever', () => {
    assert.throws(
      () => rewriteSearchBody({ steer: 'q', knn: {} }, { query: 'q' }, steered, fields),
      /cannot be combined with \[knn\]/,
    );
    assert.throws(
      () => rewriteSearchBody({ steer: 'q', retriever: {} }, { query: 'q' }, steered, fields),
      /cannot be combined with \[retriever\]/,
    );
  });
});

describe('steerSyntaxError', () => {
  it('is a 400 parsing_exception with 1-based line/col, the LSP range and one root cause per diagnostic', () => {
    const range = { start: { line: 1, character: 4 }, end: { line: 1, character: 9 } };
    const error = steerSyntaxError('bad', [
      { code: 'unexpected-token', message: "unexpected ')'", range, severity: 'error' },
      { code: 'other', message: 'later', range, severity: 'error' },
    ]);
    assert.equal(error.status, 400);
    assert.equal(error.type, 'parsing_exception');
    assert.equal(error.message, "[steer] [2:5] steer unexpected-token: unexpected ')' (and 1 more)");
    assert.deepEqual([error.extra.line, error.extra.col], [2, 5]);
    assert.deepEqual(error.extra.range, range);
    assert.equal(error.rootCauses!.length, 2);
  });
});
