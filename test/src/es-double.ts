// A TEST DOUBLE of Elasticsearch's REST API over node:http: indexes, mappings, _bulk, _doc, _search (exact kNN,
// filters, sparse_vector, rrf, sort and search_after), points in time, for the backend and bridge integration
// tests. Not a search engine: the modules under es-double/ follow Elasticsearch's answers, not its engine.
export { startEsDouble } from './es-double/server.js';
export type { EsDouble, EsDoubleOptions, RecordedRequest } from './es-double/server.js';
