// The table layout of an index and the conversion of validated documents to Arrow: the schema metadata that
// records the index's settings, one typed column per metadata key, and the merge of a batch of rows on `id`.
import type { Table } from '@lancedb/lancedb';
import type { Similarity } from '../backend.js';
import { SearchError } from '../errors.js';
import { arrow, type Field, type Schema } from './arrow.js';
import { metadataColumnName, metadataKeyOfColumn, type MetadataFieldType } from './columns.js';
import { lance } from './lance-call.js';

export const SCHEMA_KEY = {
  format: 'steer.format',
  similarity: 'steer.similarity',
  embeddingModel: 'steer.embedding_model',
} as const;
export const FORMAT_VERSION = '1';
export const SIMILARITIES: readonly Similarity[] = ['cosine', 'dot_product', 'l2_norm'];

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
export interface Row {
  id: string;
  text: string;
  metadataJson: string;
  metadata: Record<string, string | number | boolean | null>;
  vector: ArrayLike<number>;
}

export function vectorType(dims: number) {
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
export async function writeBatch(index: OpenIndex, rows: Row[]): Promise<void> {
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
