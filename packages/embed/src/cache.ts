// On-disk embedding cache: vectors keyed by embedder id + sha256(kind, text), stored in append-only shard
// files written atomically; unreadable shards are skipped (their texts are embedded again), never fatal.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@steer/core';
import { checkEmbedInput, type EmbedKind, type EmbedOptions, type Embedder } from './embedder.js';
import { EmbedError, describeError } from './errors.js';

/** Counters of a {@link CachedEmbedder}. */
export interface CacheStats {
  /** Texts answered from the cache. */
  hits: number;
  /** Texts sent to the inner embedder. */
  misses: number;
  /** Shard files skipped because they were truncated, corrupt or made by another model. */
  corruptShards: number;
  /** Shard files written by this process. */
  shardsWritten: number;
  /** Shard writes that failed (the vectors were still returned). */
  writeErrors: number;
}

/** An embedder wrapped by {@link withCache}. */
export interface CachedEmbedder extends Embedder {
  cacheStats(): CacheStats;
}

const MAGIC = new TextEncoder().encode('STEEREMB'); // 8 bytes
const FORMAT_VERSION = 1;
const KEY_BYTES = 32;
/** Texts embedded (and written as one shard) per inner call, so long runs keep their progress. */
const CHUNK_TEXTS = 256;
/** More shards than this at load time are merged into one. */
const COMPACT_ABOVE = 64;
const SHARD_NAME = /^shard-[\w-]+\.bin$/;

function cacheKey(kind: EmbedKind, text: string): string {
  return createHash('sha256').update(kind).update('\0').update(text).digest('hex');
}

function folderFor(cacheDir: string, id: string): string {
  const safe = id.replace(/[^\w.-]+/g, '_').slice(0, 60);
  return join(cacheDir, `${safe}-${createHash('sha256').update(id).digest('hex').slice(0, 12)}`);
}

/** Serializes one shard: magic, version, header JSON, keys, vectors, then a sha256 of all that. */
function encodeShard(id: string, dims: number, keys: string[], vectors: Float32Array): Uint8Array[] {
  const header = new TextEncoder().encode(JSON.stringify({ id, dims, count: keys.length }));
  const prefix = new Uint8Array(16);
  prefix.set(MAGIC);
  const view = new DataView(prefix.buffer);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint32(12, header.length, true);
  const keyBytes = new Uint8Array(keys.length * KEY_BYTES);
  keys.forEach((key, i) => keyBytes.set(Buffer.from(key, 'hex'), i * KEY_BYTES));
  const vectorBytes = new Uint8Array(vectors.length * 4);
  const vectorView = new DataView(vectorBytes.buffer);
  for (let i = 0; i < vectors.length; i++) vectorView.setFloat32(4 * i, vectors[i]!, true);
  const hash = createHash('sha256');
  for (const part of [prefix, header, keyBytes, vectorBytes]) hash.update(part);
  return [prefix, header, keyBytes, vectorBytes, hash.digest()];
}

/** Parses a shard; undefined when it is truncated, corrupt, or belongs to another model or width. */
function decodeShard(bytes: Buffer, id: string, dims: number): Map<string, Float32Array> | undefined {
  if (bytes.length < 16 + 32 || !MAGIC.every((b, i) => bytes[i] === b)) return undefined;
  if (bytes.readUInt32LE(8) !== FORMAT_VERSION) return undefined;
  const headerLength = bytes.readUInt32LE(12);
  const body = bytes.subarray(0, bytes.length - 32);
  if (
    !createHash('sha256')
      .update(body)
      .digest()
      .equals(bytes.subarray(bytes.length - 32))
  )
    return undefined;
  let header: { id?: unknown; dims?: unknown; count?: unknown };
  try {
    header = JSON.parse(bytes.subarray(16, 16 + headerLength).toString('utf8')) as typeof header;
  } catch {
    return undefined;
  }
  if (header.id !== id || header.dims !== dims || typeof header.count !== 'number') return undefined;
  const count = header.count;
  const keysStart = 16 + headerLength;
  const vectorsStart = keysStart + count * KEY_BYTES;
  if (vectorsStart + count * dims * 4 !== body.length) return undefined;
  const entries = new Map<string, Float32Array>();
  for (let i = 0; i < count; i++) {
    const key = bytes.subarray(keysStart + i * KEY_BYTES, keysStart + (i + 1) * KEY_BYTES).toString('hex');
    const vector = new Float32Array(dims);
    for (let j = 0; j < dims; j++) vector[j] = bytes.readFloatLE(vectorsStart + (i * dims + j) * 4);
    entries.set(key, vector);
  }
  return entries;
}

/**
 * Wraps an embedder with an on-disk cache under `cacheDir` (one folder per embedder id and version). Texts already
 * embedded (same id, version, kind and text) are read back instead of embedded again; new vectors are appended as shard files.
 * @returns the wrapped embedder; `cacheStats()` reports hits and misses.
 */
export function withCache(embedder: Embedder, cacheDir: string): CachedEmbedder {
  return new CachingEmbedder(embedder, cacheDir);
}

class CachingEmbedder implements CachedEmbedder {
  readonly id: string;
  readonly version?: string;
  readonly dims: number;
  readonly normalized: boolean;
  readonly #stats: CacheStats = { hits: 0, misses: 0, corruptShards: 0, shardsWritten: 0, writeErrors: 0 };
  #entries: Promise<Map<string, Float32Array>> | undefined;
  /** The model's id and version: the shard header's id, so that vectors of another version never match. */
  readonly #key: string;
  private readonly folder: string;

  constructor(
    private readonly inner: Embedder,
    cacheDir: string,
  ) {
    this.id = inner.id;
    if (inner.version !== undefined) this.version = inner.version;
    this.dims = inner.dims;
    this.normalized = inner.normalized;
    this.#key = inner.version === undefined ? inner.id : `${inner.id}@${inner.version}`;
    this.folder = folderFor(cacheDir, this.#key);
  }

  cacheStats(): CacheStats {
    return { ...this.#stats };
  }

  async embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array> {
    const kind = checkEmbedInput(`embed cache (${this.id})`, texts, options);
    const entries = await (this.#entries ??= this.#load());
    const keys = texts.map((text) => cacheKey(kind, text));
    const out = new Float32Array(texts.length * this.dims);
    const missing = new Map<string, number>(); // key -> first text index
    keys.forEach((key, i) => {
      const vector = entries.get(key);
      if (vector !== undefined) {
        out.set(vector, i * this.dims);
        this.#stats.hits++;
      } else if (!missing.has(key)) {
        missing.set(key, i);
      } else {
        this.#stats.hits++;
      }
    });
    const missingKeys = [...missing.keys()];
    for (let start = 0; start < missingKeys.length; start += CHUNK_TEXTS) {
      const chunkKeys = missingKeys.slice(start, start + CHUNK_TEXTS);
      const vectors = await this.inner.embed(
        chunkKeys.map((key) => texts[missing.get(key)!]!),
        { kind },
      );
      if (vectors.length !== chunkKeys.length * this.dims) {
        throw new EmbedError(
          'dims_mismatch',
          `embed cache (${this.id}): the embedder returned ${vectors.length} values for ${chunkKeys.length} texts of ${this.dims} dims; it does not honour its dims`,
        );
      }
      this.#stats.misses += chunkKeys.length;
      chunkKeys.forEach((key, k) => entries.set(key, vectors.slice(k * this.dims, (k + 1) * this.dims)));
      await this.#writeShard(
        `shard-${Date.now()}-${process.pid}-${randomBytes(4).toString('hex')}.bin`,
        chunkKeys,
        vectors,
      );
    }
    keys.forEach((key, i) => {
      if (missing.has(key)) out.set(entries.get(key)!, i * this.dims);
    });
    return out;
  }

  async #writeShard(name: string, keys: string[], vectors: Float32Array): Promise<boolean> {
    try {
      await mkdir(this.folder, { recursive: true });
      await writeFileAtomic(join(this.folder, name), encodeShard(this.#key, this.dims, keys, vectors));
      this.#stats.shardsWritten++;
      return true;
    } catch (error) {
      if (this.#stats.writeErrors++ === 0) {
        process.emitWarning(
          `embed cache: cannot write to ${this.folder} (${describeError(error)}); vectors are returned but not cached`,
        );
      }
      return false;
    }
  }

  async #load(): Promise<Map<string, Float32Array>> {
    const entries = new Map<string, Float32Array>();
    let names: string[];
    try {
      names = (await readdir(this.folder)).filter((name) => SHARD_NAME.test(name)).sort();
    } catch {
      return entries; // no cache yet
    }
    const good: string[] = [];
    for (const name of names) {
      let shard: Map<string, Float32Array> | undefined;
      try {
        shard = decodeShard(await readFile(join(this.folder, name)), this.#key, this.dims);
      } catch {
        shard = undefined;
      }
      if (shard === undefined) {
        this.#stats.corruptShards++;
        continue;
      }
      good.push(name);
      for (const [key, vector] of shard) entries.set(key, vector);
    }
    if (good.length > COMPACT_ABOVE) {
      // NOTE: merge first, then delete only the shards that were read; shards written meanwhile by other
      // processes stay, and a crash between the two steps leaves duplicates, not losses.
      const keys = [...entries.keys()];
      const vectors = new Float32Array(keys.length * this.dims);
      keys.forEach((key, i) => vectors.set(entries.get(key)!, i * this.dims));
      if (await this.#writeShard(`shard-${Date.now()}-${process.pid}-merged.bin`, keys, vectors)) {
        await Promise.all(
          good.map((name) => rm(join(this.folder, name), { force: true }).catch(() => undefined)),
        );
      }
    }
    return entries;
  }

  async dispose(): Promise<void> {
    await this.inner.dispose();
  }
}
