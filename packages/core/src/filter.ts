// The backend-neutral metadata filter: the query language compiles `where` clauses to it, every search backend
// compiles it to its own filter language (LanceDB SQL `where`, Elasticsearch query DSL).

/** A metadata filter over document fields, backend-neutral. */
export type Filter =
  | { op: 'eq'; field: string; value: string | number | boolean }
  | { op: 'in'; field: string; values: Array<string | number> }
  | { op: 'range'; field: string; gt?: number; gte?: number; lt?: number; lte?: number }
  | { op: 'and'; filters: Filter[] }
  | { op: 'or'; filters: Filter[] }
  | { op: 'not'; filter: Filter };
