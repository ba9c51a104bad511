// Training vectors as random-access rows that stay on disk: a float32/float64 .npy file or a folder of .npy
// shards read by offset (positional reads; the OS page cache, not this process, holds what was read), or a
// matrix already in memory. Readers copy rows into caller-owned buffers, so memory does not grow with the rows.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, type Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { readNpyHeader, type NpyHeader } from '@steer/embed';
import { TrainError, describeError } from '../errors.js';

/** Rows of a [rows, dims] float32 matrix, read on demand. */
export interface VectorSource {
  readonly rows: number;
  readonly dims: number;
  /** Where the rows come from, for messages: a file, a folder of shards, or "memory". */
  readonly description: string;
  /** Copies rows [start, start + count) into `out` (default a new array). @returns out // [count, dims] */
  readRange(start: number, count: number, out?: Float32Array): Float32Array;
  /** Copies the listed rows, in the given order, into `out` from row `outRow` on. */
  readRows(rows: ArrayLike<number>, out: Float32Array, outRow?: number): void;
  /** Releases file handles; reading afterwards throws. */
  close(): void;
}

/** Rows per chunk of sequential passes: 8 MiB of float32 at the source's width. */
export function chunkRows(dims: number): number {
  return Math.max(1, Math.floor((8 << 20) / (4 * dims)));
}

function outOfRange(source: VectorSource, row: number): TrainError {
  return new TrainError(
    'bad_input',
    `train: row ${row} is outside ${source.description} (${source.rows} rows)`,
  );
}

/** A source over a matrix in memory: `data` // [rows, dims]. */
export function memorySource(data: Float32Array, dims: number, description = 'memory'): VectorSource {
  const rows = dims > 0 ? Math.floor(data.length / dims) : 0;
  const source: VectorSource = {
    rows,
    dims,
    description,
    readRange(start, count, out = new Float32Array(count * dims)) {
      if (start < 0 || start + count > rows) throw outOfRange(source, start + count - 1);
      out.set(data.subarray(start * dims, (start + count) * dims));
      return out;
    },
    readRows(list, out, outRow = 0) {
      for (let i = 0; i < list.length; i++) {
        const r = list[i]!;
        if (r < 0 || r >= rows) throw outOfRange(source, r);
        out.set(data.subarray(r * dims, r * dims + dims), (outRow + i) * dims);
      }
    },
    close() {},
  };
  return source;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** One .npy file read by offset. */
class NpyFileSource implements VectorSource {
  readonly rows: number;
  readonly dims: number;
  readonly description: string;
  private fd: number | undefined;
  private readonly rowBytes: number;
  private scratch = new Uint8Array(0);

  constructor(
    private readonly path: string,
    private readonly header: NpyHeader,
  ) {
    [this.rows, this.dims] = header.shape as [number, number];
    this.description = path;
    this.rowBytes = this.dims * header.bytesPerValue;
    this.fd = openSync(path, 'r');
  }

  readRange(start: number, count: number, out = new Float32Array(count * this.dims)): Float32Array {
    if (start < 0 || start + count > this.rows) throw outOfRange(this, start + count - 1);
    this.readBytes(start, count, out, 0);
    return out;
  }

  readRows(list: ArrayLike<number>, out: Float32Array, outRow = 0): void {
    // Runs of consecutive rows are read with one call each.
    for (let i = 0; i < list.length;) {
      const first = list[i]!;
      if (first < 0 || first >= this.rows) throw outOfRange(this, first);
      let run = 1;
      while (i + run < list.length && list[i + run] === first + run) run++;
      this.readBytes(first, run, out, outRow + i);
      i += run;
    }
  }

  private readBytes(row: number, count: number, out: Float32Array, outRow: number): void {
    if (this.fd === undefined) throw new TrainError('bad_input', `train: ${this.path} was closed`);
    const length = count * this.rowBytes;
    const position = this.header.dataStart + row * this.rowBytes;
    const direct = this.header.bytesPerValue === 4 && LITTLE_ENDIAN;
    let target: Uint8Array;
    if (direct) {
      target = new Uint8Array(out.buffer, out.byteOffset + outRow * this.dims * 4, length);
    } else {
      if (this.scratch.length < length) this.scratch = new Uint8Array(length);
      target = this.scratch.subarray(0, length);
    }
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, target, done, length - done, position + done);
      if (n === 0) {
        throw new TrainError(
          'bad_input',
          `train: ${this.path} ended early at row ${row}; the file was truncated while training, restore it`,
        );
      }
      done += n;
    }
    if (direct) return;
    const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
    const base = outRow * this.dims;
    const values = count * this.dims;
    if (this.header.bytesPerValue === 8) {
      for (let j = 0; j < values; j++) out[base + j] = view.getFloat64(8 * j, true);
    } else {
      for (let j = 0; j < values; j++) out[base + j] = view.getFloat32(4 * j, true);
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Several sources one after the other, as one. */
export function concatSources(parts: readonly VectorSource[], description?: string): VectorSource {
  if (parts.length === 1 && description === undefined) return parts[0]!;
  const dims = parts[0]?.dims ?? 0;
  const starts = new Float64Array(parts.length + 1);
  parts.forEach((part, i) => (starts[i + 1] = starts[i]! + part.rows));
  const rows = starts[parts.length]!;
  const partOf = (row: number): number => {
    let lo = 0;
    let hi = parts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= row) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const single = new Int32Array(1);
  const source: VectorSource = {
    rows,
    dims,
    description: description ?? parts.map((p) => p.description).join(' + '),
    readRange(start, count, out = new Float32Array(count * dims)) {
      if (start < 0 || start + count > rows) throw outOfRange(source, start + count - 1);
      let done = 0;
      while (done < count) {
        const p = partOf(start + done);
        const local = start + done - starts[p]!;
        const n = Math.min(count - done, parts[p]!.rows - local);
        parts[p]!.readRange(local, n, out.subarray(done * dims, (done + n) * dims));
        done += n;
      }
      return out;
    },
    readRows(list, out, outRow = 0) {
      for (let i = 0; i < list.length; i++) {
        const r = list[i]!;
        if (r < 0 || r >= rows) throw outOfRange(source, r);
        const p = partOf(r);
        single[0] = r - starts[p]!;
        parts[p]!.readRows(single, out, outRow + i);
      }
    },
    close() {
      for (const part of parts) part.close();
    },
  };
  return source;
}

/** `stat` of a path the user named. @throws TrainError `file_unreadable` naming it. */
export async function statPath(path: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch (error) {
    throw new TrainError(
      'file_unreadable',
      `train: cannot read ${path} (${describeError(error)}); check the path`,
      { cause: error },
    );
  }
}

async function openNpy(path: string, what: string): Promise<NpyFileSource> {
  let header: NpyHeader;
  try {
    header = await readNpyHeader(path);
  } catch (error) {
    throw new TrainError('bad_input', `train: ${what} file ${path}: ${describeError(error)}`, {
      cause: error,
    });
  }
  if (header.shape.length !== 2) {
    throw new TrainError(
      'bad_input',
      `train: ${what} file ${path} has shape (${header.shape.join(', ')}); it must be a 2-D [vectors, dims] array`,
    );
  }
  return new NpyFileSource(path, header);
}

/**
 * Opens a float32/float64 `.npy` file [N, d], or a folder of `.npy` shards (read in file-name order as one
 * matrix), for reading by offset. Nothing but the headers is read here.
 * @throws TrainError `file_unreadable`, `bad_input` (not 2-D, shards of different widths, no shards).
 */
export async function openVectorFiles(path: string, what = 'embeddings'): Promise<VectorSource> {
  if (!(await statPath(path)).isDirectory()) return openNpy(path, what);
  const names = (await readdir(path)).filter((name) => extname(name) === '.npy' && !name.startsWith('.'));
  names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (names.length === 0) {
    throw new TrainError(
      'bad_input',
      `train: folder ${path} holds no .npy shards; give a .npy file or a folder of .npy files`,
    );
  }
  const parts: VectorSource[] = [];
  try {
    for (const name of names) {
      const part = await openNpy(join(path, name), what);
      if (parts.length > 0 && part.dims !== parts[0]!.dims) {
        part.close();
        throw new TrainError(
          'bad_input',
          `train: shard ${name} of ${path} has ${part.dims} dims but ${basename(parts[0]!.description)} has ${parts[0]!.dims}; all shards must come from one model`,
        );
      }
      parts.push(part);
    }
  } catch (error) {
    for (const part of parts) part.close();
    throw error;
  }
  return concatSources(parts, `${path} (${parts.length} shards)`);
}

/** What one pass over a source found: the mean row and a fingerprint of sampled bytes. */
export interface SourceScan {
  /** mean: Float64Array // [dims], summed row by row in order. */
  mean: Float64Array;
  /** mean(x^2) over every value. */
  meanSquare: number;
  /** `bytes:fnv1a` over a strided sample of the float32 bytes, to tell a resumed run its data changed. */
  fingerprint: string;
  /** SHA-256 (hex) of every float32 byte in row order: the training vectors a manifest names. */
  sha256: string;
}

/**
 * Reads every row once in chunks: checks that all values are finite, and computes the mean, the fingerprint and the SHA-256.
 * `what` names the data in messages; `rowName` names a row (default `<what> row <r>`).
 * @throws TrainError `bad_input` naming the first bad row.
 */
export function scanSource(
  source: VectorSource,
  what: string,
  rowName: (row: number) => string = (row) => `${what} row ${row}`,
): SourceScan {
  const { rows, dims } = source;
  if (rows < 1 || dims < 1) {
    throw new TrainError(
      'bad_input',
      `train: ${what} is empty (${rows} rows of ${dims} dims); give at least one vector`,
    );
  }
  const mean = new Float64Array(dims);
  let sumSquares = 0;
  const totalBytes = rows * dims * 4;
  const stride = Math.max(1, Math.floor(totalBytes / 65536));
  let hash = 0x811c9dc5;
  const sha256 = createHash('sha256');
  let nextSample = 0;
  const step = chunkRows(dims);
  const buffer = new Float32Array(step * dims);
  for (let start = 0; start < rows; start += step) {
    const count = Math.min(step, rows - start);
    const chunk = source.readRange(start, count, buffer.subarray(0, count * dims));
    for (let j = 0; j < chunk.length; j++) {
      const v = chunk[j]!;
      sumSquares += v * v;
      if (!Number.isFinite(v)) {
        throw new TrainError(
          'bad_input',
          `train: ${rowName(start + Math.floor(j / dims))} has a non-finite value (${v}) at dimension ${j % dims}; remove or re-embed that row`,
        );
      }
    }
    for (let r = 0; r < count; r++) {
      for (let c = 0; c < dims; c++) mean[c] += chunk[r * dims + c]!;
    }
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    sha256.update(bytes);
    const offset = start * dims * 4;
    for (; nextSample < offset + bytes.length; nextSample += stride) {
      hash = Math.imul(hash ^ bytes[nextSample - offset]!, 0x01000193) >>> 0;
    }
  }
  for (let c = 0; c < dims; c++) mean[c] /= rows;
  return {
    mean,
    meanSquare: sumSquares / (rows * dims),
    fingerprint: `${totalBytes}:${hash.toString(16)}`,
    sha256: sha256.digest('hex'),
  };
}
