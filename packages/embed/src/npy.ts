// Reads and writes NumPy .npy files of float32 matrices (the interchange format of precomputed embeddings).
import { open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { commitTemporary, temporarySibling, writeFileAtomic } from '@steer/core';
import { EmbedError, describeError } from './errors.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * Reads a C-ordered little-endian `.npy` file of float32 (`<f4`) or float64 (`<f8`, converted) values.
 * @returns data: Float32Array // [product(shape)] and the shape.
 * @throws EmbedError `file_unreadable` when the file cannot be read, `invalid_file` when it is not such an array.
 */
export async function readNpy(path: string): Promise<{ data: Float32Array; shape: number[] }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new EmbedError(
      'file_unreadable',
      `embed: cannot read .npy file ${path} (${describeError(error)}); check the path and its permissions`,
      { cause: error },
    );
  }
  return parseNpy(path, bytes);
}

function invalid(path: string, problem: string): EmbedError {
  return new EmbedError(
    'invalid_file',
    `embed: ${path} is not a usable .npy array: ${problem}; write it with numpy.save(path, array.astype("<f4"))`,
  );
}

/** What the header of a `.npy` file says: the shape, the bytes per value (4 or 8) and where the data starts. */
export interface NpyHeader {
  shape: number[];
  /** 4 for float32 (`<f4`), 8 for float64 (`<f8`). */
  bytesPerValue: 4 | 8;
  /** Byte offset of the first value. */
  dataStart: number;
}

/**
 * Parses the header of a `.npy` file from its first bytes (at least the whole header).
 * @throws EmbedError `invalid_file` when it is not a C-ordered float32/float64 array.
 */
export function parseNpyHeader(path: string, bytes: Uint8Array): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    throw invalid(path, 'the NumPy magic bytes are missing');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw invalid(path, 'the header is truncated');
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw invalid(path, `format version ${major} is unknown`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw invalid(path, 'the header is truncated');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(headerStart, dataStart),
  );
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw invalid(path, `the header ${JSON.stringify(header.trim())} lacks descr, fortran_order or shape`);
  }
  if (fortran === 'True')
    throw invalid(path, 'it is Fortran-ordered (use numpy.ascontiguousarray before saving)');
  const shape = shapeText
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => Number(part.replace(/L$/, '')));
  if (shape.some((dim) => !Number.isInteger(dim) || dim < 0))
    throw invalid(path, `the shape (${shapeText}) is invalid`);
  const bytesPerValue = descr === '<f4' ? 4 : descr === '<f8' ? 8 : 0;
  if (bytesPerValue === 0)
    throw invalid(path, `its dtype is "${descr}", not float32 ("<f4") or float64 ("<f8")`);
  return { shape, bytesPerValue, dataStart };
}

/**
 * Reads only the header of a `.npy` file and checks that the file is as long as the shape says, for
 * readers that then fetch rows by offset (files far larger than memory).
 * @throws EmbedError `file_unreadable`, `invalid_file`.
 */
export async function readNpyHeader(path: string): Promise<NpyHeader> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new EmbedError(
      'file_unreadable',
      `embed: cannot read .npy file ${path} (${describeError(error)}); check the path and its permissions`,
      { cause: error },
    );
  }
  try {
    const { size } = await handle.stat();
    const head = new Uint8Array(Math.min(size, 65_536));
    await handle.read(head, 0, head.length, 0);
    const header = parseNpyHeader(path, head);
    checkDataLength(path, header, size - header.dataStart);
    return header;
  } finally {
    await handle.close();
  }
}

function checkDataLength(path: string, header: NpyHeader, available: number): void {
  const count = header.shape.reduce((a, b) => a * b, 1);
  const expected = count * header.bytesPerValue;
  if (available !== expected) {
    throw invalid(
      path,
      `shape (${header.shape.join(', ')}) needs ${expected} data bytes but the file has ${available} (truncated or extra data)`,
    );
  }
}

/** Parses the bytes of a `.npy` file (see {@link readNpy}). */
export function parseNpy(path: string, bytes: Uint8Array): { data: Float32Array; shape: number[] } {
  const header = parseNpyHeader(path, bytes);
  const { shape, bytesPerValue, dataStart } = header;
  checkDataLength(path, header, bytes.length - dataStart);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    data[i] =
      bytesPerValue === 4
        ? view.getFloat32(dataStart + 4 * i, true)
        : view.getFloat64(dataStart + 8 * i, true);
  }
  return { data, shape };
}

/** The bytes of a format 1.0 float32 header for `shape`, padded with spaces to a multiple of `align` bytes. */
function npyHeaderBytes(shape: readonly number[], align = 64): Uint8Array {
  const shapeText = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shapeText}), }`;
  // NOTE: numpy pads the header with spaces so that the data starts at a multiple of 64 bytes.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((align - (unpadded % align)) % align) + '\n';
  const bytes = new Uint8Array(10 + header.length);
  bytes.set(MAGIC);
  bytes[6] = 1;
  bytes[7] = 0;
  new DataView(bytes.buffer).setUint16(8, header.length, true);
  bytes.set(new TextEncoder().encode(header), 10);
  return bytes;
}

/** Little-endian float32 bytes of `data` (a view when the machine is little-endian, else a swapped copy). */
function littleEndianBytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const body = new Uint8Array(data.length * 4);
  const view = new DataView(body.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i]!, true);
  return body;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Writes `data` // [product(shape)] as a float32 `.npy` file (format 1.0), atomically.
 * @throws EmbedError `dims_mismatch` when the data length does not match the shape, `write_failed` on I/O errors.
 */
export async function writeNpy(path: string, data: Float32Array, shape: number[]): Promise<void> {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((dim) => !Number.isInteger(dim) || dim < 0) || count !== data.length) {
    throw new EmbedError(
      'dims_mismatch',
      `embed: writeNpy(${path}) got shape [${shape.join(', ')}] (${count} values) for ${data.length} values; pass the shape of the data`,
    );
  }
  try {
    await writeFileAtomic(path, [npyHeaderBytes(shape), littleEndianBytes(data)]);
  } catch (error) {
    throw writeFailed(path, error);
  }
}

function writeFailed(path: string, error: unknown): EmbedError {
  return new EmbedError(
    'write_failed',
    `embed: cannot write .npy file ${path} (${describeError(error)}); check that its folder exists and is writable`,
    { cause: error },
  );
}

/** A `.npy` file of float32 rows written in pieces; it appears under its name only when `finish` succeeds. */
export interface NpyWriter {
  readonly path: string;
  /** Rows appended so far. */
  readonly rows: number;
  /** Appends rows: `values` // [rows, dims]. */
  append(values: Float32Array): Promise<void>;
  /** Writes the final shape, syncs, and renames the file into place. */
  finish(): Promise<void>;
  /** Removes the partial file. */
  abort(): Promise<void>;
}

// Room for the header of any 2-D shape: the data starts at byte 128 whatever the final row count.
const STREAM_HEADER_BYTES = 128;

/**
 * Starts a float32 `.npy` file of rows of `dims` values at `path`, written to a temporary sibling until
 * {@link NpyWriter.finish}, so that a killed writer never leaves a half-written file under `path`.
 * @throws EmbedError `write_failed`.
 */
export async function createNpyWriter(path: string, dims: number): Promise<NpyWriter> {
  if (!Number.isInteger(dims) || dims < 1) {
    throw new EmbedError('dims_mismatch', `embed: createNpyWriter(${path}) needs dims >= 1, got ${dims}`);
  }
  const temp = temporarySibling(path);
  let handle: FileHandle;
  try {
    handle = await open(temp, 'w');
  } catch (error) {
    throw writeFailed(path, error);
  }
  let rows = 0;
  let position = STREAM_HEADER_BYTES;
  const fail = async (error: unknown): Promise<never> => {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw writeFailed(path, error);
  };
  return {
    path,
    get rows() {
      return rows;
    },
    async append(values) {
      if (values.length % dims !== 0) {
        throw new EmbedError(
          'dims_mismatch',
          `embed: ${path}: appended ${values.length} values, not a whole number of rows of ${dims}`,
        );
      }
      const bytes = littleEndianBytes(values);
      try {
        await handle.write(bytes, 0, bytes.length, position);
      } catch (error) {
        await fail(error);
      }
      position += bytes.length;
      rows += values.length / dims;
    },
    async finish() {
      const header = npyHeaderBytes([rows, dims], STREAM_HEADER_BYTES);
      try {
        if (header.length !== STREAM_HEADER_BYTES) throw new Error(`shape (${rows}, ${dims}) is too large`);
        await handle.write(header, 0, header.length, 0);
        await handle.sync();
        await handle.close();
        await commitTemporary(temp, path);
      } catch (error) {
        await fail(error);
      }
    },
    async abort() {
      await handle.close().catch(() => undefined);
      await rm(temp, { force: true });
    },
  };
}
