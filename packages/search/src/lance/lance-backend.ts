// The embedded search backend: one LanceDB table per index under `<dataDir>/lancedb/`.
//
// Storage design (one table per index, `<dataDir>/lancedb/<name>.lance`):
// - fixed columns `id` (Utf8, the merge key), `text` (Utf8), `metadata` (Utf8, the document's metadata as
//   JSON, returned on hits exactly as given) and `vector` (FixedSizeList<Float32>[dims]);
// - one nullable column per metadata key, `meta_<encoded key>` (see `columns.ts`), typed by the first
//   non-null value seen (Utf8 / Float64 / Int8 0-1 for booleans) and added by schema evolution when a new key appears;
//   filters compile to SQL over these columns, so they are prefilters LanceDB evaluates before the kNN.
// - index-level info lives in the Arrow schema metadata of the table (`steer.similarity`,
//   `steer.embedding_model`, `steer.format`); `dims` is the vector column's list size. It is written in
//   the same commit that creates the table, so there is no sidecar to drift out of step.
//
// Writes: documents go in batches (default 1,000) through `mergeInsert('id')`, so a document whose id
// already exists replaces the stored one (within one batch the last one wins). A failed `addDocuments`
// (bad document, failing iterator, LanceDB error) restores the table version it started from: a bulk
// add is all or nothing.
//
// Search: exact (flat) kNN while the table has no vector index. Once an index holds `annThreshold` rows
// (default 50,000) an IVF_HNSW_SQ index is built with the index's distance type; queries then set
// HNSW `ef` = max(k, numCandidates) (numCandidates defaults to Elasticsearch's min(1.5k, 10,000)) and
// `refineFactor(1)`, so the kept hits are re-scored on the full float32 vectors and scores stay exact.
// IVF partitions = ceil(rows / 1M); LanceDB's default 20 probes covers every partition below 20M rows.
// Rows added after the ANN index is built are searched exactly until compaction folds them into it.
//
// One process writes a data directory at a time; table handles do not watch other processes' writes.

import { connect, Index, type Connection, type Table } from '@lancedb/lancedb';
import { join } from 'node:path';
import type {
  BulkProgress,
  CreateIndexOptions,
  IndexedDocument,
  IndexInfo,
  KnnQuery,
  SearchBackend,
  SearchHit,
  Similarity,
} from '../backend.js';
import { ensureWritableDir } from '../data-dir.js';
import { SearchError } from '../errors.js';
import { lanceDistanceToScore } from '../scoring.js';
import { arrow, type Field, type Schema } from './arrow.js';
import { metadataColumnName, metadataKeyOfColumn, type MetadataFieldType } from './columns.js';
import { compileFilterToSql } from './filter-sql.js';

/** Options of {@link openLanceBackend}. */
export interface LanceBackendOptions {
  /** Documents per write batch (and per progress report). Default 1,000. */
  batchSize?: number;
  /** Build an IVF_HNSW_SQ index once an index holds this many rows; `false` keeps search exact. Default 50,000. */
  annThreshold?: number | false;
}

const DEFAULT_BATCH_SIZE = 1_000;
const DEFAULT_ANN_THRESHOLD = 50_000;
const ROWS_PER_ANN_PARTITION = 1_000_000;
/** Compact once this many small fragments (one per written batch) pile up. */
const SMALL_FRAGMENTS_BEFORE_COMPACTION = 16;
const MAX_DIMS = 65_536;
/** Elasticsearch rejects dot_product vectors whose magnitude is further than this from 1. */
const UNIT_MAGNITUDE_TOLERANCE = 1e-3;
const INDEX_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const SCHEMA_KEY = {
  format: 'steer.format',
  similarity: 'steer.similarity',
  embeddingModel: 'steer.embedding_model',
} as const;
const FORMAT_VERSION = '1';
const DISTANCE_TYPE: Record<Similarity, 'cosine' | 'dot' | 'l2'> = {
  cosine: 'cosine',
  dot_product: 'dot',
  l2_norm: 'l2',
};
const SIMILARITIES: readonly Similarity[] = ['cosine', 'dot_product', 'l2_norm'];

/** What the backend keeps about an open index. */
export interface OpenIndex {
  name: string;
  table: Table;
  dims: number;
  similarity: Similarity;
  embeddingModel?: string;
  schema: Schema;
  /** Metadata keys that have a column, with the column's type. */
  fields: Map<string, MetadataFieldType>;
  hasAnnIndex: boolean;
}

/** A validated document, ready to become one Arrow row. */
interface Row {
  id: string;
  text: string;
  metadataJson: string;
  metadata: Record<string, string | number | boolean | null>;
  vector: ArrayLike<number>;
}

/**
 * Opens (creating it when missing) the embedded LanceDB store under `<dataDir>/lancedb/`.
 * Returns a {@link SearchBackend} of kind `lancedb`; call `close()` when done so the process can exit.
 * @throws SearchError `data_dir_unwritable` when the directory cannot be created or written (nothing is left behind).
 */
export async function openLanceBackend(
  dataDir: string,
  options: LanceBackendOptions = {},
): Promise<SearchBackend> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new SearchError(
      'invalid_index_options',
      `lancedb: batchSize must be a positive integer but is ${batchSize}`,
    );
  }
  const annThreshold = options.annThreshold ?? DEFAULT_ANN_THRESHOLD;
  if (annThreshold !== false && (!Number.isInteger(annThreshold) || annThreshold < 1)) {
    throw new SearchError(
      'invalid_index_options',
      `lancedb: annThreshold must be a positive integer or false but is ${String(annThreshold)}`,
    );
  }
  const root = join(dataDir, 'lancedb');
  await ensureWritableDir(root);
  let db: Connection;
  try {
    db = await connect(root);
  } catch (error) {
    throw new SearchError('backend_error', `lancedb: cannot open the store at ${root}: ${message(error)}`, {
      cause: error,
    });
  }
  return new LanceBackend(db, root, batchSize, annThreshold);
}

class LanceBackend implements SearchBackend {
  readonly kind = 'lancedb';
  private readonly open = new Map<string, OpenIndex>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly db: Connection,
    private readonly root: string,
    private readonly batchSize: number,
    private readonly annThreshold: number | false,
  ) {}

  async createIndex(name: string, options: CreateIndexOptions): Promise<IndexInfo> {
    this.assertOpen();
    assertIndexName(name);
    validateCreateOptions(name, options);
    return this.withLock(name, async () => {
      if (await this.exists(name)) {
        if (options.overwrite !== true) {
          throw new SearchError(
            'index_exists',
            `lancedb: index '${name}' already exists in ${this.root}; pass overwrite: true (--overwrite) to replace it or pick another name`,
          );
        }
        this.forget(name);
        await lance(`drop index '${name}'`, () => this.db.dropTable(name));
      }
      const metadata = new Map<string, string>([
        [SCHEMA_KEY.format, FORMAT_VERSION],
        [SCHEMA_KEY.similarity, options.similarity],
      ]);
      if (options.embeddingModel !== undefined)
        metadata.set(SCHEMA_KEY.embeddingModel, options.embeddingModel);
      const schema = new arrow.Schema(
        [
          new arrow.Field('id', new arrow.Utf8(), false),
          new arrow.Field('text', new arrow.Utf8(), false),
          new arrow.Field('metadata', new arrow.Utf8(), true),
          new arrow.Field('vector', vectorType(options.dims), false),
        ],
        metadata,
      );
      const table = await lance(`create index '${name}'`, () =>
        this.db.createEmptyTable(name, schema, { mode: 'create' }),
      );
      this.open.set(name, await describeTable(name, table));
      return {
        name,
        dims: options.dims,
        similarity: options.similarity,
        ...(options.embeddingModel !== undefined ? { embeddingModel: options.embeddingModel } : {}),
        count: 0,
      };
    });
  }

  async describeIndex(name: string): Promise<IndexInfo> {
    const index = await this.index(name);
    const count = await lance(`count '${name}'`, () => index.table.countRows());
    return {
      name,
      dims: index.dims,
      similarity: index.similarity,
      ...(index.embeddingModel !== undefined ? { embeddingModel: index.embeddingModel } : {}),
      count,
    };
  }

  async listIndexes(): Promise<string[]> {
    this.assertOpen();
    return this.tableNames();
  }

  async addDocuments(
    name: string,
    documents: AsyncIterable<IndexedDocument> | Iterable<IndexedDocument>,
    options: { total?: number; onProgress?: (progress: BulkProgress) => void } = {},
  ): Promise<{ added: number }> {
    const index = await this.index(name);
    return this.withLock(name, async () => {
      const knownTotal = options.total ?? (Array.isArray(documents) ? documents.length : undefined);
      const startVersion = await lance(`read version of '${name}'`, () => index.table.version());
      let done = 0;
      let batch: Row[] = [];
      try {
        for await (const document of documents) {
          batch.push(validateDocument(index, document, done + batch.length));
          if (batch.length >= this.batchSize) {
            await writeBatch(index, batch);
            done += batch.length;
            batch = [];
            options.onProgress?.({ done, total: knownTotal ?? done });
          }
        }
        if (batch.length > 0) {
          await writeBatch(index, batch);
          done += batch.length;
          options.onProgress?.({ done, total: knownTotal ?? done });
        }
      } catch (error) {
        await this.rollback(index, startVersion, error);
        throw error;
      }
      if (done > 0) await this.maintain(index);
      return { added: done };
    });
  }

  async knnSearch(name: string, query: KnnQuery): Promise<SearchHit[]> {
    const index = await this.index(name);
    validateQuery(index, query);
    const where = query.filter === undefined ? undefined : compileFilterToSql(query.filter, index.fields);
    const count = await lance(`count '${name}'`, () => index.table.countRows());
    if (count === 0) {
      throw new SearchError(
        'empty_index',
        `lancedb: index '${name}' holds no documents; add some first (steer index) before searching it`,
      );
    }
    const vector = Float32Array.from(query.vector);
    let search = index.table
      .vectorSearch(vector)
      .column('vector')
      .distanceType(DISTANCE_TYPE[index.similarity])
      .select(['id', 'text', 'metadata', '_distance'])
      .limit(query.k);
    if (where !== undefined) search = search.where(where);
    if (index.hasAnnIndex) {
      const numCandidates = query.numCandidates ?? Math.min(Math.ceil(1.5 * query.k), 10_000);
      search = search.ef(Math.max(query.k, numCandidates)).refineFactor(1);
    }
    const rows = (await lance(`search '${name}'`, () => search.toArray())) as Array<{
      id: string;
      text: string;
      metadata: string | null;
      _distance: number;
    }>;
    const hits = rows.map((row): SearchHit => {
      const hit: SearchHit = {
        id: row.id,
        score: lanceDistanceToScore(index.similarity, row._distance),
        text: row.text,
      };
      if (row.metadata !== null && row.metadata !== '')
        hit.metadata = JSON.parse(row.metadata) as SearchHit['metadata'];
      return hit;
    });
    return hits.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async deleteDocuments(name: string, ids: string[]): Promise<{ deleted: number }> {
    const index = await this.index(name);
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) {
      throw new SearchError(
        'invalid_document',
        `lancedb: deleteDocuments('${name}') needs an array of string ids`,
      );
    }
    return this.withLock(name, async () => {
      let deleted = 0;
      const unique = [...new Set(ids)];
      for (let start = 0; start < unique.length; start += 500) {
        const predicate = `\`id\` IN (${unique
          .slice(start, start + 500)
          .map(sqlString)
          .join(', ')})`;
        const matching = await lance(`count '${name}'`, () => index.table.countRows(predicate));
        if (matching === 0) continue;
        await lance(`delete from '${name}'`, () => index.table.delete(predicate));
        deleted += matching;
      }
      return { deleted };
    });
  }

  async deleteIndex(name: string): Promise<void> {
    this.assertOpen();
    assertIndexName(name);
    await this.withLock(name, async () => {
      if (!(await this.exists(name))) throw notFound(name, this.root);
      this.forget(name);
      await lance(`drop index '${name}'`, () => this.db.dropTable(name));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.locks.values()]);
    for (const name of [...this.open.keys()]) this.forget(name);
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new SearchError(
        'backend_closed',
        `lancedb: the backend for ${this.root} is closed; open a new one`,
      );
    }
  }

  /** The open index `name`, opening and describing its table on first use. */
  private async index(name: string): Promise<OpenIndex> {
    this.assertOpen();
    assertIndexName(name);
    const cached = this.open.get(name);
    if (cached !== undefined) return cached;
    if (!(await this.exists(name))) throw notFound(name, this.root);
    const table = await lance(`open index '${name}'`, () => this.db.openTable(name));
    const index = await describeTable(name, table);
    this.open.set(name, index);
    return index;
  }

  private async exists(name: string): Promise<boolean> {
    return (await this.tableNames()).includes(name);
  }

  private async tableNames(): Promise<string[]> {
    const names: string[] = [];
    const page = 1_000;
    for (;;) {
      const startAfter = names.at(-1);
      const batch = await lance('list indexes', () =>
        this.db.tableNames({ limit: page, ...(startAfter !== undefined ? { startAfter } : {}) }),
      );
      names.push(...batch);
      if (batch.length < page) return names;
    }
  }

  private forget(name: string): void {
    this.open.get(name)?.table.close();
    this.open.delete(name);
  }

  /** Runs `work` after every earlier write on `name` settled, so writes to one index never interleave. */
  private async withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.locks.set(name, settled);
    try {
      return await next;
    } finally {
      if (this.locks.get(name) === settled) this.locks.delete(name);
    }
  }

  /** Puts the table back at `version` after a failed bulk add; reports both errors when that fails too. */
  private async rollback(index: OpenIndex, version: number, cause: unknown): Promise<void> {
    try {
      if ((await index.table.version()) === version) return;
      await index.table.checkout(version);
      await index.table.restore();
      const fresh = await describeTable(index.name, index.table);
      index.schema = fresh.schema;
      index.fields = fresh.fields;
    } catch (error) {
      throw new SearchError(
        'backend_error',
        `lancedb: adding to '${index.name}' failed (${message(cause)}) and restoring version ${version} failed too (${message(error)}); ` +
          `inspect ${join(this.root, `${index.name}.lance`)} or rebuild the index`,
        { cause: error },
      );
    }
  }

  /** Compacts small fragments (folding new rows into an ANN index) and builds the ANN index past the threshold. */
  private async maintain(index: OpenIndex): Promise<void> {
    const stats = await lance(`stats of '${index.name}'`, () => index.table.stats());
    if (stats.fragmentStats.numSmallFragments >= SMALL_FRAGMENTS_BEFORE_COMPACTION) {
      // NOTE: old versions are pruned at once: the store has one writer and only rolls back within a call.
      await lance(`optimize '${index.name}'`, () => index.table.optimize({ cleanupOlderThan: new Date() }));
    }
    if (index.hasAnnIndex || this.annThreshold === false || stats.numRows < this.annThreshold) return;
    const numPartitions = Math.max(1, Math.ceil(stats.numRows / ROWS_PER_ANN_PARTITION));
    await lance(`build the ANN index of '${index.name}' (the documents were added)`, () =>
      index.table.createIndex('vector', {
        config: Index.hnswSq({ distanceType: DISTANCE_TYPE[index.similarity], numPartitions }),
        replace: true,
      }),
    );
    index.hasAnnIndex = true;
  }
}

function vectorType(dims: number) {
  return new arrow.FixedSizeList(dims, new arrow.Field('item', new arrow.Float32(), true));
}

/** Reads an index's settings back from its table schema. */
export async function describeTable(name: string, table: Table): Promise<OpenIndex> {
  const schema = await lance(`read schema of '${name}'`, () => table.schema());
  const similarity = schema.metadata.get(SCHEMA_KEY.similarity) as Similarity | undefined;
  const vectorField = schema.fields.find((f) => f.name === 'vector');
  const dims =
    vectorField !== undefined && arrow.DataType.isFixedSizeList(vectorField.type)
      ? vectorField.type.listSize
      : 0;
  if (similarity === undefined || !SIMILARITIES.includes(similarity) || dims === 0) {
    throw new SearchError(
      'index_invalid',
      `lancedb: table '${name}' was not created by steer (no similarity or vector column); delete it or use another index name`,
    );
  }
  const fields = new Map<string, MetadataFieldType>();
  for (const field of schema.fields) {
    const key = metadataKeyOfColumn(field.name);
    if (key === undefined) continue;
    const type = fieldTypeOf(field);
    if (type !== undefined) fields.set(key, type);
  }
  const indices = await lance(`list vector indexes of '${name}'`, () => table.listIndices());
  const embeddingModel = schema.metadata.get(SCHEMA_KEY.embeddingModel);
  return {
    name,
    table,
    dims,
    similarity,
    ...(embeddingModel !== undefined ? { embeddingModel } : {}),
    schema,
    fields,
    hasAnnIndex: indices.some((i) => i.columns.includes('vector')),
  };
}

function fieldTypeOf(field: Field): MetadataFieldType | undefined {
  if (arrow.DataType.isUtf8(field.type)) return 'string';
  if (arrow.DataType.isFloat(field.type)) return 'number';
  if (arrow.DataType.isInt(field.type)) return 'boolean';
  return undefined;
}

function arrowTypeOf(type: MetadataFieldType) {
  switch (type) {
    case 'string':
      return new arrow.Utf8();
    case 'number':
      return new arrow.Float64();
    case 'boolean':
      // NOTE: booleans are stored as Int8 0/1: apache-arrow 18 serialises an all-null Bool column with
      // an empty value buffer, which LanceDB rejects ("Need at least 1 bytes for bitmap").
      return new arrow.Int8();
  }
}

/** Adds columns for new metadata keys, then merges `rows` on `id` (last duplicate in the batch wins). */
async function writeBatch(index: OpenIndex, rows: Row[]): Promise<void> {
  const byId = new Map<string, Row>();
  for (const row of rows) {
    byId.delete(row.id);
    byId.set(row.id, row);
  }
  const unique = [...byId.values()];
  const newFields = new Map<string, MetadataFieldType>();
  for (const row of unique) {
    for (const [key, value] of Object.entries(row.metadata)) {
      if (value === null) continue;
      const type = typeof value as MetadataFieldType;
      const known = index.fields.get(key) ?? newFields.get(key);
      if (known === undefined) newFields.set(key, type);
      else if (known !== type) {
        throw new SearchError(
          'metadata_type_mismatch',
          `lancedb: document '${row.id}' has metadata '${key}' = ${JSON.stringify(value)} (${type}) but index '${index.name}' ` +
            `stores ${known} values under '${key}'; convert it to a ${known} or use another key`,
        );
      }
    }
  }
  if (newFields.size > 0) {
    const fields = [...newFields].map(
      ([key, type]) => new arrow.Field(metadataColumnName(key), arrowTypeOf(type), true),
    );
    await lance(`add metadata columns to '${index.name}'`, () => index.table.addColumns(fields));
    for (const [key, type] of newFields) index.fields.set(key, type);
    index.schema = await lance(`read schema of '${index.name}'`, () => index.table.schema());
  }
  const data = toArrowTable(index, unique);
  await lance(`write to '${index.name}'`, () =>
    index.table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data),
  );
}

/** Builds one Arrow record batch in the table's exact schema. */
function toArrowTable(index: OpenIndex, rows: Row[]) {
  const flat = new Float32Array(rows.length * index.dims);
  rows.forEach((row, i) => flat.set(Array.from(row.vector), i * index.dims));
  const children = index.schema.fields.map((field) => {
    switch (field.name) {
      case 'id':
        return column(
          rows.map((r) => r.id),
          field,
        );
      case 'text':
        return column(
          rows.map((r) => r.text),
          field,
        );
      case 'metadata':
        return column(
          rows.map((r) => r.metadataJson),
          field,
        );
      case 'vector': {
        const child = arrow.makeData({ type: new arrow.Float32(), length: flat.length, data: flat });
        return arrow.makeData({ type: vectorType(index.dims), length: rows.length, nullCount: 0, child });
      }
      default: {
        const key = metadataKeyOfColumn(field.name);
        const values = rows.map((r) => (key === undefined ? null : (r.metadata[key] ?? null)));
        return column(
          values.map((v) => (typeof v === 'boolean' ? Number(v) : v)),
          field,
        );
      }
    }
  });
  const struct = arrow.makeData({
    type: new arrow.Struct(index.schema.fields),
    length: rows.length,
    nullCount: 0,
    children,
  });
  return new arrow.Table([new arrow.RecordBatch(index.schema, struct)]);
}

/** One Arrow data chunk of `field`'s type holding `values` (null for a missing value). */
function column(values: unknown[], field: Field) {
  const builder = arrow.makeBuilder({ type: field.type, nullValues: [null, undefined] });
  for (const value of values) builder.append(value);
  return builder.finish().flush();
}

function validateCreateOptions(name: string, options: CreateIndexOptions): void {
  if (!Number.isInteger(options.dims) || options.dims < 1 || options.dims > MAX_DIMS) {
    throw new SearchError(
      'invalid_index_options',
      `lancedb: index '${name}' needs dims as an integer in 1..${MAX_DIMS} but got ${String(options.dims)}; pass the embedding model's dimension`,
    );
  }
  if (!SIMILARITIES.includes(options.similarity)) {
    throw new SearchError(
      'invalid_index_options',
      `lancedb: index '${name}' has unknown similarity ${JSON.stringify(options.similarity)}; use cosine, dot_product or l2_norm`,
    );
  }
  if (options.embeddingModel !== undefined && typeof options.embeddingModel !== 'string') {
    throw new SearchError(
      'invalid_index_options',
      `lancedb: index '${name}' embeddingModel must be a string`,
    );
  }
}

function validateDocument(index: OpenIndex, document: IndexedDocument, position: number): Row {
  const where = `document #${position}`;
  if (document === null || typeof document !== 'object') {
    throw new SearchError(
      'invalid_document',
      `lancedb: ${where} is not an object; pass { id, text, vector, metadata? }`,
    );
  }
  const { id, text, metadata } = document;
  if (typeof id !== 'string' || id.length === 0) {
    throw new SearchError(
      'invalid_document',
      `lancedb: ${where} has no id; give every document a non-empty string id`,
    );
  }
  if (typeof text !== 'string') {
    throw new SearchError(
      'invalid_document',
      `lancedb: document '${id}' has no text; pass its text as a string`,
    );
  }
  const cleanMetadata: Record<string, string | number | boolean | null> = {};
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new SearchError(
        'invalid_document',
        `lancedb: document '${id}' metadata must be an object of scalar values`,
      );
    }
    for (const [key, value] of Object.entries(metadata)) {
      const ok =
        value === null ||
        typeof value === 'string' ||
        typeof value === 'boolean' ||
        (typeof value === 'number' && Number.isFinite(value));
      if (!ok || key.length === 0) {
        throw new SearchError(
          'invalid_document',
          `lancedb: document '${id}' metadata '${key}' = ${String(value)} is not a string, finite number, boolean or null; flatten or drop it`,
        );
      }
      cleanMetadata[key] = value;
    }
  }
  checkVector(index, document.vector, `document '${id}'`);
  return {
    id,
    text,
    metadata: cleanMetadata,
    metadataJson: JSON.stringify(cleanMetadata),
    vector: document.vector,
  };
}

function validateQuery(index: OpenIndex, query: KnnQuery): void {
  if (query === null || typeof query !== 'object') {
    throw new SearchError(
      'invalid_query',
      `lancedb: the query for '${index.name}' must be { vector, k, numCandidates?, filter? }`,
    );
  }
  if (!Number.isInteger(query.k) || query.k < 1) {
    throw new SearchError('invalid_query', `lancedb: k must be a positive integer but is ${String(query.k)}`);
  }
  if (
    query.numCandidates !== undefined &&
    (!Number.isInteger(query.numCandidates) || query.numCandidates < query.k)
  ) {
    throw new SearchError(
      'invalid_query',
      `lancedb: numCandidates must be an integer >= k (${query.k}) but is ${String(query.numCandidates)}; raise it or leave it out`,
    );
  }
  checkVector(index, query.vector, 'the query vector');
}

/** Checks length, finiteness and what the similarity needs (non-zero for cosine, unit length for dot_product). */
function checkVector(index: OpenIndex, vector: ArrayLike<number> | undefined, what: string): void {
  if (vector === undefined || vector === null || typeof vector.length !== 'number') {
    throw new SearchError(
      'invalid_vector',
      `lancedb: ${what} has no vector; pass a Float32Array of ${index.dims} dims`,
    );
  }
  if (vector.length !== index.dims) {
    const model = index.embeddingModel !== undefined ? ` (${index.embeddingModel})` : '';
    throw new SearchError(
      'dims_mismatch',
      `lancedb: ${what} has ${vector.length} dims but index '${index.name}' expects ${index.dims}${model}; ` +
        `embed with the index's model or create a new index with dims ${vector.length}`,
    );
  }
  let normSq = 0;
  for (let i = 0; i < vector.length; i++) {
    const value = vector[i]!;
    if (!Number.isFinite(value)) {
      throw new SearchError(
        'invalid_vector',
        `lancedb: ${what} has ${String(value)} at position ${i}; vectors must be finite, re-embed the text`,
      );
    }
    normSq += value * value;
  }
  if (index.similarity === 'cosine' && normSq === 0) {
    throw new SearchError(
      'invalid_vector',
      `lancedb: ${what} is all zeros, which has no cosine similarity; drop it or re-embed it`,
    );
  }
  if (index.similarity === 'dot_product' && Math.abs(Math.sqrt(normSq) - 1) > UNIT_MAGNITUDE_TOLERANCE) {
    throw new SearchError(
      'invalid_vector',
      `lancedb: ${what} has magnitude ${Math.sqrt(normSq).toFixed(4)} but index '${index.name}' uses dot_product, ` +
        `which needs unit vectors; normalize it or create the index with cosine`,
    );
  }
}

function assertIndexName(name: string): void {
  if (typeof name !== 'string' || !INDEX_NAME_PATTERN.test(name)) {
    throw new SearchError(
      'invalid_index_name',
      `lancedb: index name ${JSON.stringify(name)} is not valid; use 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit`,
    );
  }
}

export function notFound(name: string, root: string): SearchError {
  return new SearchError(
    'index_not_found',
    `lancedb: no index '${name}' in ${root}; create it first (steer index) or check the index name and --data-dir`,
  );
}

function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs a LanceDB call, turning its errors into SearchError `backend_error` that says what was being done. */
export async function lance<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof SearchError) throw error;
    throw new SearchError('backend_error', `lancedb: ${what} failed: ${message(error)}`, { cause: error });
  }
}
