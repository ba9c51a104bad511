// Builds Elasticsearch search bodies for Steer's three modes: dense kNN, sparse latents, and the two fused by RRF.
import type { estypes } from '@elastic/elasticsearch';
import { ElasticsearchBackendError } from './errors.js';
import { latentsToSparseVector } from './sparse.js';
import type { LatentsLike } from './sparse.js';

export type SearchMode = 'dense' | 'sparse' | 'hybrid';

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
  /** Candidates per shard; default max(100, 10·k), at most 10000. */
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

/** Default num_candidates for `k`: max(100, 10·k), capped at Elasticsearch's 10000. */
export function defaultNumCandidates(k: number): number {
  return Math.min(10_000, Math.max(100, 10 * k));
}

function knnClause(request: SearchBodyRequest, k: number): estypes.KnnSearch {
  if (!request.vectorField) throw invalid('dense search needs the dense_vector field');
  if (!request.query) throw invalid('dense search needs a query vector or a query text with a model id');
  const numCandidates = Math.max(request.numCandidates ?? defaultNumCandidates(k), k);
  if (numCandidates > 10_000)
    throw invalid(`num_candidates ${numCandidates} is above Elasticsearch's limit of 10000; lower it or k`);
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
  return {
    sparse_vector: { field: request.latentField, query_vector: queryVector },
  } as estypes.QueryDslQueryContainer;
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
  const window = Math.max(request.rankWindowSize ?? Math.max(size, k), size);
  const standard: estypes.StandardRetriever = { query: sparseClause(request) };
  if (filter.length) standard.filter = filter;
  const rrf: estypes.RRFRetriever = {
    retrievers: [{ knn: { ...knnClause(request, window) } as estypes.KnnRetriever }, { standard }],
    rank_window_size: window,
  };
  if (request.rankConstant !== undefined) rrf.rank_constant = request.rankConstant;
  return { retriever: { rrf }, size };
}
