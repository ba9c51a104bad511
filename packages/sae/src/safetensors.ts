// Minimal safetensors reader/writer (8-byte little-endian header length, JSON header, raw data) for
// float32 tensors, with strict validation and single-pass SHA-256 hashing.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { SaeError } from './errors.js';

/** One tensor entry of a safetensors header; offsets are relative to the start of the data section. */
export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  /** [begin, end) byte offsets relative to {@link SafetensorsHeader.dataStart}. */
  dataOffsets: [number, number];
}

/** A parsed and validated safetensors header. */
export interface SafetensorsHeader {
  /** Absolute byte offset of the data section in the file (8 + header length). */
  dataStart: number;
  fileSize: number;
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/** The safetensors project's own bound on the JSON header size. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** Bytes read per step when streaming a file for hashing. */
const CHUNK_BYTES = 16 * 1024 * 1024;

function corrupt(file: string, problem: string): SaeError {
  return new SaeError(
    'sae_corrupt',
    `sae: ${file} is not a valid safetensors file: ${problem}; re-export the SAE (writeSae or scripts/convert_torch_sae.py)`,
  );
}

function assertLittleEndian(): void {
  if (endianness() !== 'LE') {
    throw new SaeError(
      'invalid_input',
      'sae: safetensors data is little-endian and this machine is big-endian; use a little-endian machine',
    );
  }
}

/**
 * Reads and validates the header of a safetensors file: sane header length, valid JSON, every entry with
 * a known dtype, integer shape, offsets in bounds, matching the shape and not overlapping another entry.
 * @throws SaeError `sae_not_found` or `sae_corrupt`.
 */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new SaeError(
      'sae_not_found',
      `sae: cannot open ${file} (${(error as Error).message}); check the SAE folder path`,
      {
        cause: error,
      },
    );
  }
  try {
    return await readHeaderFrom(handle, file);
  } finally {
    await handle.close();
  }
}

async function readHeaderFrom(handle: FileHandle, file: string): Promise<SafetensorsHeader> {
  const fileSize = (await handle.stat()).size;
  if (fileSize < 8) throw corrupt(file, `it has ${fileSize} bytes, fewer than the 8-byte header length`);
  const lengthBytes = Buffer.alloc(8);
  await handle.read(lengthBytes, 0, 8, 0);
  const headerLength = lengthBytes.readBigUInt64LE(0);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw corrupt(
      file,
      `the header claims ${headerLength} bytes, more than the ${MAX_HEADER_BYTES}-byte limit`,
    );
  }
  if (headerLength > BigInt(fileSize - 8)) {
    throw corrupt(
      file,
      `the header claims ${headerLength} bytes but the file has only ${fileSize - 8} after the length (truncated?)`,
    );
  }
  const headerBytes = Buffer.alloc(Number(headerLength));
  await handle.read(headerBytes, 0, headerBytes.length, 8);
  let parsed: unknown;
  try {
    parsed = JSON.parse(headerBytes.toString('utf8'));
  } catch (error) {
    throw corrupt(file, `the header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw corrupt(file, 'the header is not a JSON object');
  }
  const dataStart = 8 + headerBytes.length;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
        throw corrupt(file, '__metadata__ is not an object');
      for (const value of Object.values(raw)) {
        if (typeof value !== 'string') throw corrupt(file, '__metadata__ values must be strings');
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    tensors.set(name, parseEntry(file, name, raw, dataSize));
  }
  const sorted = [...tensors.entries()].sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
  for (let i = 1; i < sorted.length; i++) {
    const [previousName, previous] = sorted[i - 1]!;
    const [name, entry] = sorted[i]!;
    if (entry.dataOffsets[0] < previous.dataOffsets[1]) {
      throw corrupt(file, `tensors "${previousName}" and "${name}" overlap`);
    }
  }
  return { dataStart, fileSize, tensors, metadata };
}

const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

function parseEntry(file: string, name: string, raw: unknown, dataSize: number): SafetensorsEntry {
  if (typeof raw !== 'object' || raw === null) throw corrupt(file, `entry "${name}" is not an object`);
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string' || DTYPE_BYTES[dtype] === undefined) {
    throw corrupt(file, `tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) {
    throw corrupt(
      file,
      `tensor "${name}" has shape ${JSON.stringify(shape)}, not a list of non-negative integers`,
    );
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((offset) => Number.isSafeInteger(offset) && offset >= 0)
  ) {
    throw corrupt(file, `tensor "${name}" has data_offsets ${JSON.stringify(offsets)}, not two byte offsets`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw corrupt(file, `tensor "${name}" ends (${end}) before it begins (${begin})`);
  if (end > dataSize) {
    throw corrupt(
      file,
      `tensor "${name}" ends at byte ${end} of the data section, which has only ${dataSize} bytes (truncated?)`,
    );
  }
  const expected = (shape as number[]).reduce((product, dim) => product * dim, 1) * DTYPE_BYTES[dtype]!;
  if (end - begin !== expected) {
    throw corrupt(
      file,
      `tensor "${name}" has shape [${shape.join(', ')}] (${expected} bytes of ${dtype}) but ${end - begin} bytes of data`,
    );
  }
  return { dtype, shape: shape as number[], dataOffsets: [begin, end] };
}

/**
 * Writes float32 tensors (in the given order) to an open file as safetensors; the header is padded with
 * spaces so the data section starts on an 8-byte boundary. Returns the SHA-256 of the bytes written.
 */
export async function writeSafetensors(
  handle: FileHandle,
  tensors: ReadonlyArray<{ name: string; shape: number[]; data: Float32Array }>,
  metadata: Record<string, string>,
): Promise<string> {
  assertLittleEndian();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const tensor of tensors) {
    header[tensor.name] = {
      dtype: 'F32',
      shape: tensor.shape,
      data_offsets: [offset, offset + tensor.data.byteLength],
    };
    offset += tensor.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  const hash = createHash('sha256');
  let position = 0;
  const write = async (bytes: Uint8Array): Promise<void> => {
    for (let start = 0; start < bytes.byteLength; start += CHUNK_BYTES) {
      const chunk = bytes.subarray(start, Math.min(bytes.byteLength, start + CHUNK_BYTES));
      hash.update(chunk);
      let done = 0;
      while (done < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done, position);
        done += bytesWritten;
        position += bytesWritten;
      }
    }
  };
  await write(prefix);
  await write(headerBytes);
  for (const tensor of tensors) {
    await write(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  }
  return hash.digest('hex');
}

/**
 * Reads the named F32 tensors of a safetensors file into fresh Float32Arrays. With `hash: true` it streams
 * the whole file once, hashing every byte and copying the wanted tensors out as it goes.
 * @throws SaeError `sae_not_found`, `sae_corrupt` (missing tensor, non-F32 dtype, file changed while read).
 */
export async function readSafetensorsF32(
  file: string,
  header: SafetensorsHeader,
  names: readonly string[],
  options: { hash: boolean },
): Promise<{ tensors: Map<string, Float32Array>; sha256?: string }> {
  assertLittleEndian();
  const wanted = names.map((name) => {
    const entry = header.tensors.get(name);
    if (entry === undefined) throw corrupt(file, `tensor "${name}" is missing`);
    if (entry.dtype !== 'F32') throw corrupt(file, `tensor "${name}" has dtype ${entry.dtype}, expected F32`);
    const begin = header.dataStart + entry.dataOffsets[0];
    const end = header.dataStart + entry.dataOffsets[1];
    return { name, begin, end, data: new Float32Array((end - begin) / 4) };
  });
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new SaeError(
      'sae_not_found',
      `sae: cannot open ${file} (${(error as Error).message}); check the SAE folder path`,
      {
        cause: error,
      },
    );
  }
  try {
    const size = (await handle.stat()).size;
    if (size !== header.fileSize)
      throw corrupt(file, `its size changed from ${header.fileSize} to ${size} bytes while it was read`);
    const tensors = new Map<string, Float32Array>();
    if (!options.hash) {
      for (const tensor of wanted) {
        await readFully(handle, new Uint8Array(tensor.data.buffer), tensor.begin, file);
        tensors.set(tensor.name, tensor.data);
      }
      return { tensors };
    }
    const hash = createHash('sha256');
    const chunk = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(size, 1)));
    for (let start = 0; start < size; start += chunk.byteLength) {
      const view = chunk.subarray(0, Math.min(chunk.byteLength, size - start));
      await readFully(handle, view, start, file);
      hash.update(view);
      const stop = start + view.byteLength;
      for (const tensor of wanted) {
        const from = Math.max(start, tensor.begin);
        const to = Math.min(stop, tensor.end);
        if (from < to) {
          new Uint8Array(tensor.data.buffer).set(
            view.subarray(from - start, to - start),
            from - tensor.begin,
          );
        }
      }
    }
    for (const tensor of wanted) tensors.set(tensor.name, tensor.data);
    return { tensors, sha256: hash.digest('hex') };
  } finally {
    await handle.close();
  }
}

async function readFully(
  handle: FileHandle,
  target: Uint8Array,
  position: number,
  file: string,
): Promise<void> {
  let done = 0;
  while (done < target.byteLength) {
    const length = Math.min(target.byteLength - done, CHUNK_BYTES);
    const { bytesRead } = await handle.read(target, done, length, position + done);
    if (bytesRead === 0)
      throw corrupt(file, `it ended at byte ${position + done} while reading (truncated?)`);
    done += bytesRead;
  }
}

/** SHA-256 (hex) of a whole file, streamed in chunks. */
export async function sha256File(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const hash = createHash('sha256');
    const chunk = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(size, 1)));
    for (let start = 0; start < size; start += chunk.byteLength) {
      const view = chunk.subarray(0, Math.min(chunk.byteLength, size - start));
      await readFully(handle, view, start, file);
      hash.update(view);
    }
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}
