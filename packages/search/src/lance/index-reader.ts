// Reads the vectors (and texts) an embedded-store index holds, for training and labelling without re-embedding: rows
// are taken by offset from one pinned table version, so a resumed read sees exactly the rows an interrupted one saw.
import { connect } from '@lancedb/lancedb';
import { join } from 'node:path';
import type { IndexReader, ReadCursor, ReadPage } from '../backend.js';
import { SearchError } from '../errors.js';
import { arrow } from './arrow.js';
import { metadataColumnName } from './columns.js';
import { lance, notFound } from './lance-call.js';
import { describeTable } from './table.js';

/** Options of {@link openLanceIndexReader}. */
export interface LanceReaderOptions {
  /** The vector column; the store keeps one, `vector` (the default). */
  vectorField?: string;
  /** `text`, or a metadata key holding text; absent: vectors only. */
  textField?: string;
  /** Read this table version (a resumed read passes the snapshot it saved); default the latest. */
  version?: number;
  /** Independent offset ranges to read (default 1). */
  slices?: number;
}

/**
 * Opens index `name` of the store under `<dataDir>/lancedb/` for reading.
 * @throws SearchError `index_not_found`, `index_invalid` (the vector field is not the vector column, the text field is
 * not a text column, or some documents lack the text: the message names the index, the field and example ids), and
 * `backend_error` when the table version to resume is gone.
 */
export async function openLanceIndexReader(
  dataDir: string,
  name: string,
  options: LanceReaderOptions = {},
): Promise<IndexReader> {
  const root = join(dataDir, 'lancedb');
  const db = await lance(`open the store at ${root}`, () => connect(root));
  const close = async (): Promise<void> => db.close();
  try {
    const names = await lance('list indexes', () => db.tableNames());
    if (!names.includes(name)) throw notFound(name, root);
    const table = await lance(`open index '${name}'`, () => db.openTable(name));
    if (options.version !== undefined) {
      const version = options.version;
      await lance(
        `check out version ${version} of '${name}' (the index changed since the interrupted read and its old version was cleaned up; start the read over)`,
        () => table.checkout(version),
      );
    }
    const snapshotVersion = await lance(`read version of '${name}'`, () => table.version());
    const info = await describeTable(name, table);
    const vectorField = options.vectorField ?? 'vector';
    if (vectorField !== 'vector') {
      const field = info.schema.fields.find(
        (f) => f.name === vectorField || f.name === metadataColumnName(vectorField),
      );
      const what = field ? `a ${field.type} column` : 'not a column';
      throw new SearchError(
        'index_invalid',
        `lancedb: field '${vectorField}' of index '${name}' is ${what}, not a vector field; the index keeps its ${info.dims}-dim vectors in 'vector' (leave --vector-field out)`,
      );
    }
    let textColumn: string | undefined;
    if (options.textField !== undefined) {
      textColumn = options.textField === 'text' ? 'text' : metadataColumnName(options.textField);
      const field = info.schema.fields.find((f) => f.name === textColumn);
      const known = ['text', ...info.fields.keys()].join(', ');
      if (!field || !arrow.DataType.isUtf8(field.type)) {
        throw new SearchError(
          'index_invalid',
          `lancedb: index '${name}' has no text field '${options.textField}' (${field ? 'it is not a string field' : 'no such field'}); its text fields are: ${known}`,
        );
      }
      const missing = await lance(`count documents of '${name}' without '${options.textField}'`, () =>
        table.countRows(`\`${textColumn}\` IS NULL`),
      );
      if (missing > 0) {
        const examples = (await lance(`find documents without '${options.textField}'`, () =>
          table.query().where(`\`${textColumn}\` IS NULL`).select(['id']).limit(3).toArray(),
        )) as Array<{ id: string }>;
        throw new SearchError(
          'index_invalid',
          `lancedb: text field '${options.textField}' is missing on ${missing} documents of index '${name}' (e.g. ${examples.map((e) => `'${e.id}'`).join(', ')}); fill it, or name a field every document has`,
        );
      }
    }
    const total = await lance(`count '${name}'`, () => table.countRows());
    const slices = Math.max(1, Math.min(options.slices ?? 1, total || 1));
    const bounds = (slice: number): [number, number] => [
      Math.floor((slice * total) / slices),
      Math.floor(((slice + 1) * total) / slices),
    ];
    const columns = ['id', 'vector', ...(textColumn ? [textColumn] : [])];
    return {
      index: name,
      vectorField,
      ...(options.textField !== undefined ? { textField: options.textField } : {}),
      dims: info.dims,
      ...(info.embeddingModel !== undefined ? { embeddingModel: info.embeddingModel } : {}),
      total,
      snapshot: `lancedb:${name}@${snapshotVersion}`,
      slices,
      async read(slice: number, cursor: ReadCursor, size: number) {
        const [start, end] = bounds(slice);
        const from = typeof cursor === 'number' ? cursor : start;
        if (from >= end) return null;
        const count = Math.min(size, end - from);
        const offsets = Array.from({ length: count }, (_, i) => from + i);
        const batch = await lance(`read rows ${from}..${from + count - 1} of '${name}'`, () =>
          table.takeOffsets(offsets).select(columns).toArrow(),
        );
        const page: ReadPage = { ids: [], vectors: new Float32Array(count * info.dims) };
        if (textColumn) page.texts = [];
        const ids = batch.getChild('id')!;
        const vectors = batch.getChild('vector')!;
        const texts = textColumn ? batch.getChild(textColumn)! : undefined;
        for (let i = 0; i < batch.numRows; i++) {
          page.ids.push(String(ids.get(i)));
          page.vectors.set(vectors.get(i).toArray() as Float32Array, i * info.dims);
          if (texts) page.texts!.push(String(texts.get(i)));
        }
        if (batch.numRows !== count) {
          throw new SearchError(
            'backend_error',
            `lancedb: index '${name}' returned ${batch.numRows} of rows ${from}..${from + count - 1}; the table changed while reading, start the read over`,
          );
        }
        return { page, cursor: from + count };
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
