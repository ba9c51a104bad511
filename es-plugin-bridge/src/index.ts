// @steer/bridge: an HTTP server that speaks Elasticsearch and turns `steer` clauses into steered kNN searches.
export { createBridgeServer, startBridge } from './server.js';
export type { BridgeOptions, RunningBridge } from './server.js';
export { parseSteerClause, rewriteSearchBody, steerSyntaxError, steeredBody } from './steer-clause.js';
export type { RewriteFields, SteerClause, SteeredBody } from './steer-clause.js';
export { DEFAULT_MAX_BODY_BYTES, MAX_NESTING_DEPTH } from './request-checks.js';
export { BridgeHttpError, esErrorBody, sendEsError } from './es-errors.js';
export type { EsErrorCause } from './es-errors.js';
export { isSteerQueryError } from './steering.js';
export type {
  BridgeSteering,
  DiagnosticRange,
  ExplainHitInput,
  ExplainRequest,
  ResolveDefaults,
  SteerDiagnostic,
  SteeredQuery,
} from './steering.js';
