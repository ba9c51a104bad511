import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFilterToSql, SearchError, type Filter } from '../../src/index.js';

const isInvalidFilter = (e: unknown) => e instanceof SearchError && e.code === 'invalid_filter';

test('leaves compile to null-safe comparisons on metadata columns', () => {
  assert.equal(
    compileFilterToSql({ op: 'eq', field: 'lang', value: 'en' }),
    "(`meta_lang` IS NOT NULL AND `meta_lang` = 'en')",
  );
  assert.equal(
    compileFilterToSql({ op: 'eq', field: 'ok', value: true }),
    '(`meta_ok` IS NOT NULL AND `meta_ok` = 1)',
  );
  assert.equal(
    compileFilterToSql({ op: 'in', field: 'year', values: [2020, 2021] }),
    '(`meta_year` IS NOT NULL AND `meta_year` IN (2020, 2021))',
  );
  assert.equal(
    compileFilterToSql({ op: 'range', field: 'year', gte: 2000, lt: -1.5 }),
    '(`meta_year` IS NOT NULL AND `meta_year` >= 2000 AND `meta_year` < -1.5)',
  );
});

test('and/or/not nest with parentheses; empty and/or/in are TRUE/FALSE/FALSE', () => {
  const filter: Filter = {
    op: 'and',
    filters: [
      {
        op: 'or',
        filters: [
          { op: 'eq', field: 'a', value: 1 },
          { op: 'eq', field: 'b', value: 2 },
        ],
      },
      { op: 'not', filter: { op: 'eq', field: 'c', value: 'x' } },
    ],
  };
  assert.equal(
    compileFilterToSql(filter),
    "(((`meta_a` IS NOT NULL AND `meta_a` = 1) OR (`meta_b` IS NOT NULL AND `meta_b` = 2)) AND (NOT (`meta_c` IS NOT NULL AND `meta_c` = 'x')))",
  );
  assert.equal(compileFilterToSql({ op: 'and', filters: [] }), 'TRUE');
  assert.equal(compileFilterToSql({ op: 'or', filters: [] }), 'FALSE');
  assert.equal(compileFilterToSql({ op: 'in', field: 'a', values: [] }), 'FALSE');
});

test('string values cannot break out of their literal and keys cannot break out of their identifier', () => {
  const sql = compileFilterToSql({ op: 'eq', field: 'a` = 1 OR `b', value: "x' OR '1'='1" });
  assert.equal(
    sql,
    "(`meta_a_60_20_3d_201_20OR_20_60b` IS NOT NULL AND `meta_a_60_20_3d_201_20OR_20_60b` = 'x'' OR ''1''=''1')",
  );
  const inSql = compileFilterToSql({ op: 'in', field: 'k', values: ["'); DROP TABLE docs; --"] });
  assert.equal(inSql, "(`meta_k` IS NOT NULL AND `meta_k` IN ('''); DROP TABLE docs; --'))");
});

test('with known fields: unknown keys match nothing and wrong value types are rejected', () => {
  const fields = new Map([
    ['lang', 'string' as const],
    ['year', 'number' as const],
  ]);
  assert.equal(compileFilterToSql({ op: 'eq', field: 'missing', value: 'x' }, fields), 'FALSE');
  assert.equal(
    compileFilterToSql({ op: 'not', filter: { op: 'range', field: 'missing', gt: 1 } }, fields),
    '(NOT FALSE)',
  );
  assert.throws(
    () => compileFilterToSql({ op: 'eq', field: 'year', value: '2020' }, fields),
    isInvalidFilter,
  );
  assert.throws(
    () => compileFilterToSql({ op: 'in', field: 'lang', values: ['en', 3] }, fields),
    isInvalidFilter,
  );
  assert.throws(() => compileFilterToSql({ op: 'range', field: 'lang', gt: 1 }, fields), isInvalidFilter);
});

test('malformed filters are rejected with the path of the bad node', () => {
  assert.throws(
    () => compileFilterToSql({ op: 'range', field: 'y' }),
    /filter: 'range' on 'y' needs at least one/,
  );
  assert.throws(() => compileFilterToSql({ op: 'eq', field: 'y', value: Number.NaN }), isInvalidFilter);
  assert.throws(() => compileFilterToSql({ op: 'eq', field: '', value: 1 }), isInvalidFilter);
  assert.throws(
    () => compileFilterToSql({ op: 'and', filters: [{ op: 'like', field: 'x' } as unknown as Filter] }),
    /filter\.filters\[0\]: unknown op "like"/,
  );
  assert.throws(
    () => compileFilterToSql({ op: 'eq', field: 'x', value: { a: 1 } } as unknown as Filter),
    isInvalidFilter,
  );
});
