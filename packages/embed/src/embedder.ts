// The Embedder contract shared by every embedding source, and the input checks they all apply.
import { EmbedError } from './errors.js';

/** Whether a text is a search query or a stored document (some models prefix queries with an instruction). */
export type EmbedKind = 'query' | 'document';

/** Options of {@link Embedder.embed}. */
export interface EmbedOptions {
  /** `document` when absent. */
  kind?: EmbedKind;
}

/** Turns texts into dense vectors. */
export interface Embedder {
  /** Stable name of the model, e.g. `use-lite-512` or `onnx:bge-base-en-v1.5`; caches and SAEs key on it. */
  readonly id: string;
  /**
   * What else decides the vectors besides the id: model file and runtime versions, and the computation's revision
   * (e.g. `model-embeddings-en@0.2.0 ...`). Caches key on id and version; results record both. Absent when unknown.
   */
  readonly version?: string;
  /** Length of each vector. */
  readonly dims: number;
  /** True when every vector has unit L2 norm (dot product equals cosine). */
  readonly normalized: boolean;
  /**
   * Embeds texts in order.
   * @returns vectors: Float32Array // [texts.length, dims], row-major
   * @throws EmbedError `empty_input` for an empty list, `invalid_input` for a non-string, `disposed` after dispose().
   */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array>;
  /** Frees the model; later `embed` calls throw `disposed`. */
  dispose(): Promise<void>;
}

/**
 * Checks the arguments every embedder receives.
 * @throws EmbedError `empty_input` or `invalid_input`.
 */
export function checkEmbedInput(
  component: string,
  texts: readonly string[],
  options?: EmbedOptions,
): EmbedKind {
  if (!Array.isArray(texts)) {
    throw new EmbedError(
      'invalid_input',
      `${component}: texts must be an array of strings, got ${typeof texts}`,
    );
  }
  if (texts.length === 0) {
    throw new EmbedError(
      'empty_input',
      `${component}: the list of texts to embed is empty; pass at least one text (skip the call when there is nothing to embed)`,
    );
  }
  for (let i = 0; i < texts.length; i++) {
    if (typeof texts[i] !== 'string') {
      throw new EmbedError(
        'invalid_input',
        `${component}: text ${i} is ${texts[i] === null ? 'null' : typeof texts[i]}, not a string; pass strings only`,
      );
    }
  }
  const kind = options?.kind ?? 'document';
  if (kind !== 'query' && kind !== 'document') {
    throw new EmbedError(
      'invalid_input',
      `${component}: kind "${String(kind)}" is unknown; use "query" or "document"`,
    );
  }
  return kind;
}

/** Scales each row of `vectors` // [rows, dims] to unit L2 norm in place (zero rows stay zero). */
export function normalizeRows(vectors: Float32Array, dims: number): void {
  for (let offset = 0; offset < vectors.length; offset += dims) {
    let sum = 0;
    for (let j = 0; j < dims; j++) sum += vectors[offset + j]! * vectors[offset + j]!;
    if (sum === 0) continue;
    const scale = 1 / Math.sqrt(sum);
    for (let j = 0; j < dims; j++) vectors[offset + j]! *= scale;
  }
}
