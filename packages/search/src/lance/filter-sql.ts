// Compiles the backend-neutral Filter to a LanceDB (DataFusion SQL) `where` predicate over metadata columns.

import type { Filter } from '../backend.js';
import { SearchError } from '../errors.js';
import { metadataColumnName, type MetadataFieldType } from './columns.js';

/**
 * Compiles `filter` to a SQL predicate on the per-key metadata columns (see `columns.ts`).
 * Strings are single-quoted with quotes doubled, so values cannot break out of their literal.
 * Leaves never evaluate to NULL (a document without the key does not match `eq`/`in`/`range`), so
 * `not` keeps documents that lack the key, as Elasticsearch's `must_not` does.
 *
 * With `fields` (the index's metadata keys and their types), a leaf on a key the index has never
 * seen compiles to `FALSE` (matches nothing, like a term query on an unmapped field), and a value of
 * the wrong type is rejected. Without `fields` every key is assumed to exist.
 * @throws SearchError `invalid_filter` naming the offending node and the fix.
 */
export function compileFilterToSql(filter: Filter, fields?: ReadonlyMap<string, MetadataFieldType>): string {
  return compileNode(filter, fields, 'filter');
}

function compileNode(
  node: Filter,
  fields: ReadonlyMap<string, MetadataFieldType> | undefined,
  path: string,
): string {
  if (node === null || typeof node !== 'object') {
    throw invalid(path, `expected a filter object but found ${JSON.stringify(node)}`);
  }
  switch (node.op) {
    case 'and':
    case 'or': {
      if (!Array.isArray(node.filters)) throw invalid(path, `'${node.op}' needs a 'filters' array`);
      if (node.filters.length === 0) return node.op === 'and' ? 'TRUE' : 'FALSE';
      const parts = node.filters.map((child, i) => compileNode(child, fields, `${path}.filters[${i}]`));
      return `(${parts.join(node.op === 'and' ? ' AND ' : ' OR ')})`;
    }
    case 'not':
      return `(NOT ${compileNode(node.filter, fields, `${path}.filter`)})`;
    case 'eq': {
      const column = leafColumn(node.field, fields, path);
      const value = literal(node.value, fields?.get(node.field), path);
      if (column === undefined) return 'FALSE';
      return `(${column} IS NOT NULL AND ${column} = ${value})`;
    }
    case 'in': {
      if (!Array.isArray(node.values)) throw invalid(path, `'in' needs a 'values' array`);
      const column = leafColumn(node.field, fields, path);
      const type = fields?.get(node.field);
      const literals = node.values.map((value, i) => literal(value, type, `${path}.values[${i}]`));
      if (column === undefined || literals.length === 0) return 'FALSE';
      return `(${column} IS NOT NULL AND ${column} IN (${literals.join(', ')}))`;
    }
    case 'range': {
      const bounds = (['gt', 'gte', 'lt', 'lte'] as const).filter((b) => node[b] !== undefined);
      if (bounds.length === 0)
        throw invalid(path, `'range' on '${node.field}' needs at least one of gt, gte, lt, lte`);
      const column = leafColumn(node.field, fields, path);
      const type = fields?.get(node.field);
      if (type !== undefined && type !== 'number') {
        throw invalid(
          path,
          `'range' needs a number field but '${node.field}' holds ${type} values; use 'eq' or 'in'`,
        );
      }
      const operators = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
      const parts = bounds.map((b) => {
        const value = node[b];
        if (typeof value !== 'number') throw invalid(path, `'range' bound '${b}' must be a number`);
        return `${column ?? ''} ${operators[b]} ${literal(value, 'number', `${path}.${b}`)}`;
      });
      if (column === undefined) return 'FALSE';
      return `(${column} IS NOT NULL AND ${parts.join(' AND ')})`;
    }
    default:
      throw invalid(
        path,
        `unknown op ${JSON.stringify((node as { op?: unknown }).op)}; use eq, in, range, and, or or not`,
      );
  }
}

/** The quoted column of a leaf's field, or undefined when `fields` is known and lacks it. */
function leafColumn(
  field: unknown,
  fields: ReadonlyMap<string, MetadataFieldType> | undefined,
  path: string,
): string | undefined {
  if (typeof field !== 'string' || field.length === 0) {
    throw invalid(path, `'field' must be a non-empty metadata key but found ${JSON.stringify(field)}`);
  }
  if (fields !== undefined && !fields.has(field)) return undefined;
  return `\`${metadataColumnName(field)}\``;
}

function literal(value: unknown, type: MetadataFieldType | undefined, path: string): string {
  const actual = typeof value;
  if (actual !== 'string' && actual !== 'number' && actual !== 'boolean') {
    throw invalid(path, `value ${JSON.stringify(value)} must be a string, number or boolean`);
  }
  if (type !== undefined && actual !== type) {
    throw invalid(
      path,
      `value ${JSON.stringify(value)} is a ${actual} but the field holds ${type} values; pass a ${type}`,
    );
  }
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  // Boolean metadata is stored as Int8 0/1 (see lance-backend.ts).
  if (typeof value === 'boolean') return value ? '1' : '0';
  const number = value as number;
  if (!Number.isFinite(number))
    throw invalid(path, `number ${String(number)} is not finite; pass a finite number`);
  return String(number);
}

function invalid(path: string, problem: string): SearchError {
  return new SearchError('invalid_filter', `search filter: ${path}: ${problem}`);
}
