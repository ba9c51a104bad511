// A TEST DOUBLE of Elasticsearch's REST API over node:http: indexes, mappings, _bulk, _doc, _search (exact kNN,
// filters, sparse_vector, rrf, sort and search_after), points in time, for the backend and bridge integration
// tests. Not a search engine: the modules under es-double/ follow Elasticsearch's answers, not its engine.
export { startEsDouble } from './es-double/server.js';
export type { EsDouble, EsDoubleOptions, RecordedRequest } from './es-double/server.js';
export type { EsDoubleLicence, EsDoubleVersion } from './es-double/versions.js';

/**
 * The clusters the integration suites run against: every release line the double plays on a basic licence
 * (hybrid search fused by Steer), and one on a trial licence (the cluster's own RRF).
 */
export const DOUBLE_MATRIX = [
  { version: '8.15', licence: 'basic' },
  { version: '8.19', licence: 'basic' },
  { version: '9.2', licence: 'basic' },
  { version: '8.19', licence: 'trial' },
] as const;
