// How documents map to LanceDB columns: fixed columns plus one typed, nullable column per metadata key.

/** The type of a metadata key's column, fixed by the first non-null value the index sees. */
export type MetadataFieldType = 'string' | 'number' | 'boolean';

/** Prefix of the per-key metadata columns; the fixed columns never start with it. */
export const METADATA_COLUMN_PREFIX = 'meta_';

/**
 * Column name of metadata key `key`: `meta_` + the key with ASCII letters and digits kept and every
 * other UTF-8 byte (including `_`) written as `_` + two hex digits, so any key maps to a distinct
 * SQL-safe identifier (`source_url` -> `meta_source_5furl`, `année` -> `meta_ann_c3_a9e`).
 */
export function metadataColumnName(key: string): string {
  let out = METADATA_COLUMN_PREFIX;
  for (const byte of Buffer.from(key, 'utf8')) {
    const isAlnum =
      (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
    out += isAlnum ? String.fromCharCode(byte) : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** Inverse of {@link metadataColumnName}; undefined when `column` is not a metadata column. */
export function metadataKeyOfColumn(column: string): string | undefined {
  if (!column.startsWith(METADATA_COLUMN_PREFIX)) return undefined;
  const encoded = column.slice(METADATA_COLUMN_PREFIX.length);
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '_') {
      bytes.push(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(encoded.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
