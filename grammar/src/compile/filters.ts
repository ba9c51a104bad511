// `where` clauses compiled to the backend-neutral Filter of @steer/core.
import type { Filter } from '@steer/core';
import type { Diagnostic, FilterExpression } from '../ast.js';
import { CompileCode } from './types.js';

/** Converts a filter expression to the backend-neutral Filter. */
export function compileFilter(filter: FilterExpression, diagnostics: Diagnostic[] = []): Filter {
  switch (filter.kind) {
    case 'and':
      return { op: 'and', filters: filter.operands.map((f) => compileFilter(f, diagnostics)) };
    case 'or':
      return { op: 'or', filters: filter.operands.map((f) => compileFilter(f, diagnostics)) };
    case 'not':
      return { op: 'not', filter: compileFilter(filter.operand, diagnostics) };
    case 'in':
      return { op: 'in', field: filter.field, values: [...filter.values] };
    case 'between':
      if (filter.from > filter.to) {
        diagnostics.push({
          code: CompileCode.EmptyRange,
          message: `${filter.field}:${filter.from}..${filter.to} matches nothing: the lower bound is above the upper bound; swap them`,
          range: filter.range,
          severity: 'warning',
        });
      }
      return { op: 'range', field: filter.field, gte: filter.from, lte: filter.to };
    case 'compare': {
      const { field, value } = filter;
      switch (filter.op) {
        case ':':
          return { op: 'eq', field, value };
        case '!=':
          return { op: 'not', filter: { op: 'eq', field, value } };
        case '>':
          return { op: 'range', field, gt: value as number };
        case '>=':
          return { op: 'range', field, gte: value as number };
        case '<':
          return { op: 'range', field, lt: value as number };
        case '<=':
          return { op: 'range', field, lte: value as number };
      }
    }
  }
}
