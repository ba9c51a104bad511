// The search-backend contract shared by the embedded LanceDB store and the Elasticsearch backend.
import type { Filter } from '@steer/core';

/** How vectors in an index are compared. Scores follow Elasticsearch's definitions so backends agree. */
export type Similarity = 'cosine' | 'dot_product' | 'l2_norm';

/** A document as stored: an id, its text, free-form metadata and its dense vector. */
export interface IndexedDocument {
  id: string;
  text: string;
  metadata?: Record<string, string | number | boolean | null>;
  vector: Float32Array; // [dims]
}

/** What an index holds, checked against the SAE's embedding model before searching. */
export interface IndexInfo {
  name: string;
  dims: number;
  similarity: Similarity;
  /** Embedding model id the vectors came from, when the backend records it. */
  embeddingModel?: string;
  count: number;
}

/** The backend-neutral metadata filter, defined once in @steer/core (the query language compiles to it). */
export type { Filter };

/** How a search ranks documents: dense kNN, SAE latents stored beside the vectors (sparse), or both fused. */
export type SearchMode = 'dense' | 'sparse' | 'hybrid';

/** A query's SAE latents: feature ids and activations, strongest first. */
export interface QueryLatents {
  indices: ArrayLike<number>; // [k]
  values: ArrayLike<number>; // [k]
}

/**
 * What a backend can do; callers ask this instead of testing the class. Every backend searches `dense`; `sparse`
 * and `hybrid` need latents stored with the documents; `explain` says which latent features made a hit's score.
 */
export interface BackendCapabilities {
  dense: boolean;
  sparse: boolean;
  hybrid: boolean;
  explain: boolean;
}

/** A search in one of the modes a backend declares: `latents` are the query's for sparse and hybrid. */
export interface ModeQuery extends KnnQuery {
  mode: SearchMode;
  latents?: QueryLatents;
}

export interface KnnQuery {
  vector: Float32Array; // [dims]
  k: number;
  /** Candidates examined per shard / partition before the top k are kept (ANN backends). */
  numCandidates?: number;
  filter?: Filter;
}

export interface SearchHit {
  id: string;
  score: number;
  text: string;
  metadata?: Record<string, string | number | boolean | null>;
}

/** Progress of `addDocuments`, reported after each written batch. */
export interface BulkProgress {
  done: number;
  /** `options.total`, else the input's length when it is an array, else `done` (unknown in advance). */
  total: number;
}

export interface CreateIndexOptions {
  dims: number;
  similarity: Similarity;
  embeddingModel?: string;
  /** Replace an existing index of that name instead of failing. */
  overwrite?: boolean;
}

/** A store of dense-vector indexes. Implemented by LanceDB (embedded default) and Elasticsearch. */
export interface SearchBackend {
  readonly kind: string;
  /** The search modes this backend supports; see {@link BackendCapabilities}. */
  readonly capabilities: BackendCapabilities;
  createIndex(name: string, options: CreateIndexOptions): Promise<IndexInfo>;
  /** Returns the index's description; throws a SearchError with code `index_not_found` when absent. */
  describeIndex(name: string): Promise<IndexInfo>;
  listIndexes(): Promise<string[]>;
  /**
   * Adds documents in batches; a document whose id exists replaces the stored one.
   * Adding zero documents returns `{ added: 0 }`. Throws SearchError (`dims_mismatch`, `invalid_vector`,
   * `invalid_document`, ...) naming the document; the LanceDB backend then leaves the index as it was.
   */
  addDocuments(
    name: string,
    documents: AsyncIterable<IndexedDocument> | Iterable<IndexedDocument>,
    options?: { total?: number; onProgress?: (progress: BulkProgress) => void },
  ): Promise<{ added: number }>;
  /** Top `query.k` hits by score (Elasticsearch units), best first; `empty_index` when the index holds nothing. */
  knnSearch(name: string, query: KnnQuery): Promise<SearchHit[]>;
  /**
   * Searches in `query.mode`, which must be one the backend declares in {@link capabilities}; dense is
   * {@link knnSearch}. Throws SearchError `invalid_query` for a mode the backend cannot search.
   */
  search(name: string, query: ModeQuery): Promise<SearchHit[]>;
  /**
   * How the documents' stored latents of index `name` are normalised (`l2`: unit length, `none`: raw), as sparse
   * and hybrid scores weigh them; undefined when the index records none, or only a run that did not finish. Only
   * backends with sparse search have it.
   */
  latentNorm?(name: string): Promise<'l2' | 'none' | undefined>;
  deleteDocuments(name: string, ids: string[]): Promise<{ deleted: number }>;
  deleteIndex(name: string): Promise<void>;
  close(): Promise<void>;
}

/** One page of stored documents read by an {@link IndexReader}: ids, vectors and, when asked for, texts. */
export interface ReadPage {
  ids: string[];
  vectors: Float32Array; // [ids.length, dims]
  /** texts[i] of document ids[i]; present when the reader was opened with a text field. */
  texts?: string[];
}

/** Where a slice of an {@link IndexReader} stopped; plain JSON, so that a killed run can save it and resume. */
export type ReadCursor = string | number | boolean | null | ReadCursor[] | { [key: string]: ReadCursor };

/**
 * Reads what an index already stores (dense vectors, optionally texts) without re-embedding anything, page by page,
 * from one consistent snapshot, in `slices` independent parts that each resume from a saved cursor.
 */
export interface IndexReader {
  readonly index: string;
  readonly vectorField: string;
  readonly textField?: string;
  readonly dims: number;
  /** The embedding model the index records for its vectors, when it records one. */
  readonly embeddingModel?: string;
  /** Documents in the snapshot. */
  readonly total: number;
  /** Identifies the snapshot (a table version, a cluster's index and document count); a resume checks it. */
  readonly snapshot: string;
  readonly slices: number;
  /**
   * The next page of slice `slice` after `cursor` (null: its start), at most `size` documents; null when the slice
   * is done.
   */
  read(
    slice: number,
    cursor: ReadCursor,
    size: number,
  ): Promise<{ page: ReadPage; cursor: ReadCursor } | null>;
  close(): Promise<void>;
}
