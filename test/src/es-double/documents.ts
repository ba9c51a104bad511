// Indexes, stored documents and mappings of the Elasticsearch TEST DOUBLE: dynamic mapping, dense_vector and
// sparse_vector validation, and reading field values from `_source` as Elasticsearch resolves dotted paths.
import { EsHttpError, isObject } from './errors.js';
import type { Json, JsonObject } from './errors.js';

/** A dense vector similarity as Elasticsearch's `dense_vector` mapping names it. */
export type Similarity = 'cosine' | 'dot_product' | 'l2_norm';

export interface StoredDoc {
  id: string;
  version: number;
  /**
   * The document's Lucene doc id in the index's single shard: a new one on every write (Lucene appends a new
   * document for an update), so index order is write order. `_doc` and `_shard_doc` sort on it.
   */
  seq: number;
  source: JsonObject;
}

export interface DoubleIndex {
  name: string;
  mappings: JsonObject & { properties: JsonObject };
  /** Flat index settings without the `index.` prefix, e.g. `max_result_window`. */
  settings: JsonObject;
  docs: Map<string, StoredDoc>;
  /** The next Lucene doc id. */
  nextSeq: number;
}

/** Values at a dotted path in a source document (objects and dotted keys both), flattened over arrays. */
export function valuesAt(source: Json, path: string): Json[] {
  if (isObject(source) && path in source) {
    const direct = source[path]!;
    return Array.isArray(direct) ? direct : [direct];
  }
  const dot = path.indexOf('.');
  if (dot < 0 || !isObject(source)) {
    if (Array.isArray(source)) return source.flatMap((item) => valuesAt(item, path));
    return [];
  }
  const parts = path.split('.');
  for (let i = parts.length - 1; i > 0; i--) {
    const head = parts.slice(0, i).join('.');
    if (head in source) {
      const child = source[head]!;
      const rest = parts.slice(i).join('.');
      return Array.isArray(child) ? child.flatMap((item) => valuesAt(item, rest)) : valuesAt(child, rest);
    }
  }
  return [];
}

/** The value at a dotted path without flattening arrays (a dense vector stays one array). */
export function valueAt(source: Json, path: string): Json | undefined {
  if (!isObject(source)) return undefined;
  if (path in source) return source[path];
  const parts = path.split('.');
  for (let i = parts.length - 1; i > 0; i--) {
    const head = parts.slice(0, i).join('.');
    if (head in source) return valueAt(source[head]!, parts.slice(i).join('.'));
  }
  return undefined;
}

/** A field of the mapping, found by its dotted path; `sourcePath` is where its values live in `_source`. */
export interface ResolvedField {
  mapping: JsonObject;
  /** Differs from the path for a multi-field: `genre.keyword` reads `genre`. */
  sourcePath: string;
}

/** Resolves a dotted field path to its mapping (object properties and multi-fields), or undefined. */
export function resolveField(index: DoubleIndex, path: string): ResolvedField | undefined {
  let properties: JsonObject = index.mappings.properties;
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    const mapping = properties[parts[i]!];
    if (!isObject(mapping)) return undefined;
    if (i === parts.length - 1) return { mapping, sourcePath: path };
    if (i === parts.length - 2 && isObject(mapping.fields) && isObject(mapping.fields[parts[i + 1]!])) {
      return {
        mapping: mapping.fields[parts[i + 1]!] as JsonObject,
        sourcePath: parts.slice(0, i + 1).join('.'),
      };
    }
    if (!isObject(mapping.properties)) return undefined;
    properties = mapping.properties;
  }
  return undefined;
}

/** The mapping of a field given its dotted path, or undefined. */
export function fieldMapping(index: DoubleIndex, path: string): JsonObject | undefined {
  return resolveField(index, path)?.mapping;
}

function dynamicMappingFor(index: DoubleIndex, value: Json): JsonObject | undefined {
  if (typeof value === 'string') {
    const templates = Array.isArray(index.mappings.dynamic_templates) ? index.mappings.dynamic_templates : [];
    for (const template of templates) {
      if (!isObject(template)) continue;
      for (const body of Object.values(template)) {
        if (isObject(body) && body.match_mapping_type === 'string' && isObject(body.mapping))
          return { ...body.mapping };
      }
    }
    return { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } };
  }
  if (typeof value === 'number') return { type: Number.isInteger(value) ? 'long' : 'float' };
  if (typeof value === 'boolean') return { type: 'boolean' };
  if (isObject(value)) return { properties: {} };
  return undefined;
}

export function norm(vector: number[]): number {
  let sum = 0;
  for (const v of vector) sum += v * v;
  return Math.sqrt(sum);
}

export function dot(a: number[], b: number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** Checks a dense vector (document or query) against the field's dims and similarity; returns it as numbers. */
export function checkVector(
  field: string,
  vector: Json,
  dims: number | undefined,
  similarity: Similarity,
): number[] {
  if (!Array.isArray(vector) || !vector.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new EsHttpError(
      400,
      'document_parsing_exception',
      `[1:1] failed to parse field [${field}] of type [dense_vector]`,
    );
  }
  const numbers = vector as number[];
  if (dims !== undefined && numbers.length !== dims) {
    throw new EsHttpError(
      400,
      'document_parsing_exception',
      `The [dense_vector] field [${field}] in doc has a different number of dimensions [${numbers.length}] than defined in the mapping [${dims}]`,
    );
  }
  const magnitude = norm(numbers);
  if (similarity === 'cosine' && magnitude === 0) {
    throw new EsHttpError(
      400,
      'document_parsing_exception',
      `The [cosine] similarity does not support vectors with zero magnitude.`,
    );
  }
  if (similarity === 'dot_product' && Math.abs(magnitude * magnitude - 1) > 1e-4) {
    throw new EsHttpError(
      400,
      'document_parsing_exception',
      `The [dot_product] similarity can only be used with unit-length vectors.`,
    );
  }
  return numbers;
}

/** Smallest positive normal float32: Lucene's FeatureField refuses smaller weights. */
export const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;

function checkSparseVector(path: string, value: Json): void {
  if (!isObject(value)) {
    throw new EsHttpError(
      400,
      'document_parsing_exception',
      `[1:1] failed to parse field [${path}] of type [sparse_vector]`,
    );
  }
  for (const [feature, weight] of Object.entries(value)) {
    if (typeof weight !== 'number' || !(weight > 0)) {
      throw new EsHttpError(
        400,
        'document_parsing_exception',
        `[1:1] failed to parse field [${path}] of type [sparse_vector]: [sparse_vector] fields do not support negative or zero values; feature [${feature}] has [${String(weight)}]`,
      );
    }
    const stored = Math.fround(weight);
    if (!Number.isFinite(stored) || stored < FLOAT32_MIN_NORMAL) {
      // NOTE: Elasticsearch stores the weight as a float32 Lucene FeatureField, which takes normal floats only.
      throw new EsHttpError(
        400,
        'document_parsing_exception',
        `[1:1] failed to parse field [${path}] of type [sparse_vector]`,
        {
          caused_by: {
            type: 'illegal_argument_exception',
            reason: Number.isFinite(stored)
              ? `featureValue must be a positive normal float, got: ${weight} for feature ${feature} on field ${path} which is less than the minimum positive normal float: 1.17549435E-38`
              : `featureValue must be finite, got: ${weight} for feature ${feature} on field ${path}`,
          },
        },
      );
    }
  }
}

/** Walks a new document: adds dynamic mappings and validates dense_vector and sparse_vector values. */
export function mapDocument(index: DoubleIndex, source: JsonObject): void {
  const walk = (properties: JsonObject, object: JsonObject, prefix: string): void => {
    for (const [key, value] of Object.entries(object)) {
      if (value === null) continue;
      const path = prefix + key;
      let mapping = properties[key];
      if (!isObject(mapping)) {
        if (index.mappings.dynamic === 'strict') {
          throw new EsHttpError(
            400,
            'strict_dynamic_mapping_exception',
            `[1:1] mapping set to strict, dynamic introduction of [${key}] within [_doc] is not allowed`,
          );
        }
        const first = Array.isArray(value) ? value[0] : value;
        if (first === undefined || first === null) continue;
        const created = dynamicMappingFor(index, first);
        if (!created) continue;
        properties[key] = created;
        mapping = created;
      }
      if (mapping.type === 'dense_vector') {
        const similarity = (mapping.similarity as Similarity | undefined) ?? 'cosine';
        const vector = checkVector(path, value, mapping.dims as number | undefined, similarity);
        if (mapping.dims === undefined) mapping.dims = vector.length;
      } else if (mapping.type === 'sparse_vector') {
        checkSparseVector(path, value);
      } else if (isObject(mapping.properties) && isObject(value)) {
        walk(mapping.properties, value, path + '.');
      }
    }
  };
  walk(index.mappings.properties, source, '');
}
