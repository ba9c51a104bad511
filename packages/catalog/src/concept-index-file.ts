// The concept-search index saved beside the catalog (`concept-index.bin` + `concept-scan.onnx`), keyed by the
// SAE id and the catalog build, so that a later run loads it instead of rebuilding it from the SAE weights.
import { open, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConceptIndexArrays } from './concept-index.js';
import type { LexicalColumns } from './lexical-index.js';
import { writeFileAtomic, writeFileAtomicWith } from '@steer/core';

export const CONCEPT_INDEX_FILE = 'concept-index.bin';
export const CONCEPT_SCAN_FILE = 'concept-scan.onnx';
const FORMAT = 'steer-concept-index/1';
const MAGIC = 0x49435453; // "STCI" little-endian
/**
 * Bytes before the first section: magic, header length, the JSON header, padding. NOTE: the scan matrix is
 * always the first section, at this fixed offset, so the scan model (which points into the file by offset)
 * stays valid for any index file of the same shape.
 */
const HEADER_BYTES = 4096;

/** What an index file is for: it is only loaded when all of these match. */
export interface ConceptIndexKey {
  saeId: string;
  /** The catalog build it was made from (catalog.json `createdAt`), or `none` for an SAE without catalog. */
  catalog: string;
  nLatents: number;
  dModel: number;
  k: number;
}

interface FileHeader extends ConceptIndexKey {
  format: typeof FORMAT;
  lexicalEntries: number;
  sections: Record<string, [offset: number, length: number]>;
}

type SectionData = Int8Array | Float32Array | Uint32Array | Uint8Array;

function bytesOf(data: SectionData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Writes the index and its lexical columns into `dir` (the scan model too when there is a scan), each file to
 * a temporary name and renamed. The data file goes first: a model left from an older file of the same shape
 * still points at the right bytes.
 */
export async function saveConceptIndex(
  dir: string,
  key: ConceptIndexKey,
  arrays: ConceptIndexArrays,
  lexical: LexicalColumns,
  scanModel: (location: string, offset: number) => Promise<Uint8Array>,
): Promise<void> {
  const sections: Array<[string, SectionData]> = [];
  if (arrays.scan)
    sections.push(['scan', arrays.scan.q], ['scanScale', arrays.scan.scale], ['scanBias', arrays.scan.bias]);
  sections.push(
    ['encoderQ', arrays.encoderRows.q],
    ['encoderScale', arrays.encoderRows.scale],
    ['encoderBias', arrays.encoderBias],
    ['decoderQ', arrays.decoderRows.q],
    ['decoderScale', arrays.decoderRows.scale],
    ['decoderNorm', arrays.decoderNorm],
  );
  if (arrays.profileRows)
    sections.push(['profileQ', arrays.profileRows.q], ['profileScale', arrays.profileRows.scale]);
  sections.push(
    ['vocabulary', new TextEncoder().encode(lexical.vocabulary.join('\n'))],
    ['offsets', lexical.offsets],
    ['postingFeatures', lexical.features],
    ['postingWeights', lexical.weights],
  );
  const layout: FileHeader['sections'] = {};
  let offset = HEADER_BYTES;
  for (const [name, data] of sections) {
    layout[name] = [offset, data.byteLength];
    offset += Math.ceil(data.byteLength / 64) * 64;
  }
  const header: FileHeader = { format: FORMAT, ...key, lexicalEntries: lexical.entries, sections: layout };
  const json = new TextEncoder().encode(JSON.stringify(header));
  if (json.byteLength + 8 > HEADER_BYTES) throw new RangeError('catalog: concept index header too large');
  const head = new Uint8Array(HEADER_BYTES);
  new DataView(head.buffer).setUint32(0, MAGIC, true);
  new DataView(head.buffer).setUint32(4, json.byteLength, true);
  head.set(json, 8);
  const path = join(dir, CONCEPT_INDEX_FILE);
  await writeFileAtomicWith(path, async (file) => {
    await file.write(head, 0, head.byteLength, 0);
    for (const [name, data] of sections)
      await file.write(bytesOf(data), 0, data.byteLength, layout[name]![0]);
    await file.truncate(offset);
  });
  if (arrays.scan)
    await writeFileAtomic(join(dir, CONCEPT_SCAN_FILE), await scanModel(CONCEPT_INDEX_FILE, HEADER_BYTES));
}

/** A loaded index file: the arrays (without the scan matrix, which the scan model reads itself) and the lexical columns. */
export interface LoadedConceptIndex {
  arrays: ConceptIndexArrays;
  lexical: LexicalColumns;
  /** Path of the scan model, when the index has a scan. */
  scanModel?: string;
}

/** The header of an open index file when it is one of ours and matches `key`; undefined otherwise. */
async function readHeader(
  file: FileHandle,
  size: number,
  key: ConceptIndexKey,
): Promise<FileHeader | undefined> {
  if (size < HEADER_BYTES) return undefined;
  const head = new Uint8Array(HEADER_BYTES);
  await file.read(head, 0, HEADER_BYTES, 0);
  const view = new DataView(head.buffer);
  const length = view.getUint32(4, true);
  if (view.getUint32(0, true) !== MAGIC || length + 8 > HEADER_BYTES) return undefined;
  let header: FileHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(head.subarray(8, 8 + length))) as FileHeader;
  } catch {
    return undefined;
  }
  const matches =
    header.format === FORMAT &&
    header.saeId === key.saeId &&
    header.catalog === key.catalog &&
    header.nLatents === key.nLatents &&
    header.dModel === key.dModel &&
    header.k === key.k;
  return matches ? header : undefined;
}

/** Reads the sections of an index file (a missing one is undefined), all at once. */
async function readSections(file: FileHandle, sections: FileHeader['sections']) {
  const read = async <T extends SectionData>(
    name: string,
    make: (buffer: ArrayBuffer) => T,
  ): Promise<T | undefined> => {
    const section = sections[name];
    if (!section) return undefined;
    const buffer = new ArrayBuffer(section[1]);
    await file.read(new Uint8Array(buffer), 0, section[1], section[0]);
    return make(buffer);
  };
  const i8 = (b: ArrayBuffer) => new Int8Array(b);
  const f32 = (b: ArrayBuffer) => new Float32Array(b);
  const u32 = (b: ArrayBuffer) => new Uint32Array(b);
  // NOTE: the sections are read concurrently; the disk (or page cache) serves them faster together.
  const reads = {
    encoderQ: read('encoderQ', i8),
    encoderScale: read('encoderScale', f32),
    encoderBias: read('encoderBias', f32),
    decoderQ: read('decoderQ', i8),
    decoderScale: read('decoderScale', f32),
    decoderNorm: read('decoderNorm', f32),
    profileQ: read('profileQ', i8),
    profileScale: read('profileScale', f32),
    scanScale: read('scanScale', f32),
    scanBias: read('scanBias', f32),
    vocabularyBytes: read('vocabulary', (b) => new Uint8Array(b)),
    offsets: read('offsets', u32),
    postingFeatures: read('postingFeatures', u32),
    postingWeights: read('postingWeights', f32),
  };
  const entries = await Promise.all(Object.entries(reads).map(async ([name, data]) => [name, await data]));
  return Object.fromEntries(entries) as { [K in keyof typeof reads]: Awaited<(typeof reads)[K]> };
}

/**
 * Loads the index saved in `dir` when its key matches `key`; undefined when there is none, it is for another
 * SAE or catalog build, or it is damaged (it is then rebuilt and overwritten).
 */
export async function loadConceptIndex(
  dir: string,
  key: ConceptIndexKey,
): Promise<LoadedConceptIndex | undefined> {
  const path = join(dir, CONCEPT_INDEX_FILE);
  let file;
  try {
    file = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = (await file.stat()).size;
    const header = await readHeader(file, size, key);
    if (!header) return undefined;
    const sections = header.sections;
    for (const [offset, bytes] of Object.values(sections)) if (offset + bytes > size) return undefined;
    const {
      encoderQ,
      encoderScale,
      encoderBias,
      decoderQ,
      decoderScale,
      decoderNorm,
      profileQ,
      profileScale,
      scanScale,
      scanBias,
      vocabularyBytes,
      offsets,
      postingFeatures,
      postingWeights,
    } = await readSections(file, sections);
    const n = key.nLatents;
    const d = key.dModel;
    if (
      encoderQ?.length !== n * d ||
      decoderQ?.length !== n * d ||
      encoderScale?.length !== n ||
      encoderBias?.length !== n ||
      decoderScale?.length !== n ||
      decoderNorm?.length !== n ||
      (profileQ !== undefined && (profileQ.length !== n * d || profileScale?.length !== n)) ||
      !vocabularyBytes ||
      !offsets ||
      !postingFeatures ||
      !postingWeights
    ) {
      return undefined;
    }
    const vocabulary =
      vocabularyBytes.length === 0 ? [] : new TextDecoder().decode(vocabularyBytes).split('\n');
    if (offsets.length !== vocabulary.length + 1 || postingFeatures.length !== postingWeights.length)
      return undefined;
    let scanModel: string | undefined;
    if (sections.scan) {
      scanModel = join(dir, CONCEPT_SCAN_FILE);
      const ok = await stat(scanModel).then(
        () => true,
        () => false,
      );
      if (!ok || sections.scan[0] !== HEADER_BYTES || !scanScale || !scanBias) return undefined;
    }
    return {
      arrays: {
        nLatents: n,
        dModel: d,
        k: key.k,
        // NOTE: the scan matrix stays on disk; onnxruntime reads it through the model's external data.
        ...(sections.scan && scanScale && scanBias
          ? { scan: { q: new Int8Array(0), scale: scanScale, bias: scanBias } }
          : {}),
        encoderRows: { q: encoderQ, scale: encoderScale },
        encoderBias,
        decoderRows: { q: decoderQ, scale: decoderScale },
        decoderNorm,
        ...(profileQ && profileScale ? { profileRows: { q: profileQ, scale: profileScale } } : {}),
      },
      lexical: {
        vocabulary,
        offsets,
        features: postingFeatures,
        weights: postingWeights,
        entries: header.lexicalEntries,
      },
      ...(scanModel ? { scanModel } : {}),
    };
  } catch {
    // NOTE: an unreadable index (a folder in its place, an I/O error) is rebuilt like a missing one.
    return undefined;
  } finally {
    await file.close();
  }
}

/** Removes a saved index (for tests and `--force` rebuilds); no error when there is none. */
export async function removeConceptIndex(dir: string): Promise<void> {
  await rm(join(dir, CONCEPT_INDEX_FILE), { force: true });
  await rm(join(dir, CONCEPT_SCAN_FILE), { force: true });
}
