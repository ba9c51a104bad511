// Compiles the backend-neutral Filter into Elasticsearch query DSL (filter context: no scoring).
import type { estypes } from '@elastic/elasticsearch';
import type { Filter } from '@steer/search';
import { ElasticsearchBackendError } from './errors.js';

export interface CompileFilterOptions {
  /**
   * Maps a metadata field to the field term-level queries should use, e.g. `genre` -> `genre.keyword`
   * when `genre` is a text field with a keyword sub-field. Identity when absent.
   */
  termField?: (field: string) => string;
}

function invalid(message: string): ElasticsearchBackendError {
  return new ElasticsearchBackendError('invalid_filter', `elasticsearch filter: ${message}`);
}

/**
 * Compiles `filter` to a query DSL clause: eq -> term, in -> terms, range -> range, and -> bool.filter,
 * or -> bool.should (minimum_should_match 1), not -> bool.must_not.
 * Throws ElasticsearchBackendError (`invalid_filter`) on an empty field name or a range with no bound.
 */
export function compileFilter(
  filter: Filter,
  options: CompileFilterOptions = {},
): estypes.QueryDslQueryContainer {
  const termField = options.termField ?? ((field: string) => field);
  const field = (name: string): string => {
    if (typeof name !== 'string' || name.trim() === '') throw invalid('a filter needs a field name');
    return name;
  };
  switch (filter.op) {
    case 'eq':
      return { term: { [termField(field(filter.field))]: filter.value } };
    case 'in':
      return { terms: { [termField(field(filter.field))]: filter.values } };
    case 'range': {
      const bounds: Record<string, number> = {};
      for (const key of ['gt', 'gte', 'lt', 'lte'] as const) {
        const value = filter[key];
        if (value === undefined) continue;
        if (typeof value !== 'number' || Number.isNaN(value))
          throw invalid(`range bound '${key}' on '${filter.field}' must be a number`);
        bounds[key] = value;
      }
      if (Object.keys(bounds).length === 0) {
        throw invalid(`range on '${filter.field}' has no bound; give at least one of gt, gte, lt, lte`);
      }
      return { range: { [field(filter.field)]: bounds } };
    }
    case 'and':
      return filter.filters.length === 0
        ? { match_all: {} }
        : { bool: { filter: filter.filters.map((f) => compileFilter(f, options)) } };
    case 'or':
      return filter.filters.length === 0
        ? { match_none: {} }
        : { bool: { should: filter.filters.map((f) => compileFilter(f, options)), minimum_should_match: 1 } };
    case 'not':
      return { bool: { must_not: [compileFilter(filter.filter, options)] } };
    default:
      throw invalid(`unknown filter op '${(filter as { op?: unknown }).op as string}'`);
  }
}
