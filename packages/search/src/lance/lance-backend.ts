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

import { connect, Index, type Connection } from '@lancedb/lancedb';
import { join } from 'node:path';
import type {
  BulkProgress,
  CreateIndexOptions,
  IndexedDocument,
  IndexInfo,
  KnnQuery,
  ModeQuery,
  SearchBackend,
  SearchHit,
  Similarity,
} from '../backend.js';
import { ensureWritableDir } from '../data-dir.js';
import { SearchError } from '../errors.js';
import { lanceDistanceToScore } from '../scoring.js';
import { arrow } from './arrow.js';
import { compileFilterToSql } from './filter-sql.js';
import { lance, message, notFound } from './lance-call.js';
import {
  describeTable,
  FORMAT_VERSION,
  SCHEMA_KEY,
  vectorType,
  writeBatch,
  type OpenIndex,
  type Row,
} from './table.js';
import { assertIndexName, validateCreateOptions, validateDocument, validateQuery } from './validation.js';

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
const DISTANCE_TYPE: Record<Similarity, 'cosine' | 'dot' | 'l2'> = {
  cosine: 'cosine',
  dot_product: 'dot',
  l2_norm: 'l2',
};

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
  /** Dense vectors only: no latents are stored, so no sparse or hybrid search and no latent explanation. */
  readonly capabilities = { dense: true, sparse: false, hybrid: false, explain: false };
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

  async search(name: string, { mode, vector, k, numCandidates, filter }: ModeQuery): Promise<SearchHit[]> {
    if (mode !== 'dense') {
      throw new SearchError(
        'invalid_query',
        `lancedb: mode=${mode} needs SAE latents stored in the index, and this store keeps dense vectors only; use mode=dense`,
      );
    }
    return this.knnSearch(name, { vector, k, numCandidates, filter });
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

function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
