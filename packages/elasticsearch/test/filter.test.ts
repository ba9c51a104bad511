// Filter -> Elasticsearch query DSL.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, ElasticsearchBackendError } from '../src/index.js';

describe('compileFilter', () => {
  it('compiles leaves to term, terms and range', () => {
    assert.deepEqual(compileFilter({ op: 'eq', field: 'lang', value: 'en' }), { term: { lang: 'en' } });
    assert.deepEqual(compileFilter({ op: 'in', field: 'year', values: [2020, 2021] }), {
      terms: { year: [2020, 2021] },
    });
    assert.deepEqual(compileFilter({ op: 'range', field: 'year', gte: 2000, lt: 2010 }), {
      range: { year: { gte: 2000, lt: 2010 } },
    });
  });

  it('compiles and/or/not to bool filter/should/must_not', () => {
    const compiled = compileFilter({
      op: 'and',
      filters: [
        {
          op: 'or',
          filters: [
            { op: 'eq', field: 'a', value: 1 },
            { op: 'eq', field: 'b', value: true },
          ],
        },
        { op: 'not', filter: { op: 'eq', field: 'c', value: 'x' } },
      ],
    });
    assert.deepEqual(compiled, {
      bool: {
        filter: [
          { bool: { should: [{ term: { a: 1 } }, { term: { b: true } }], minimum_should_match: 1 } },
          { bool: { must_not: [{ term: { c: 'x' } }] } },
        ],
      },
    });
    assert.deepEqual(compileFilter({ op: 'and', filters: [] }), { match_all: {} });
    assert.deepEqual(compileFilter({ op: 'or', filters: [] }), { match_none: {} });
  });

  it('maps term fields through termField (text field -> keyword sub-field) but not range fields', () => {
    const termField = (f: string) => (f === 'genre' ? 'genre.keyword' : f);
    assert.deepEqual(compileFilter({ op: 'eq', field: 'genre', value: 'Drama' }, { termField }), {
      term: { 'genre.keyword': 'Drama' },
    });
    assert.deepEqual(compileFilter({ op: 'range', field: 'genre', gt: 1 }, { termField }), {
      range: { genre: { gt: 1 } },
    });
  });

  it('refuses a range without bounds and an empty field name', () => {
    assert.throws(
      () => compileFilter({ op: 'range', field: 'year' }),
      (e: unknown) =>
        e instanceof ElasticsearchBackendError && e.code === 'invalid_filter' && /no bound/.test(e.message),
    );
    assert.throws(() => compileFilter({ op: 'eq', field: ' ', value: 1 }), /needs a field name/);
  });
});
