// Reads the dense vectors (and texts) an existing Elasticsearch index stores, for training and labelling without
// re-embedding: one point in time, pages sorted by `_shard_doc` and continued with `search_after`, in `slices`
// parallel PIT slices; a slice's cursor is the last hit's sort values, so a killed read resumes after its last page.
import { errors } from '@elastic/elasticsearch';
import type { Client, estypes } from '@elastic/elasticsearch';
import type { IndexReader, ReadCursor, ReadPage } from '@steer/search';
import type { ElasticsearchConfig } from './backend.js';
import { createElasticsearchClient, esConnectionFromEnv } from './connection.js';
import { ElasticsearchBackendError, unreachableOr } from './errors.js';
import { denseVectorFields, fieldMapping, steerIndexMeta } from './mapping.js';
import type { DenseVectorField } from './mapping.js';

/** Options of {@link openElasticsearchIndexReader}. */
export interface ElasticsearchReaderOptions {
  /** The dense_vector field; the index's only one when absent. */
  vectorField?: string;
  /** A field holding each document's text (every document must have it). */
  textField?: string;
  /** PIT slices read in parallel (default 1). */
  slices?: number;
  /** A point in time saved by an interrupted read, reused while it is alive. */
  pointInTime?: string;
  /** How long the point in time stays open between pages (default `10m`). */
  keepAlive?: string;
}

/** An index reader whose `resumeState` (the point-in-time id) reopens the same snapshot. */
export interface ElasticsearchIndexReader extends IndexReader {
  readonly resumeState: string;
}

function unreachable(error: unknown): never {
  throw unreachableOr(error);
}

function isMissingContext(error: unknown): boolean {
  return (
    error instanceof errors.ResponseError &&
    error.statusCode === 404 &&
    JSON.stringify(error.body ?? '').includes('search_context_missing_exception')
  );
}

/** The value at a dotted path of a `_source` object. */
function valueAt(source: unknown, path: string): unknown {
  let node = source;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    const record = node as Record<string, unknown>;
    if (path in record && node === source) return record[path];
    node = record[part];
  }
  return node;
}

/** The mappings of `index`. @throws ElasticsearchBackendError `index_not_found`, `es_unreachable`. */
async function readMappings(client: Client, index: string): Promise<unknown> {
  try {
    const response = await client.indices.getMapping({ index });
    return Object.values(response)[0]?.mappings;
  } catch (error) {
    if (error instanceof errors.ResponseError && error.statusCode === 404) {
      throw new ElasticsearchBackendError(
        'index_not_found',
        `elasticsearch: index '${index}' does not exist; check the name (steer train/label --from-index)`,
        { cause: error },
      );
    }
    return unreachable(error);
  }
}

/**
 * The dense_vector field to read: `wanted`, else the index's only one; it must have dims.
 * @throws ElasticsearchBackendError `no_vector_field`, `ambiguous_vector_field`.
 */
function chooseVectorField(
  mappings: unknown,
  index: string,
  wanted: string | undefined,
): DenseVectorField & { dims: number } {
  const dense = denseVectorFields(mappings);
  const names = dense.map((f) => f.path).join(', ') || 'none';
  const field = wanted !== undefined ? dense.find((f) => f.path === wanted) : dense[0];
  if (wanted !== undefined && field === undefined) {
    const other = fieldMapping(mappings, wanted);
    throw new ElasticsearchBackendError(
      'no_vector_field',
      other
        ? `elasticsearch: field '${wanted}' of index '${index}' is ${other.type ?? 'an object'}, not dense_vector; name a dense_vector field (${names})`
        : `elasticsearch: index '${index}' has no field '${wanted}'; its dense_vector fields are: ${names}`,
    );
  }
  if (wanted === undefined && dense.length !== 1) {
    throw new ElasticsearchBackendError(
      dense.length === 0 ? 'no_vector_field' : 'ambiguous_vector_field',
      dense.length === 0
        ? `elasticsearch: index '${index}' has no dense_vector field, so there are no stored vectors to read; index it with vectors first`
        : `elasticsearch: index '${index}' has several dense_vector fields (${names}); name one with --vector-field`,
    );
  }
  const chosen = field!;
  if (chosen.dims === undefined) {
    throw new ElasticsearchBackendError(
      'no_vector_field',
      `elasticsearch: field '${chosen.path}' of index '${index}' has no dims yet (no document set it); index documents first`,
    );
  }
  return { ...chosen, dims: chosen.dims };
}

/**
 * Checks that `textField` is a text or keyword field that every document has.
 * @throws ElasticsearchBackendError `invalid_document` naming how many documents lack it and which.
 */
async function checkTextField(
  client: Client,
  mappings: unknown,
  index: string,
  textField: string,
): Promise<void> {
  const text = fieldMapping(mappings, textField);
  if (text === undefined || (text.type !== 'text' && text.type !== 'keyword')) {
    throw new ElasticsearchBackendError(
      'invalid_document',
      `elasticsearch: index '${index}' has no text field '${textField}'${text ? ` (it is ${text.type ?? 'an object'})` : ''}; name a text or keyword field`,
    );
  }
  const missingQuery: estypes.QueryDslQueryContainer = {
    bool: { must_not: [{ exists: { field: textField } }] },
  };
  const missing = await client.count({ index, query: missingQuery }).catch(unreachable);
  if (missing.count > 0) {
    const examples = await client
      .search({ index, size: 3, _source: false, query: missingQuery })
      .catch(unreachable);
    throw new ElasticsearchBackendError(
      'invalid_document',
      `elasticsearch: text field '${textField}' is missing on ${missing.count} documents of index '${index}' (e.g. ${examples.hits.hits.map((h) => `'${h._id}'`).join(', ')}); fill it, or name a field every document has`,
    );
  }
}

/** One page of hits as ids, vectors and texts. @throws ElasticsearchBackendError `invalid_document`. */
function pageOf(
  hits: Array<estypes.SearchHit<Record<string, unknown>>>,
  read: { index: string; dims: number; vectorPath: string; textField: string | undefined },
): ReadPage {
  const { index, dims, vectorPath, textField } = read;
  const page: ReadPage = { ids: [], vectors: new Float32Array(hits.length * dims) };
  if (textField !== undefined) page.texts = [];
  hits.forEach((hit, i) => {
    const vector = valueAt(hit._source, vectorPath);
    if (!Array.isArray(vector) || vector.length !== dims) {
      throw new ElasticsearchBackendError(
        'invalid_document',
        `elasticsearch: document '${hit._id}' of index '${index}' has no ${dims}-dim '${vectorPath}' in _source (${Array.isArray(vector) ? `${vector.length} values` : 'absent; are vectors excluded from _source?'}); read another field or re-index it`,
      );
    }
    page.vectors.set(vector as number[], i * dims);
    page.ids.push(hit._id!);
    if (textField !== undefined) {
      const text = valueAt(hit._source, textField);
      if (typeof text !== 'string') {
        throw new ElasticsearchBackendError(
          'invalid_document',
          `elasticsearch: text field '${textField}' is missing on document '${hit._id}' of index '${index}' (added while reading?); fill it and run again`,
        );
      }
      page.texts!.push(text);
    }
  });
  return page;
}

/**
 * Opens `index` of the cluster (`config`, the STEER_ES_* variables of `env`, or a given `client`) for reading its
 * stored vectors and texts.
 * @throws ElasticsearchBackendError `index_not_found`, `no_vector_field` (the field is missing or not dense_vector),
 * `ambiguous_vector_field`, `invalid_document` (the text field is missing on some documents; the message names the
 * index, the field, how many and which), `es_unreachable`.
 */
export async function openElasticsearchIndexReader(
  config: ElasticsearchConfig,
  index: string,
  options: ElasticsearchReaderOptions = {},
  connection: { env?: Record<string, string | undefined>; client?: Client } = {},
): Promise<ElasticsearchIndexReader> {
  const client =
    connection.client ??
    createElasticsearchClient(esConnectionFromEnv(connection.env ?? process.env, config));
  const keepAlive = options.keepAlive ?? '10m';
  const mappings = await readMappings(client, index);
  const field = chooseVectorField(mappings, index, options.vectorField ?? config.vectorField);
  const dims = field.dims;
  const textField = options.textField;
  if (textField !== undefined) await checkTextField(client, mappings, index, textField);

  // The point in time: the saved one while it lives, else a new one.
  let pit: string | undefined;
  let total = 0;
  const count = async (id: string): Promise<number> => {
    const response = await client.search({
      pit: { id, keep_alive: keepAlive },
      size: 0,
      track_total_hits: true,
    });
    pit = response.pit_id ?? id;
    const hits = response.hits.total;
    return typeof hits === 'number' ? hits : (hits?.value ?? 0);
  };
  if (options.pointInTime !== undefined) {
    try {
      total = await count(options.pointInTime);
    } catch (error) {
      if (!isMissingContext(error)) unreachable(error);
      pit = undefined;
    }
  }
  if (pit === undefined) {
    const opened = await client.openPointInTime({ index, keep_alive: keepAlive }).catch(unreachable);
    total = await count(opened.id).catch(unreachable);
  }
  const slices = Math.max(1, options.slices ?? 1);
  const done = new Set<number>();
  let pagesRead = 0;
  const sourceFields = [field.path, ...(textField !== undefined ? [textField] : [])];
  const vectorPath = field.path;

  const reader: ElasticsearchIndexReader = {
    index,
    vectorField: vectorPath,
    ...(textField !== undefined ? { textField } : {}),
    dims,
    ...steerIndexMeta(mappings),
    total,
    snapshot: `elasticsearch:${index}:${total}`,
    slices,
    get resumeState() {
      return pit!;
    },
    async read(slice: number, cursor: ReadCursor, size: number) {
      const response = await client
        .search<Record<string, unknown>>({
          pit: { id: pit!, keep_alive: keepAlive },
          sort: ['_shard_doc'],
          size,
          track_total_hits: false,
          _source: sourceFields,
          ...(slices > 1 ? { slice: { id: String(slice), max: slices } } : {}),
          ...(Array.isArray(cursor) ? { search_after: cursor as estypes.SortResults } : {}),
        })
        .catch((error: unknown) => {
          if (isMissingContext(error)) {
            throw new ElasticsearchBackendError(
              'invalid_request',
              `elasticsearch: the point in time on index '${index}' expired while reading; run again with --resume to continue from the last saved page`,
              { cause: error },
            );
          }
          return unreachable(error);
        });
      pit = response.pit_id ?? pit;
      pagesRead++;
      const hits = response.hits.hits;
      if (hits.length === 0) {
        done.add(slice);
        return null;
      }
      const page = pageOf(hits, { index, dims, vectorPath, textField });
      return { page, cursor: hits.at(-1)!.sort as ReadCursor };
    },
    async close() {
      // A point in time read to the end, or not read at all, is closed; one read partly stays open (until
      // keep_alive) so that a resumed read continues on the same snapshot.
      if ((done.size === slices || pagesRead === 0) && pit !== undefined) {
        await client.closePointInTime({ id: pit }).catch(() => undefined);
      }
      if (connection.client === undefined) await client.close();
    },
  };
  return reader;
}
