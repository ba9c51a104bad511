// Precomputed embeddings: a float32 .npy matrix (+ optional ids file) or JSONL rows {"id","vector","text"?},
// and an Embedder that answers from them by exact text.
import { readFile } from 'node:fs/promises';
import { checkEmbedInput, type EmbedOptions, type Embedder } from './embedder.js';
import { EmbedError, describeError } from './errors.js';
import { readNpy } from './npy.js';

/** Vectors loaded by {@link loadPrecomputedEmbeddings}. */
export interface PrecomputedVectors {
  /** One id per row. */
  ids: string[];
  /** vectors: Float32Array // [count, dims] */
  vectors: Float32Array;
  count: number;
  dims: number;
  /**
   * An embedder that looks texts up by exact text (JSONL files with a "text" field) and returns their stored
   * vectors; `model` is the id of the model that made them (the embedder's id).
   * @throws EmbedError `text_not_precomputed` on `embed` of a text with no stored vector, or when the file has no texts.
   */
  embedderFor(model: string): Embedder;
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new EmbedError(
      'file_unreadable',
      `embed: cannot read precomputed embeddings ${path} (${describeError(error)}); check the path and its permissions`,
      { cause: error },
    );
  }
}

async function readOptionalText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EmbedError('file_unreadable', `embed: cannot read ids file ${path} (${describeError(error)})`, {
      cause: error,
    });
  }
}

/**
 * Loads precomputed embeddings. `<name>.npy` is a float32 [N, d] matrix whose ids come from `<name>.ids.json`
 * (a JSON array) or `<name>.ids.txt` (one id a line) beside it, else "0".."N-1". Any other file is JSONL, one
 * `{"id": string, "vector": number[], "text"?: string}` a line.
 * @throws EmbedError `file_unreadable`, `invalid_file` (malformed rows) or `dims_mismatch` (rows of unequal length,
 * an ids count that differs from the row count).
 */
export async function loadPrecomputedEmbeddings(path: string): Promise<PrecomputedVectors> {
  if (path.toLowerCase().endsWith('.npy')) return loadNpyVectors(path);
  return loadJsonlVectors(path);
}

async function loadNpyVectors(path: string): Promise<PrecomputedVectors> {
  const { data, shape } = await readNpy(path);
  if (shape.length !== 2) {
    throw new EmbedError(
      'dims_mismatch',
      `embed: ${path} has shape (${shape.join(', ')}); precomputed embeddings must be a 2-D [count, dims] matrix`,
    );
  }
  const [count, dims] = shape as [number, number];
  const base = path.slice(0, -'.npy'.length);
  let ids: string[] | undefined;
  const idsJson = await readOptionalText(`${base}.ids.json`);
  if (idsJson !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(idsJson);
    } catch (error) {
      throw new EmbedError(
        'invalid_file',
        `embed: ${base}.ids.json is not valid JSON (${describeError(error)})`,
        {
          cause: error,
        },
      );
    }
    if (!Array.isArray(parsed))
      throw new EmbedError('invalid_file', `embed: ${base}.ids.json must be a JSON array of ids`);
    ids = parsed.map(String);
  } else {
    const idsTxt = await readOptionalText(`${base}.ids.txt`);
    if (idsTxt !== undefined)
      ids = idsTxt.split('\n').filter((line, i, all) => line.length > 0 || i < all.length - 1);
  }
  if (ids !== undefined && ids.length !== count) {
    throw new EmbedError(
      'dims_mismatch',
      `embed: ${path} has ${count} rows but its ids file has ${ids.length} ids; regenerate them together`,
    );
  }
  ids ??= Array.from({ length: count }, (_, i) => String(i));
  return new StoredVectors(path, ids, data, dims, undefined);
}

async function loadJsonlVectors(path: string): Promise<PrecomputedVectors> {
  const text = await readText(path);
  const ids: string[] = [];
  const rows: number[][] = [];
  const texts: Array<string | undefined> = [];
  let dims: number | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.length === 0) continue;
    const where = `${path} line ${i + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (error) {
      throw new EmbedError(
        'invalid_file',
        `embed: ${where} is not valid JSON (${describeError(error)}); fix or remove it`,
        {
          cause: error,
        },
      );
    }
    const record = row as { id?: unknown; vector?: unknown; text?: unknown };
    if (
      typeof row !== 'object' ||
      row === null ||
      (typeof record.id !== 'string' && typeof record.id !== 'number')
    ) {
      throw new EmbedError(
        'invalid_file',
        `embed: ${where} has no "id"; each line must be {"id", "vector", "text"?}`,
      );
    }
    const vector = record.vector;
    if (!Array.isArray(vector) || vector.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
      throw new EmbedError(
        'invalid_file',
        `embed: ${where} has no "vector" of finite numbers; each line must be {"id", "vector"}`,
      );
    }
    dims ??= vector.length;
    if (vector.length !== dims || dims === 0) {
      throw new EmbedError(
        'dims_mismatch',
        `embed: ${where} has a vector of ${vector.length} dims but earlier lines have ${dims}; all vectors must come from one model`,
      );
    }
    ids.push(String(record.id));
    rows.push(vector as number[]);
    texts.push(typeof record.text === 'string' ? record.text : undefined);
  }
  if (rows.length === 0) {
    throw new EmbedError(
      'invalid_file',
      `embed: ${path} holds no vectors; each line must be {"id", "vector", "text"?}`,
    );
  }
  const data = new Float32Array(rows.length * dims!);
  rows.forEach((row, i) => data.set(row, i * dims!));
  return new StoredVectors(path, ids, data, dims!, texts);
}

class StoredVectors implements PrecomputedVectors {
  readonly count: number;

  constructor(
    private readonly path: string,
    readonly ids: string[],
    readonly vectors: Float32Array,
    readonly dims: number,
    private readonly texts: Array<string | undefined> | undefined,
  ) {
    this.count = ids.length;
  }

  embedderFor(model: string): Embedder {
    const byText = new Map<string, number>();
    this.texts?.forEach((text, row) => {
      if (text !== undefined && !byText.has(text)) byText.set(text, row);
    });
    let normalized = true;
    for (let row = 0; row < this.count && normalized; row++) {
      let sum = 0;
      for (let j = 0; j < this.dims; j++) sum += this.vectors[row * this.dims + j]! ** 2;
      normalized = Math.abs(Math.sqrt(sum) - 1) < 1e-3;
    }
    return new PrecomputedEmbedder(model, this.path, this.dims, normalized, this.vectors, byText);
  }
}

class PrecomputedEmbedder implements Embedder {
  #disposed = false;

  constructor(
    readonly id: string,
    private readonly path: string,
    readonly dims: number,
    readonly normalized: boolean,
    private readonly vectors: Float32Array,
    private readonly byText: Map<string, number>,
  ) {}

  async embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array> {
    checkEmbedInput(`embed (${this.id})`, texts, options);
    if (this.#disposed)
      throw new EmbedError('disposed', `embed (${this.id}): embed() called after dispose()`);
    if (this.byText.size === 0) {
      throw new EmbedError(
        'text_not_precomputed',
        `embed (${this.id}): ${this.path} stores no texts, so texts cannot be looked up; use a JSONL file with a "text" field per vector, or embed with the model itself`,
      );
    }
    const out = new Float32Array(texts.length * this.dims);
    texts.forEach((text, i) => {
      const row = this.byText.get(text);
      if (row === undefined) {
        throw new EmbedError(
          'text_not_precomputed',
          `embed (${this.id}): text ${i} (${JSON.stringify(text.length > 60 ? text.slice(0, 60) + '…' : text)}) has no precomputed vector in ${this.path}; add it to the file or embed with the model ${this.id}`,
        );
      }
      out.set(this.vectors.subarray(row * this.dims, (row + 1) * this.dims), i * this.dims);
    });
    return out;
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
  }
}
