import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metadataColumnName } from '../../src/index.js';
import { metadataKeyOfColumn } from '../../src/lance/columns.js';

test('metadata column names are SQL-safe and distinct for distinct keys', () => {
  const keys = [
    'lang',
    'Lang',
    'source_url',
    'source-url',
    'source url',
    'année',
    "x'; DROP TABLE t; --",
    '_5f',
    '`',
  ];
  const columns = keys.map(metadataColumnName);
  assert.equal(new Set(columns).size, keys.length);
  for (const column of columns) assert.match(column, /^meta_[A-Za-z0-9_]+$/);
  assert.equal(metadataColumnName('source_url'), 'meta_source_5furl');
  for (const key of keys) assert.equal(metadataKeyOfColumn(metadataColumnName(key)), key);
  assert.equal(metadataKeyOfColumn('vector'), undefined);
});
