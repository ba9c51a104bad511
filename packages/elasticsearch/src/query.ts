// Builds Elasticsearch search bodies for Steer's three modes: dense kNN, sparse latents, and the two fused by RRF.
import type { estypes } from '@elastic/elasticsearch';
import type { SearchMode } from '@steer/search';
import { ElasticsearchBackendError } from './errors.js';
import { latentsToSparseVector } from './sparse.js';
import type { LatentsLike } from './sparse.js';

/** The three search modes, defined once in @steer/search (where backends declare which they support). */
export type { SearchMode };

/** Where the dense query vector comes from: a local embedder, or a model deployed in the cluster. */
export type QueryVectorSource = { vector: ArrayLike<number> } | { text: string; modelId: string };

export interface SearchBodyRequest {
  mode?: SearchMode;
  /** dense_vector field (dense and hybrid). */
  vectorField?: string;
  /** sparse_vector field holding the documents' latents (sparse and hybrid). */
  latentField?: string;
  /** Dense query (dense and hybrid). */
  query?: QueryVectorSource;
  /** Query latents (sparse and hybrid). */
  latents?: LatentsLike;
  k: number;
  /** Candidates per shard; default max(100, 10·k); capped at Elasticsearch's 10000. */
  numCandidates?: number;
  /** Filter clauses in query DSL (compiled Filter plus any raw DSL), applied before the top k are chosen. */
  filter?: estypes.QueryDslQueryContainer[];
  /** kNN `similarity`: minimum raw similarity (maximum distance for l2_norm) of a match. */
  similarity?: number;
  /** Hits returned; default k. */
  size?: number;
  /** RRF rank_constant (default 60) and rank_window_size (default max(size, k)). */
  rankConstant?: number;
  rankWindowSize?: number;
}

/** The search body parts this module owns; callers merge `_source`, `aggs`, ... around it. */
export interface SteerSearchBody {
  knn?: estypes.KnnSearch;
  query?: estypes.QueryDslQueryContainer;
  retriever?: estypes.RetrieverContainer;
  size: number;
}

function invalid(message: string): ElasticsearchBackendError {
  return new ElasticsearchBackendError('invalid_request', `elasticsearch search: ${message}`);
}

/** Elasticsearch's ceiling on `num_candidates` (and so on `k`). */
export const MAX_NUM_CANDIDATES = 10_000;

/** Default num_candidates for `k`: max(100, 10·k), capped at Elasticsearch's 10000. */
export function defaultNumCandidates(k: number): number {
  return Math.min(MAX_NUM_CANDIDATES, Math.max(100, 10 * k));
}

function knnClause(request: SearchBodyRequest, k: number): estypes.KnnSearch {
  if (!request.vectorField) throw invalid('dense search needs the dense_vector field');
  if (!request.query) throw invalid('dense search needs a query vector or a query text with a model id');
  if (k > MAX_NUM_CANDIDATES)
    throw invalid(
      `k (or the RRF window) is ${k}, above Elasticsearch's limit of ${MAX_NUM_CANDIDATES} candidates; lower it`,
    );
  // NOTE: more candidates than 10000 is a 400 in Elasticsearch; asking for more cannot find more, so cap.
  const numCandidates = Math.min(
    MAX_NUM_CANDIDATES,
    Math.max(request.numCandidates ?? defaultNumCandidates(k), k),
  );
  const clause: estypes.KnnSearch = { field: request.vectorField, k, num_candidates: numCandidates };
  if ('vector' in request.query) {
    const vector = Array.from(request.query.vector);
    if (vector.length === 0 || !vector.every(Number.isFinite))
      throw invalid('the query vector is empty or holds a non-finite number');
    clause.query_vector = vector;
  } else {
    clause.query_vector_builder = {
      text_embedding: { model_id: request.query.modelId, model_text: request.query.text },
    };
  }
  if (request.filter && request.filter.length > 0) clause.filter = request.filter;
  if (request.similarity !== undefined) clause.similarity = request.similarity;
  return clause;
}

function sparseClause(request: SearchBodyRequest): estypes.QueryDslQueryContainer {
  if (!request.latentField) throw invalid('sparse search needs the sparse_vector field holding the latents');
  if (!request.latents) throw invalid('sparse search needs the query latents (an SAE is required)');
  const queryVector = latentsToSparseVector(request.latents);
  if (Object.keys(queryVector).length === 0) {
    throw invalid(
      'the query has no positive latent activation, so sparse retrieval would match nothing; use mode=dense',
    );
  }
  // NOTE: `prune: false` keeps every query token: sparse_vector fields created on 8.19 and 9.1+ prune by default
  // (index_options), which would make scores differ from the exact dot product explainLatentScore reports.
  return {
    sparse_vector: { field: request.latentField, query_vector: queryVector, prune: false },
  } as estypes.QueryDslQueryContainer;
}

/** The two child searches of a hybrid search and how to fuse them: one definition for server and client RRF. */
export interface HybridParts {
  /** The dense child: a kNN search of `window` neighbours. */
  knn: estypes.KnnSearch;
  /** The sparse child's query (sparse_vector on the latents) and its filters. */
  sparse: estypes.QueryDslQueryContainer;
  filter: estypes.QueryDslQueryContainer[];
  /** rank_window_size: hits taken from each child, and fused hits kept. */
  window: number;
  rankConstant?: number;
  /** Hits returned. */
  size: number;
}

/** The parts of a hybrid search (see buildSearchBody for validation and defaults). */
export function hybridParts(request: SearchBodyRequest): HybridParts {
  const size = request.size ?? request.k;
  const window = Math.max(request.rankWindowSize ?? Math.max(size, request.k), size);
  return {
    knn: knnClause(request, window),
    sparse: sparseClause(request),
    filter: request.filter ?? [],
    window,
    rankConstant: request.rankConstant,
    size,
  };
}

/**
 * Builds the search body for a mode: dense -> top-level `knn`; sparse -> `query.bool` with a `sparse_vector`
 * clause (filters in filter context); hybrid -> an `rrf` retriever over a `knn` and a `standard` sparse retriever.
 * Throws ElasticsearchBackendError (`invalid_request`) when k is not a positive integer or an input is missing.
 */
export function buildSearchBody(request: SearchBodyRequest): SteerSearchBody {
  const { k } = request;
  if (!Number.isInteger(k) || k < 1) throw invalid(`k must be a positive integer, got ${k}`);
  if (
    request.numCandidates !== undefined &&
    (!Number.isInteger(request.numCandidates) || request.numCandidates < k)
  ) {
    throw invalid(`num_candidates (${request.numCandidates}) must be an integer no smaller than k (${k})`);
  }
  const size = request.size ?? k;
  const mode = request.mode ?? 'dense';
  const filter = request.filter ?? [];
  if (mode === 'dense') return { knn: knnClause(request, k), size };
  if (mode === 'sparse') {
    return { query: { bool: { must: [sparseClause(request)], ...(filter.length ? { filter } : {}) } }, size };
  }
  if (mode !== 'hybrid') throw invalid(`unknown mode '${String(mode)}'; use dense, sparse or hybrid`);
  const parts = hybridParts(request);
  const standard: estypes.StandardRetriever = { query: parts.sparse };
  if (filter.length) standard.filter = filter;
  const rrf: estypes.RRFRetriever = {
    retrievers: [{ knn: { ...parts.knn } as estypes.KnnRetriever }, { standard }],
    rank_window_size: parts.window,
  };
  if (parts.rankConstant !== undefined) rrf.rank_constant = parts.rankConstant;
  return { retriever: { rrf }, size };
}
