// Reads and writes NumPy .npy files of float32 matrices (the interchange format of precomputed embeddings).
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write.js';
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

/** Parses the bytes of a `.npy` file (see {@link readNpy}). */
export function parseNpy(path: string, bytes: Uint8Array): { data: Float32Array; shape: number[] } {
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
  const count = shape.reduce((a, b) => a * b, 1);
  const bytesPerValue = descr === '<f4' ? 4 : descr === '<f8' ? 8 : 0;
  if (bytesPerValue === 0)
    throw invalid(path, `its dtype is "${descr}", not float32 ("<f4") or float64 ("<f8")`);
  const expected = count * bytesPerValue;
  if (bytes.length - dataStart !== expected) {
    throw invalid(
      path,
      `shape (${shape.join(', ')}) needs ${expected} data bytes but the file has ${bytes.length - dataStart} (truncated or extra data)`,
    );
  }
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    data[i] =
      bytesPerValue === 4
        ? view.getFloat32(dataStart + 4 * i, true)
        : view.getFloat64(dataStart + 8 * i, true);
  }
  return { data, shape };
}

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
  const shapeText = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shapeText}), }`;
  // NOTE: numpy pads the header with spaces so that the data starts at a multiple of 64 bytes.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const prefix = new Uint8Array(10);
  prefix.set(MAGIC);
  prefix[6] = 1;
  prefix[7] = 0;
  new DataView(prefix.buffer).setUint16(8, header.length, true);
  const body = new Uint8Array(data.length * 4);
  const view = new DataView(body.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i]!, true);
  try {
    await writeFileAtomic(path, [prefix, new TextEncoder().encode(header), body]);
  } catch (error) {
    throw new EmbedError(
      'write_failed',
      `embed: cannot write .npy file ${path} (${describeError(error)}); check that its folder exists and is writable`,
      { cause: error },
    );
  }
}
