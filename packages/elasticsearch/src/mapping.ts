// Reading an index's `_mapping`: its dense_vector fields (dims, similarity), sparse_vector fields and Steer's `_meta`.
import type { Similarity } from '@steer/search';
import { ElasticsearchBackendError } from './errors.js';
import { LATENT_NORMS, type LatentNorm } from './sparse.js';

/** A dense_vector field found in a mapping. `path` is dotted for fields inside objects. */
export interface DenseVectorField {
  path: string;
  /** Undefined until the first document sets it (Elasticsearch infers dims then). */
  dims?: number;
  /** Elasticsearch's name; `max_inner_product` is listed but refused for search. */
  similarity: Similarity | 'max_inner_product';
  /** False for `index: false` fields, which kNN search cannot use. */
  indexed: boolean;
  elementType: string;
}

/** What Steer records in the mapping's `_meta.steer` when it creates an index. */
export interface SteerIndexMeta {
  embeddingModel?: string;
  /** Per sparse_vector field written by `steer index --latents`: how its document latents were normalised. */
  latents?: Record<string, LatentNormRecord>;
}

/**
 * `_meta.steer.latents.<field>`: the normalisation of the field's document latents. `complete: false` while a
 * `steer index --latents` run writes them (set before its first write, removed once every document is confirmed), so
 * an interrupted run leaves a record that says some documents may still hold latents from before. A plain `{ norm }`
 * (what older Steer wrote too) is a complete record.
 */
export interface LatentNormRecord {
  norm: LatentNorm;
  complete?: false;
  /**
   * With `complete: false`: the run started over latents written with another (or no recorded) normalisation, so the
   * documents it has not reached yet still hold those.
   */
  replacing?: true;
}

type MappingNode = { type?: string; properties?: Record<string, MappingNode>; [key: string]: unknown };

function walk(
  properties: Record<string, MappingNode> | undefined,
  prefix: string,
  visit: (path: string, node: MappingNode) => void,
): void {
  if (!properties) return;
  for (const [name, node] of Object.entries(properties)) {
    const path = prefix + name;
    visit(path, node);
    if (node.properties) walk(node.properties, `${path}.`, visit);
  }
}

/** Lists the dense_vector fields of an index mapping (the `mappings` object of a `_mapping` answer). */
export function denseVectorFields(mappings: unknown): DenseVectorField[] {
  const out: DenseVectorField[] = [];
  walk((mappings as MappingNode | undefined)?.properties, '', (path, node) => {
    if (node.type !== 'dense_vector') return;
    const similarity = (node.similarity as DenseVectorField['similarity'] | undefined) ?? 'cosine';
    out.push({
      path,
      dims: typeof node.dims === 'number' ? node.dims : undefined,
      similarity,
      indexed: node.index !== false,
      elementType: typeof node.element_type === 'string' ? node.element_type : 'float',
    });
  });
  return out;
}

/** Lists the sparse_vector fields of an index mapping. */
export function sparseVectorFields(mappings: unknown): string[] {
  const out: string[] = [];
  walk((mappings as MappingNode | undefined)?.properties, '', (path, node) => {
    if (node.type === 'sparse_vector') out.push(path);
  });
  return out;
}

/** The mapping of one field (dotted path), or undefined. */
export function fieldMapping(mappings: unknown, path: string): MappingNode | undefined {
  let found: MappingNode | undefined;
  walk((mappings as MappingNode | undefined)?.properties, '', (p, node) => {
    if (p === path) found = node;
  });
  return found;
}

/** Reads `_meta.steer` of a mapping. */
export function steerIndexMeta(mappings: unknown): SteerIndexMeta {
  const meta = (mappings as { _meta?: { steer?: SteerIndexMeta } } | undefined)?._meta?.steer;
  const out: SteerIndexMeta = {};
  if (typeof meta?.embeddingModel === 'string') out.embeddingModel = meta.embeddingModel;
  if (typeof meta?.latents === 'object' && meta.latents !== null) {
    for (const [field, entry] of Object.entries(meta.latents)) {
      const { norm, complete, replacing } = (entry ?? {}) as {
        norm?: unknown;
        complete?: unknown;
        replacing?: unknown;
      };
      if (!LATENT_NORMS.includes(norm as LatentNorm)) continue;
      const record: LatentNormRecord = { norm: norm as LatentNorm };
      if (complete === false) {
        record.complete = false;
        if (replacing === true) record.replacing = true;
      }
      (out.latents ??= {})[field] = record;
    }
  }
  return out;
}

/**
 * The normalisation recorded for the latents of `field`; undefined when none is recorded (older indexes) or the
 * record is incomplete (a `steer index --latents` run has not finished, see latentNormRecord).
 */
export function recordedLatentNorm(mappings: unknown, field: string): LatentNorm | undefined {
  const record = latentNormRecord(mappings, field);
  return record?.complete === false ? undefined : record?.norm;
}

/** The `_meta` record of how the latents of `field` are normalised, complete or not; undefined when there is none. */
export function latentNormRecord(mappings: unknown, field: string): LatentNormRecord | undefined {
  return steerIndexMeta(mappings).latents?.[field];
}

/**
 * Picks the dense_vector field kNN searches use: `preferred` when given, else the only one.
 * Throws ElasticsearchBackendError: `no_vector_field`, `ambiguous_vector_field`, `unsupported_similarity` or
 * `unsupported_element_type` (byte and bit vectors, which float query vectors cannot search).
 */
export function chooseVectorField(
  index: string,
  fields: DenseVectorField[],
  preferred?: string,
): DenseVectorField {
  const names = fields.map((f) => f.path).join(', ');
  let field: DenseVectorField | undefined;
  if (preferred !== undefined) {
    field = fields.find((f) => f.path === preferred);
    if (!field) {
      throw new ElasticsearchBackendError(
        'no_vector_field',
        `elasticsearch: index '${index}' has no dense_vector field '${preferred}'${fields.length ? ` (it has: ${names})` : ''}; set "elasticsearch": {"vectorField": ...} to one of its dense_vector fields`,
      );
    }
  } else if (fields.length === 0) {
    throw new ElasticsearchBackendError(
      'no_vector_field',
      `elasticsearch: index '${index}' has no dense_vector field; index the corpus with \`steer index\` or add a dense_vector field to its mapping`,
    );
  } else if (fields.length > 1) {
    throw new ElasticsearchBackendError(
      'ambiguous_vector_field',
      `elasticsearch: index '${index}' has several dense_vector fields (${names}); name one with "elasticsearch": {"vectorField": ...} or the steer clause's "field"`,
    );
  } else {
    field = fields[0]!;
  }
  if (field.similarity === 'max_inner_product') {
    throw new ElasticsearchBackendError(
      'unsupported_similarity',
      `elasticsearch: field '${field.path}' of index '${index}' uses max_inner_product, which Steer does not support; re-index with cosine, dot_product or l2_norm`,
    );
  }
  if (field.elementType !== 'float' && field.elementType !== 'bfloat16') {
    throw new ElasticsearchBackendError(
      'unsupported_element_type',
      `elasticsearch: field '${field.path}' of index '${index}' stores ${field.elementType} vectors (element_type ${field.elementType}), but Steer searches with float vectors, which Elasticsearch refuses for byte and bit fields; re-index into a dense_vector field with element_type float`,
    );
  }
  if (!field.indexed) {
    throw new ElasticsearchBackendError(
      'no_vector_field',
      `elasticsearch: field '${field.path}' of index '${index}' is mapped with "index": false, so kNN search cannot use it; re-index with "index": true`,
    );
  }
  return field;
}
