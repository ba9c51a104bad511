// SearchBackend on an Elasticsearch cluster: dense_vector indexes, kNN with filters, sparse latents and RRF hybrids.
import { errors } from '@elastic/elasticsearch';
import type { Client, estypes } from '@elastic/elasticsearch';
import type {
  BulkProgress,
  CreateIndexOptions,
  Filter,
  IndexedDocument,
  IndexInfo,
  KnnQuery,
  SearchBackend,
  SearchHit,
} from '@steer/search';
import { isRrfLicenceError, readClusterProfile } from './cluster.js';
import type { ClusterProfile } from './cluster.js';
import { createElasticsearchClient, esConnectionFromEnv } from './connection.js';
import type { ElasticsearchConnectionConfig } from './connection.js';
import { ElasticsearchBackendError, unreachableOr } from './errors.js';
import { compileFilter } from './filter.js';
import {
  chooseVectorField,
  denseVectorFields,
  fieldMapping,
  latentNormRecord,
  sparseVectorFields,
  recordedLatentNorm,
  steerIndexMeta,
} from './mapping.js';
import type { DenseVectorField, LatentNormRecord } from './mapping.js';
import { buildSearchBody, hybridParts } from './query.js';
import type { QueryVectorSource, SearchBodyRequest, SearchMode } from './query.js';
import { fuseReciprocalRank } from './rrf.js';
import { explainLatentScore, latentsToSparseVector } from './sparse.js';
import type { LatentContribution, LatentNorm, LatentsLike } from './sparse.js';

/** Field names the backend reads and writes. */
export interface ElasticsearchBackendOptions {
  /** dense_vector field; discovered from `_mapping` when absent (the only one), `vector` for new indexes. */
  vectorField?: string;
  /** Field holding the document text (default `text`). */
  textField?: string;
  /** sparse_vector field holding SAE latents (default `steer_latents`). */
  latentField?: string;
  /** Model deployed in the cluster that embeds query texts (query_vector_builder.text_embedding). */
  queryModelId?: string;
  /**
   * `index_options` of the dense_vector field of new indexes, e.g. `{ "type": "hnsw" }` for unquantized float
   * vectors (exact scores); default: the cluster's (int8_hnsw in recent 8.x, which approximates scores).
   */
  denseIndexOptions?: estypes.MappingDenseVectorIndexOptions;
  /**
   * Receives advice that does not stop a search (e.g. latents written before Steer normalised them), once per index;
   * default: `process.emitWarning` with code `STEER_LATENT_NORM_UNRECORDED`.
   */
  onWarning?: (message: string) => void;
}

/** steer.config.json's `elasticsearch` section: connection plus field names. */
export type ElasticsearchConfig = ElasticsearchConnectionConfig & ElasticsearchBackendOptions;

export const DEFAULT_VECTOR_FIELD = 'vector';
export const DEFAULT_TEXT_FIELD = 'text';
export const DEFAULT_LATENT_FIELD = 'steer_latents';

/** `_source` filtering as Elasticsearch takes it. */
export type SourceFilter = boolean | string[] | { includes?: string[]; excludes?: string[] };

/** A search in any of the three modes, with the options kNN takes in Elasticsearch. */
export interface ElasticsearchSearchRequest {
  mode?: SearchMode;
  /** Dense query vector from a local embedder. [dims] */
  vector?: Float32Array;
  /** Query text embedded by the cluster with `modelId` (or the backend's queryModelId) instead of `vector`. */
  text?: string;
  modelId?: string;
  /** Query latents for sparse and hybrid modes. */
  latents?: LatentsLike;
  k: number;
  numCandidates?: number;
  filter?: Filter;
  /** Raw query DSL filter clauses, ANDed with `filter` (escape hatch for what Filter cannot say). */
  rawFilter?: estypes.QueryDslQueryContainer | estypes.QueryDslQueryContainer[];
  /** kNN minimum similarity (raw similarity; maximum distance for l2_norm). */
  similarity?: number;
  /** `_source` filtering; by default everything but the vector and latent fields. */
  source?: SourceFilter;
  /** Explain each hit by its top N latent features (true = 5). Needs the latent field. */
  explain?: boolean | number;
  /** dense_vector field to search instead of the backend's. */
  field?: string;
  rankConstant?: number;
  rankWindowSize?: number;
}

/** A hit with its (filtered) `_source` and, when asked, the features behind its score. */
export interface ElasticsearchSearchHit extends SearchHit {
  source?: Record<string, unknown>;
  features?: LatentContribution[];
}

interface IndexState {
  mappings: unknown;
  fields: DenseVectorField[];
  latentFields: string[];
  embeddingModel?: string;
  /** How the documents' latents in the backend's latent field were normalised; undefined when not recorded or incomplete. */
  latentNorm?: LatentNorm;
  /** The `_meta` record behind latentNorm, complete or not. */
  latentRecord?: LatentNormRecord;
  /** `index.mapping.exclude_source_vectors` (9.2+ default): vectors are left out of `_source` unless asked for. */
  excludeSourceVectors: boolean;
}

type SourceHit = estypes.SearchHit<Record<string, unknown>>;

type Scalar = string | number | boolean | null;

function isScalar(value: unknown): value is Scalar {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

/** Elasticsearch's `index_not_found_exception`, as a 404 ResponseError. */
function isIndexNotFound(error: unknown): boolean {
  return (
    error instanceof errors.ResponseError &&
    error.statusCode === 404 &&
    JSON.stringify(error.body ?? '').includes('index_not_found_exception')
  );
}

/** The Elasticsearch SearchBackend. Create with openElasticsearchBackend, or `new` around your own client. */
export class ElasticsearchBackend implements SearchBackend {
  readonly kind = 'elasticsearch';
  /** Sparse and hybrid search the latents indexed by `steer index --latents`, and hits explain their scores by them. */
  readonly capabilities = { dense: true, sparse: true, hybrid: true, explain: true };
  readonly textField: string;
  readonly latentField: string;
  private readonly states = new Map<string, IndexState>();
  /** Indexes whose unrecorded or incomplete latent normalisation has been reported (once per index). */
  private readonly warnedLatentNorm = new Set<string>();
  private profile?: Promise<ClusterProfile>;

  constructor(
    readonly client: Client,
    readonly options: ElasticsearchBackendOptions = {},
  ) {
    this.textField = options.textField ?? DEFAULT_TEXT_FIELD;
    this.latentField = options.latentField ?? DEFAULT_LATENT_FIELD;
  }

  /** Runs a client call, turning a missing index into `index_not_found` and a dead cluster into `es_unreachable`. */
  private async call<T>(index: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (index !== undefined && isIndexNotFound(error)) {
        this.states.delete(index);
        throw new ElasticsearchBackendError(
          'index_not_found',
          `elasticsearch: index '${index}' does not exist; create it with \`steer index\` or check the name`,
          { cause: error },
        );
      }
      throw unreachableOr(error);
    }
  }

  /**
   * The cluster's version and licence, read once per backend (connection) and kept. Throws
   * `unsupported_version` below 8.15 and `es_unreachable` when the cluster cannot be reached.
   */
  clusterProfile(): Promise<ClusterProfile> {
    this.profile ??= this.call(undefined, () => readClusterProfile(this.client)).catch((error: unknown) => {
      this.profile = undefined;
      throw error;
    });
    return this.profile;
  }

  /** Reads (and caches) an index's mapping and settings. Throws `index_not_found`. */
  private async state(name: string, fresh = false): Promise<IndexState> {
    const cached = this.states.get(name);
    if (cached && !fresh) return cached;
    await this.clusterProfile();
    const [response, settings] = await Promise.all([
      this.call(name, () => this.client.indices.getMapping({ index: name })),
      this.call(name, () =>
        this.client.indices.getSettings({ index: name, flat_settings: true, include_defaults: true }),
      ),
    ]);
    const entry = Object.values(response)[0];
    if (!entry) {
      throw new ElasticsearchBackendError('index_not_found', `elasticsearch: index '${name}' does not exist`);
    }
    const mappings = entry.mappings;
    const flat = Object.values(settings)[0] as
      { settings?: Record<string, unknown>; defaults?: Record<string, unknown> } | undefined;
    const exclude =
      flat?.settings?.['index.mapping.exclude_source_vectors'] ??
      flat?.defaults?.['index.mapping.exclude_source_vectors'];
    const state: IndexState = {
      mappings,
      fields: denseVectorFields(mappings),
      latentFields: sparseVectorFields(mappings),
      embeddingModel: steerIndexMeta(mappings).embeddingModel,
      latentNorm: recordedLatentNorm(mappings, this.latentField),
      latentRecord: latentNormRecord(mappings, this.latentField),
      excludeSourceVectors: String(exclude) === 'true',
    };
    this.states.set(name, state);
    return state;
  }

  private vectorField(
    name: string,
    state: IndexState,
    preferred = this.options.vectorField,
  ): DenseVectorField {
    return chooseVectorField(name, state.fields, preferred);
  }

  /** Maps a filter field to its `.keyword` sub-field when the field is text with one (term queries need it). */
  private termField(state: IndexState): (field: string) => string {
    return (field) => {
      const mapping = fieldMapping(state.mappings, field) as
        { type?: string; fields?: Record<string, { type?: string }> } | undefined;
      if (mapping?.type !== 'text' || !mapping.fields) return field;
      const keyword = Object.entries(mapping.fields).find(([, sub]) => sub.type === 'keyword');
      return keyword ? `${field}.${keyword[0]}` : field;
    };
  }

  async createIndex(name: string, options: CreateIndexOptions): Promise<IndexInfo> {
    if (!Number.isInteger(options.dims) || options.dims < 1 || options.dims > 4096) {
      throw new ElasticsearchBackendError(
        'invalid_request',
        `elasticsearch: cannot create '${name}' with ${options.dims} dims; dense_vector takes 1 to 4096`,
      );
    }
    await this.clusterProfile();
    const exists = await this.call(undefined, () => this.client.indices.exists({ index: name }));
    if (exists) {
      if (!options.overwrite) {
        throw new ElasticsearchBackendError(
          'index_exists',
          `elasticsearch: index '${name}' already exists; pass --overwrite to replace it, or pick another name`,
        );
      }
      await this.deleteIndex(name);
    }
    const vectorField = this.options.vectorField ?? DEFAULT_VECTOR_FIELD;
    await this.call(undefined, () =>
      this.client.indices.create({
        index: name,
        mappings: {
          _meta: {
            steer: {
              embeddingModel: options.embeddingModel,
              dims: options.dims,
              similarity: options.similarity,
            },
          },
          dynamic_templates: [
            { strings_as_keyword: { match_mapping_type: 'string', mapping: { type: 'keyword' } } },
          ],
          properties: {
            [this.textField]: { type: 'text' },
            [vectorField]: {
              type: 'dense_vector',
              dims: options.dims,
              index: true,
              similarity: options.similarity,
              ...(this.options.denseIndexOptions ? { index_options: this.options.denseIndexOptions } : {}),
            },
            [this.latentField]: { type: 'sparse_vector' },
          },
        },
      }),
    );
    this.states.delete(name);
    return {
      name,
      dims: options.dims,
      similarity: options.similarity,
      embeddingModel: options.embeddingModel,
      count: 0,
    };
  }

  async describeIndex(name: string): Promise<IndexInfo> {
    const state = await this.state(name, true);
    const field = this.vectorField(name, state);
    const { count } = await this.call(name, () => this.client.count({ index: name }));
    if (field.dims === undefined) {
      throw new ElasticsearchBackendError(
        'no_vector_field',
        `elasticsearch: field '${field.path}' of index '${name}' has no dims yet (no document set them); index documents first`,
      );
    }
    return {
      name,
      dims: field.dims,
      similarity: field.similarity as IndexInfo['similarity'],
      embeddingModel: state.embeddingModel,
      count,
    };
  }

  /**
   * Checks that an index can be searched with vectors of `expected.dims` (the SAE's embedding model).
   * Returns the index's description; throws `dims_mismatch` or `model_mismatch` naming both sides.
   */
  async assertCompatible(
    name: string,
    expected: { dims: number; embeddingModel?: string },
  ): Promise<IndexInfo> {
    const info = await this.describeIndex(name);
    const model = expected.embeddingModel ? ` (${expected.embeddingModel})` : '';
    if (info.dims !== expected.dims) {
      throw new ElasticsearchBackendError(
        'dims_mismatch',
        `elasticsearch: index '${name}' holds ${info.dims}-d vectors (dense_vector dims in its mapping) but the SAE's embedding model${model} gives ${expected.dims}-d vectors; search an index built with that model, or use the SAE trained for the index's model`,
      );
    }
    if (expected.embeddingModel && info.embeddingModel && expected.embeddingModel !== info.embeddingModel) {
      throw new ElasticsearchBackendError(
        'model_mismatch',
        `elasticsearch: index '${name}' was built with ${info.embeddingModel} but the SAE expects ${expected.embeddingModel}; re-index with ${expected.embeddingModel} or use the SAE trained for ${info.embeddingModel}`,
      );
    }
    return info;
  }

  async listIndexes(): Promise<string[]> {
    await this.clusterProfile();
    const response = await this.call(undefined, () => this.client.indices.getMapping());
    return Object.keys(response)
      .filter((name) => !name.startsWith('.'))
      .sort();
  }

  async addDocuments(
    name: string,
    documents: AsyncIterable<IndexedDocument> | Iterable<IndexedDocument>,
    options: { total?: number; onProgress?: (progress: BulkProgress) => void } = {},
  ): Promise<{ added: number }> {
    const state = await this.state(name, true);
    const field = this.vectorField(
      name,
      state,
      this.options.vectorField ?? (state.fields.length ? undefined : DEFAULT_VECTOR_FIELD),
    );
    const reserved = new Set([this.textField, field.path, this.latentField]);
    let invalid: ElasticsearchBackendError | undefined;
    const textField = this.textField;
    async function* validated(): AsyncGenerator<Record<string, unknown>> {
      for await (const doc of documents) {
        if (typeof doc.id !== 'string' || doc.id === '') {
          invalid = new ElasticsearchBackendError(
            'invalid_document',
            `elasticsearch: a document in '${name}' has no id; give every document a non-empty string id`,
          );
          return;
        }
        if (field.dims !== undefined && doc.vector.length !== field.dims) {
          invalid = new ElasticsearchBackendError(
            'dims_mismatch',
            `elasticsearch: document '${doc.id}' has a ${doc.vector.length}-d vector but index '${name}' field '${field.path}' holds ${field.dims}-d vectors; embed with the index's model`,
          );
          return;
        }
        const body: Record<string, unknown> = {
          _id: doc.id,
          [textField]: doc.text,
          [field.path]: Array.from(doc.vector),
        };
        for (const [key, value] of Object.entries(doc.metadata ?? {})) {
          if (reserved.has(key) || key === '_id') {
            invalid = new ElasticsearchBackendError(
              'invalid_document',
              `elasticsearch: document '${doc.id}' has a metadata field '${key}', a name the backend uses itself; rename it`,
            );
            return;
          }
          body[key] = value;
        }
        yield body;
      }
    }
    let done = 0;
    const failures: string[] = [];
    let failed = 0;
    const stats = await this.call(name, () =>
      this.client.helpers.bulk<Record<string, unknown>>({
        datasource: validated(),
        onDocument: (doc) => {
          const id = doc._id as string;
          delete doc._id;
          return { index: { _index: name, _id: id } };
        },
        onSuccess: () => {
          done++;
          options.onProgress?.({ done, total: options.total ?? done });
        },
        onDrop: (drop) => {
          failed++;
          if (failures.length < 5) {
            const id = (drop.operation as { index?: { _id?: string } }).index?._id;
            failures.push(`'${id}': ${drop.error?.type ?? drop.status} ${drop.error?.reason ?? ''}`.trim());
          }
        },
        retries: 3,
        refreshOnCompletion: name,
      }),
    );
    this.states.delete(name);
    if (invalid) throw invalid;
    if (failed > 0) {
      throw new ElasticsearchBackendError(
        'bulk_failed',
        `elasticsearch: ${failed} of ${stats.total} documents were refused by '${name}' (${failures.join('; ')}); the other ${stats.successful} are indexed — fix those documents and run again`,
      );
    }
    return { added: stats.successful };
  }

  /** Dense kNN search (SearchBackend). */
  async knnSearch(name: string, query: KnnQuery): Promise<SearchHit[]> {
    return this.search(name, {
      mode: 'dense',
      vector: query.vector,
      k: query.k,
      numCandidates: query.numCandidates,
      filter: query.filter,
    });
  }

  /**
   * Builds the search body for `request` on index `name` (kNN / sparse / RRF with compiled filters and `_source`).
   * Throws `dims_mismatch` when the query vector's length differs from the field's dims.
   */
  async searchBody(name: string, request: ElasticsearchSearchRequest): Promise<estypes.SearchRequest> {
    const { bodyRequest, source } = await this.prepare(name, request);
    return { index: name, ...buildSearchBody(bodyRequest), _source: source };
  }

  /** Checks a request against the index and turns it into the query builder's input and a `_source` filter. */
  private async prepare(
    name: string,
    request: ElasticsearchSearchRequest,
  ): Promise<{ bodyRequest: SearchBodyRequest; source: estypes.SearchSourceConfig }> {
    const state = await this.state(name);
    const mode = request.mode ?? 'dense';
    let vectorField: string | undefined;
    let query: QueryVectorSource | undefined;
    if (mode !== 'sparse') {
      const field = this.vectorField(name, state, request.field ?? this.options.vectorField);
      vectorField = field.path;
      if (request.vector) {
        if (field.dims !== undefined && request.vector.length !== field.dims) {
          throw new ElasticsearchBackendError(
            'dims_mismatch',
            `elasticsearch: index '${name}' field '${field.path}' holds ${field.dims}-d vectors but the query vector has ${request.vector.length} dims; the SAE's embedding model does not match the index — search an index built with that model`,
          );
        }
        query = { vector: request.vector };
      } else if (request.text !== undefined) {
        const modelId = request.modelId ?? this.options.queryModelId;
        if (!modelId) {
          throw new ElasticsearchBackendError(
            'invalid_request',
            `elasticsearch: a query text needs a model deployed in the cluster to embed it; set "elasticsearch": {"queryModelId": ...} or pass a query vector`,
          );
        }
        query = { text: request.text, modelId };
      }
    }
    if (mode !== 'dense' && !state.latentFields.includes(this.latentField)) {
      throw new ElasticsearchBackendError(
        'no_vector_field',
        `elasticsearch: index '${name}' has no sparse_vector field '${this.latentField}' for mode=${mode}; write the latents with \`steer index --latents\`, or use mode=dense`,
      );
    }
    if (mode !== 'dense') await this.adviseOnUnrecordedNorm(name, state);
    const filter: estypes.QueryDslQueryContainer[] = [];
    if (request.filter) filter.push(compileFilter(request.filter, { termField: this.termField(state) }));
    if (request.rawFilter)
      filter.push(...(Array.isArray(request.rawFilter) ? request.rawFilter : [request.rawFilter]));
    const bodyRequest: SearchBodyRequest = {
      mode,
      vectorField,
      latentField: this.latentField,
      query,
      latents: request.latents,
      k: request.k,
      numCandidates: request.numCandidates,
      filter,
      similarity: request.similarity,
      rankConstant: request.rankConstant,
      rankWindowSize: request.rankWindowSize,
    };
    return { bodyRequest, source: this.sourceFilter(request, vectorField, state) };
  }

  /**
   * How the document latents of `name` were normalised by `steer index --latents`, as its `_meta` records it;
   * undefined when it records nothing (latents written before Steer recorded the normalisation are raw) or a run
   * writing them has not finished (its record is incomplete: documents may hold latents of either kind).
   */
  async latentNorm(name: string): Promise<LatentNorm | undefined> {
    return (await this.state(name)).latentNorm;
  }

  /**
   * Says once per index how to rewrite latents written before Steer recorded (and applied) their normalisation, or
   * how to finish a `steer index --latents` run that did not finish.
   */
  private async adviseOnUnrecordedNorm(name: string, state: IndexState): Promise<void> {
    if (state.latentNorm !== undefined || this.warnedLatentNorm.has(name)) return;
    // NOTE: the mapping may be cached from before `writeLatents` recorded the normalisation through the client.
    const fresh = await this.state(name, true);
    if (fresh.latentNorm !== undefined) return;
    this.warnedLatentNorm.add(name);
    const message = fresh.latentRecord
      ? this.incompleteNormMessage(name, fresh.latentRecord)
      : await this.unrecordedNormMessage(name);
    if (message === undefined) return;
    const code = fresh.latentRecord ? 'STEER_LATENT_NORM_INCOMPLETE' : 'STEER_LATENT_NORM_UNRECORDED';
    if (this.options.onWarning) this.options.onWarning(message);
    else process.emitWarning(message, { code });
  }

  /** The advice for latents without a recorded normalisation; undefined when no document holds latents. */
  private async unrecordedNormMessage(name: string): Promise<string | undefined> {
    const { count } = await this.call(name, () =>
      this.client.count({ index: name, query: { exists: { field: this.latentField } } }),
    );
    if (count === 0) return undefined;
    return (
      `elasticsearch: index '${name}' holds latents in '${this.latentField}' written without a recorded normalisation ` +
      `(before \`steer index --latents\` unit-normalised document latents), so sparse and hybrid scores are raw dot ` +
      `products, which favour documents with large codes; rewrite them with \`steer index <corpus.jsonl> --index ${name} ` +
      `--latents --latent-norm l2 --sae <dir> --backend elasticsearch\` (without --resume)`
    );
  }

  /** The advice for latents whose record is incomplete: the run writing them did not finish. */
  private incompleteNormMessage(name: string, record: LatentNormRecord): string {
    const leftover = record.replacing
      ? 'the documents it did not reach still hold latents of another or no recorded normalisation'
      : 'the documents it did not reach have no latents yet';
    const command = `steer index <corpus.jsonl> --index ${name} --latents --latent-norm ${record.norm} --sae <dir> --backend elasticsearch`;
    return (
      `elasticsearch: index '${name}' records that a \`steer index --latents --latent-norm ${record.norm}\` run writing ` +
      `'${this.latentField}' did not finish, so ${leftover} and sparse and hybrid scores mix them; finish it with ` +
      `\`${command} --resume\` (the same --latent-norm), or rerun it without --resume`
    );
  }

  private sourceFilter(
    request: ElasticsearchSearchRequest,
    vectorField: string | undefined,
    state: IndexState,
  ): estypes.SearchSourceConfig {
    const filter: estypes.SearchSourceConfig = this.userSourceFilter(request, vectorField);
    // NOTE: from 9.2 new indexes keep vectors out of `_source`; explanations need the latents back.
    if (!request.explain || !state.excludeSourceVectors || filter === false) return filter;
    const object: estypes.SearchSourceFilter =
      filter === true
        ? {}
        : typeof filter === 'string' || Array.isArray(filter)
          ? { includes: filter }
          : filter;
    return { ...object, exclude_vectors: false } as estypes.SearchSourceConfig;
  }

  private userSourceFilter(
    request: ElasticsearchSearchRequest,
    vectorField: string | undefined,
  ): estypes.SearchSourceConfig {
    const latent = this.latentField;
    const source = request.source;
    if (source === undefined) {
      const excludes = [vectorField ?? this.options.vectorField ?? DEFAULT_VECTOR_FIELD];
      if (!request.explain) excludes.push(latent);
      return { excludes };
    }
    if (!request.explain) return source;
    if (source === false) return { includes: [latent] };
    if (source === true) return true;
    if (Array.isArray(source)) return source.length ? [...source, latent] : source;
    if (source.includes?.length) return { ...source, includes: [...source.includes, latent] };
    return { ...source, excludes: (source.excludes ?? []).filter((f) => f !== latent) };
  }

  /**
   * Searches `name` in dense, sparse or hybrid mode. Returns hits with scores, their filtered `_source`, and
   * with `explain`, the latent features behind each score (query weight × document weight).
   */
  async search(name: string, request: ElasticsearchSearchRequest): Promise<ElasticsearchSearchHit[]> {
    const { bodyRequest, source } = await this.prepare(name, request);
    const profile = await this.clusterProfile();
    let hits: Array<{ hit: SourceHit; score: number }> | undefined;
    if (bodyRequest.mode === 'hybrid' && profile.rrf === false) {
      hits = await this.fuseInSteer(name, bodyRequest, source, profile);
    } else {
      const body = { index: name, ...buildSearchBody(bodyRequest), _source: source };
      try {
        const response = await this.call(name, () => this.client.search<Record<string, unknown>>(body));
        hits = response.hits.hits.map((hit) => ({ hit, score: hit._score ?? 0 }));
      } catch (error) {
        if (!isRrfLicenceError(error)) throw error;
        // The licence was unknown (or changed): fuse in Steer from now on.
        profile.rrf = false;
        hits = await this.fuseInSteer(name, bodyRequest, source, profile);
      }
    }
    const userWantsLatents = this.userRequested(request.source, this.latentField);
    const explainTop =
      request.explain === true ? 5 : typeof request.explain === 'number' ? request.explain : 0;
    const queryVector =
      explainTop > 0 && request.latents ? latentsToSparseVector(request.latents) : undefined;
    const state = queryVector ? await this.state(name) : undefined;
    const documentNorm = state && (state.latentNorm ?? (state.latentRecord ? 'incomplete' : 'unrecorded'));
    return hits.map(({ hit, score }) => {
      const hitSource = { ...(hit._source ?? {}) };
      const features = queryVector
        ? explainLatentScore(queryVector, hitSource[this.latentField], explainTop, documentNorm)
        : undefined;
      if (!userWantsLatents) delete hitSource[this.latentField];
      return this.toHit(hit._id ?? '', score, hitSource, features);
    });
  }

  /**
   * Hybrid search where the licence lacks the rrf retriever: the dense and sparse children run as two searches
   * on one point in time (the same snapshot, and `_shard_doc` sort values to break ties as Elasticsearch does),
   * then fuseReciprocalRank merges them. Same hits, order and scores as the cluster's RRF on the same lists.
   */
  private async fuseInSteer(
    name: string,
    bodyRequest: SearchBodyRequest,
    source: estypes.SearchSourceConfig,
    profile: ClusterProfile,
  ): Promise<Array<{ hit: SourceHit; score: number }>> {
    const parts = hybridParts(bodyRequest);
    const { id } = await this.call(name, () =>
      this.client.openPointInTime({ index: name, keep_alive: '1m' }),
    );
    try {
      const child = (body: estypes.SearchRequest) =>
        this.client.search<Record<string, unknown>>({
          ...body,
          pit: { id, keep_alive: '1m' },
          size: parts.window,
          sort: [{ _score: { order: 'desc' } }],
          track_total_hits: false,
          _source: source,
        });
      const sparseQuery: estypes.QueryDslQueryContainer = {
        bool: { must: [parts.sparse], ...(parts.filter.length ? { filter: parts.filter } : {}) },
      };
      const [dense, sparse] = await this.call(name, () =>
        Promise.all([child({ knn: parts.knn }), child({ query: sparseQuery })]),
      );
      return fuseReciprocalRank([dense.hits.hits, sparse.hits.hits], {
        rankConstant: parts.rankConstant,
        rankWindowSize: parts.window,
        legacyTieBreak: profile.legacyRrfTieBreak,
      }).slice(0, parts.size);
    } finally {
      await this.client.closePointInTime({ id }).catch(() => undefined);
    }
  }

  private userRequested(source: SourceFilter | undefined, field: string): boolean {
    if (source === undefined || source === false) return false;
    if (source === true) return true;
    if (Array.isArray(source)) return source.length === 0 || source.includes(field);
    if (source.includes?.length) return source.includes.includes(field);
    return !(source.excludes ?? []).includes(field);
  }

  private toHit(
    id: string,
    score: number,
    source: Record<string, unknown>,
    features?: LatentContribution[],
  ): ElasticsearchSearchHit {
    const text = source[this.textField];
    const metadata: Record<string, Scalar> = {};
    for (const [key, value] of Object.entries(source)) {
      if (
        key === this.textField ||
        key === this.latentField ||
        key === this.options.vectorField ||
        key === DEFAULT_VECTOR_FIELD
      )
        continue;
      if (isScalar(value)) metadata[key] = value;
    }
    const hit: ElasticsearchSearchHit = { id, score, text: typeof text === 'string' ? text : '', source };
    if (Object.keys(metadata).length > 0) hit.metadata = metadata;
    if (features) hit.features = features;
    return hit;
  }

  async deleteDocuments(name: string, ids: string[]): Promise<{ deleted: number }> {
    await this.state(name, true);
    if (ids.length === 0) return { deleted: 0 };
    const response = await this.call(name, () =>
      this.client.bulk({
        operations: ids.map((id) => ({ delete: { _index: name, _id: id } })),
        refresh: 'wait_for',
      }),
    );
    const deleted = response.items.filter((item) => item.delete?.result === 'deleted').length;
    return { deleted };
  }

  async deleteIndex(name: string): Promise<void> {
    await this.call(name, () => this.client.indices.delete({ index: name }));
    this.states.delete(name);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/**
 * Opens the Elasticsearch backend from steer.config.json's `elasticsearch` section and the STEER_ES_* variables
 * of `options.env` (default process.env), or around `options.client`. Connects lazily: the first call reaches
 * the cluster. Throws ElasticsearchBackendError (`config_invalid`) on incomplete settings.
 */
export async function openElasticsearchBackend(
  config: ElasticsearchConfig = {},
  options: { env?: Record<string, string | undefined>; client?: Client } = {},
): Promise<ElasticsearchBackend> {
  const client =
    options.client ?? createElasticsearchClient(esConnectionFromEnv(options.env ?? process.env, config));
  return new ElasticsearchBackend(client, {
    vectorField: config.vectorField,
    textField: config.textField,
    latentField: config.latentField,
    queryModelId: config.queryModelId,
    denseIndexOptions: config.denseIndexOptions,
    ...(config.onWarning ? { onWarning: config.onWarning } : {}),
  });
}
