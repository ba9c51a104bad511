// The catalog folder beside an SAE (`<sae dir>/catalog/`): a JSON header, a binary stats file, JSONL label
// and detail files, and the aliases overlay. Every file is written to a temporary name and renamed.
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@steer/core';
import { CatalogError } from './errors.js';
import type { StrengthCalibration } from './profiles.js';
import type { FeatureStats } from './stats.js';

export const CATALOG_DIR = 'catalog';
export const CATALOG_FORMAT = 'steer-catalog/1';
export const HEADER_FILE = 'catalog.json';
export const STATS_FILE = 'stats.bin';
export const LABELS_FILE = 'labels.jsonl';
export const FEATURES_FILE = 'features.jsonl';
export const DOCS_FILE = 'docs.jsonl';
export const TERMS_FILE = 'terms.json';
export const CENTROIDS_FILE = 'centroids.bin';
export const FEEDBACK_FILE = 'feedback.bin';
export const ALIASES_FILE = 'aliases.json';

const STATS_MAGIC = 0x53435453; // "STCS" little-endian
const STATS_VERSION = 1;
const STATS_HEADER_BYTES = 16;
const CENTROIDS_MAGIC = 0x43435453; // "STCC" little-endian
const CENTROIDS_VERSION = 1;
const CENTROIDS_HEADER_BYTES = 16;
const FEEDBACK_MAGIC = 0x46435453; // "STCF" little-endian
const FEEDBACK_VERSION = 1;
const FEEDBACK_HEADER_BYTES = 20;

/** Contents of catalog.json; written last, so its `files` sizes vouch for the other files. */
export interface CatalogHeader {
  format: typeof CATALOG_FORMAT;
  saeId: string;
  nLatents: number;
  dModel: number;
  k: number;
  embedding: { model: string; dims: number; normalized: boolean };
  createdAt: string;
  corpus: { path?: string; sha256: string; documents: number };
  /** `keywords`, or `llm:<model>` when LLM labels were added. */
  labeler: string;
  /** ISO 639-3 codes of the corpus' languages, whose stop words never label a feature (absent: English). */
  languages?: string[];
  /** What `1x` means for this SAE (absent in catalogs built before strengths were calibrated). */
  strength?: StrengthCalibration;
  options: Record<string, unknown>;
  /** Byte size of each data file, checked when the catalog is opened. */
  files: Record<string, number>;
}

/** One line of labels.jsonl (only features that fired on the corpus have one). */
export interface LabelRecord {
  id: number;
  /** The label shown: the LLM label when there is one, else the keywords joined by commas. */
  label: string;
  keywords: string[];
  /** z-scores of the keywords, same order. */
  keywordZ: number[];
  llmLabel?: string;
  /** True when the label rests on weak evidence (few documents, or no term sets them apart). */
  weak?: boolean;
}

/** Token-level evidence for one top document of a feature. */
export interface DocumentEvidence {
  /** Index into docs.jsonl. */
  doc: number;
  activation: number;
  /** Activation of the feature on growing prefixes of the document: `words` first words. */
  prefixes: Array<{ words: number; activation: number }>;
  /** The word that ends the shortest prefix reaching half the full activation. */
  trigger?: string;
  /** Words whose removal lowers the activation most, with the drop (full - ablated). */
  ablations: Array<{ word: string; drop: number }>;
}

/**
 * One line of features.jsonl: top documents (index into docs.jsonl, activation), optional evidence, and the
 * feature's concept-search terms: its most distinctive words and phrases (folded keys) with their weights
 * (z-scores of the top documents against the corpus, raised by token evidence).
 */
export interface FeatureRecord {
  id: number;
  top: Array<[number, number]>;
  evidence?: DocumentEvidence[];
  terms?: Array<[string, number]>;
}

/** One line of docs.jsonl. */
export interface DocRecord {
  id: string;
  snippet: string;
}

/** Contents of terms.json: the corpus' bag-of-words document frequencies, most frequent first. */
export interface TermsRecord {
  documents: number;
  documentFrequency: number[];
  top: Array<[string, number]>;
}

/** Contents of aliases.json: user names for features, kept across re-labelling. */
export interface AliasesRecord {
  saeId: string;
  aliases: Record<string, number>;
}

/** The catalog folder of an SAE folder. */
export function catalogDir(saeDir: string): string {
  return join(saeDir, CATALOG_DIR);
}

/** Serializes the stats columns: magic, version, nLatents, documents, then count u32 and four f32 columns. */
export function encodeStats(stats: FeatureStats): Uint8Array {
  const n = stats.nLatents;
  const bytes = new Uint8Array(STATS_HEADER_BYTES + 20 * n);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, STATS_MAGIC, true);
  view.setUint32(4, STATS_VERSION, true);
  view.setUint32(8, n, true);
  view.setUint32(12, stats.documents, true);
  const columns = [
    stats.count,
    stats.frequency,
    stats.meanActivation,
    stats.p99Activation,
    stats.typicalActivation,
  ];
  columns.forEach((column, c) => {
    const offset = STATS_HEADER_BYTES + c * 4 * n;
    // NOTE: copied byte-wise so the file is little-endian regardless of platform typed-array layout.
    for (let i = 0; i < n; i++) {
      if (c === 0) view.setUint32(offset + 4 * i, column[i]!, true);
      else view.setFloat32(offset + 4 * i, column[i]!, true);
    }
  });
  return bytes;
}

/** Parses stats.bin; throws CatalogError `catalog_invalid` naming the file when it is damaged. */
export function decodeStats(bytes: Uint8Array, file: string, nLatents: number): FeatureStats {
  const fail = (problem: string): never => {
    throw new CatalogError(
      'catalog_invalid',
      `catalog: ${file} ${problem}; rebuild the catalog with \`steer label\``,
    );
  };
  if (bytes.byteLength < STATS_HEADER_BYTES) fail('is truncated');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== STATS_MAGIC) fail('is not a steer stats file');
  if (view.getUint32(4, true) !== STATS_VERSION)
    fail(`has version ${view.getUint32(4, true)}, expected ${STATS_VERSION}`);
  const n = view.getUint32(8, true);
  if (n !== nLatents) fail(`holds ${n} features but the SAE has ${nLatents}`);
  if (bytes.byteLength !== STATS_HEADER_BYTES + 20 * n) fail('has the wrong size');
  const column = <T extends Uint32Array | Float32Array>(c: number, make: (n: number) => T): T => {
    const out = make(n);
    const offset = STATS_HEADER_BYTES + c * 4 * n;
    for (let i = 0; i < n; i++)
      out[i] = c === 0 ? view.getUint32(offset + 4 * i, true) : view.getFloat32(offset + 4 * i, true);
    return out;
  };
  return {
    nLatents: n,
    documents: view.getUint32(12, true),
    count: column(0, (m) => new Uint32Array(m)),
    frequency: column(1, (m) => new Float32Array(m)),
    meanActivation: column(2, (m) => new Float32Array(m)),
    p99Activation: column(3, (m) => new Float32Array(m)),
    typicalActivation: column(4, (m) => new Float32Array(m)),
  };
}

/** Int8 rows with one float scale per row: row j is `scale[j] * q[j * dims .. (j + 1) * dims]`. */
export interface QuantizedRows {
  q: Int8Array; // [rows, dims]
  scale: Float32Array; // [rows]
}

/** Rounds half away from zero to an integer; several times faster than Math.round in V8's hot loops. */
export function roundToInt(value: number): number {
  return (value + (value >= 0 ? 0.5 : -0.5)) | 0;
}

/** Quantizes rows [rows, dims] of `source` to int8 with one scale per row (symmetric, max-abs). */
export function quantizeRows(source: Float32Array, rows: number, dims: number): QuantizedRows {
  const out: QuantizedRows = { q: new Int8Array(rows * dims), scale: new Float32Array(rows) };
  for (let r = 0; r < rows; r++) {
    let maxAbs = 0;
    for (let i = 0; i < dims; i++) maxAbs = Math.max(maxAbs, Math.abs(source[r * dims + i]!));
    out.scale[r] = maxAbs > 0 ? maxAbs / 127 : 0;
    const inverse = maxAbs > 0 ? 127 / maxAbs : 0;
    for (let i = 0; i < dims; i++) out.q[r * dims + i] = roundToInt(source[r * dims + i]! * inverse);
  }
  return out;
}

/** Serializes feature centroids: magic, version, nLatents, dModel, then f32 scales [n] and int8 rows [n, d]. */
export function encodeCentroids(rows: QuantizedRows, nLatents: number, dModel: number): Uint8Array {
  const bytes = new Uint8Array(CENTROIDS_HEADER_BYTES + 4 * nLatents + nLatents * dModel);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, CENTROIDS_MAGIC, true);
  view.setUint32(4, CENTROIDS_VERSION, true);
  view.setUint32(8, nLatents, true);
  view.setUint32(12, dModel, true);
  for (let j = 0; j < nLatents; j++) view.setFloat32(CENTROIDS_HEADER_BYTES + 4 * j, rows.scale[j]!, true);
  bytes.set(
    new Uint8Array(rows.q.buffer, rows.q.byteOffset, rows.q.byteLength),
    CENTROIDS_HEADER_BYTES + 4 * nLatents,
  );
  return bytes;
}

/**
 * Checks a binary catalog file's header (length, magic, version) and returns a view of it with `fail`, which throws
 * CatalogError `catalog_invalid` naming the file and the fix.
 */
function openBinaryFile(
  bytes: Uint8Array,
  file: string,
  header: { headerBytes: number; magic: number; version: number; kind: string },
): { view: DataView; fail: (problem: string) => never } {
  const fail = (problem: string): never => {
    throw new CatalogError(
      'catalog_invalid',
      `catalog: ${file} ${problem}; rebuild the catalog with \`steer label\``,
    );
  };
  if (bytes.byteLength < header.headerBytes) fail('is truncated');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== header.magic) fail(`is not a steer ${header.kind} file`);
  if (view.getUint32(4, true) !== header.version)
    fail(`has version ${view.getUint32(4, true)}, expected ${header.version}`);
  return { view, fail };
}

/** Parses centroids.bin; throws CatalogError `catalog_invalid` naming the file when it is damaged. */
export function decodeCentroids(
  bytes: Uint8Array,
  file: string,
  nLatents: number,
  dModel: number,
): QuantizedRows {
  const { view, fail } = openBinaryFile(bytes, file, {
    headerBytes: CENTROIDS_HEADER_BYTES,
    magic: CENTROIDS_MAGIC,
    version: CENTROIDS_VERSION,
    kind: 'centroids',
  });
  if (view.getUint32(8, true) !== nLatents || view.getUint32(12, true) !== dModel)
    fail(
      `holds ${view.getUint32(8, true)} x ${view.getUint32(12, true)} values but the SAE has ${nLatents} x ${dModel}`,
    );
  if (bytes.byteLength !== CENTROIDS_HEADER_BYTES + 4 * nLatents + nLatents * dModel)
    fail('has the wrong size');
  const scale = new Float32Array(nLatents);
  for (let j = 0; j < nLatents; j++) scale[j] = view.getFloat32(CENTROIDS_HEADER_BYTES + 4 * j, true);
  const start = bytes.byteOffset + CENTROIDS_HEADER_BYTES + 4 * nLatents;
  const q = new Int8Array(bytes.buffer.slice(start, start + nLatents * dModel));
  return { q, scale };
}

/**
 * The pseudo-relevance-feedback pool of concept search: a sample of corpus documents with their int8 embeddings
 * and their SAE codes (see FeedbackPool in feedback.ts).
 */
export interface FeedbackPoolData {
  documents: number;
  dModel: number;
  k: number;
  vectors: QuantizedRows; // [documents, dModel]
  indices: Int32Array; // [documents, k]
  values: Float32Array; // [documents, k]
}

/**
 * Serializes a feedback pool: magic, version, documents, dModel, k, then f32 vector scales [documents], int8
 * vectors [documents, dModel], i32 feature indices [documents, k] and f32 activations [documents, k].
 */
export function encodeFeedback(pool: FeedbackPoolData): Uint8Array {
  const { documents: m, dModel: d, k } = pool;
  const bytes = new Uint8Array(FEEDBACK_HEADER_BYTES + 4 * m + m * d + 8 * m * k + ((4 - ((m * d) % 4)) % 4));
  const view = new DataView(bytes.buffer);
  [FEEDBACK_MAGIC, FEEDBACK_VERSION, m, d, k].forEach((value, i) => view.setUint32(4 * i, value, true));
  let offset = FEEDBACK_HEADER_BYTES;
  for (let r = 0; r < m; r++, offset += 4) view.setFloat32(offset, pool.vectors.scale[r]!, true);
  bytes.set(new Uint8Array(pool.vectors.q.buffer, pool.vectors.q.byteOffset, m * d), offset);
  offset += m * d + ((4 - ((m * d) % 4)) % 4);
  for (let i = 0; i < m * k; i++, offset += 4) view.setInt32(offset, pool.indices[i]!, true);
  for (let i = 0; i < m * k; i++, offset += 4) view.setFloat32(offset, pool.values[i]!, true);
  return bytes;
}

/** Parses feedback.bin; throws CatalogError `catalog_invalid` naming the file when it is damaged. */
export function decodeFeedback(
  bytes: Uint8Array,
  file: string,
  nLatents: number,
  dModel: number,
): FeedbackPoolData {
  const { view, fail } = openBinaryFile(bytes, file, {
    headerBytes: FEEDBACK_HEADER_BYTES,
    magic: FEEDBACK_MAGIC,
    version: FEEDBACK_VERSION,
    kind: 'feedback-pool',
  });
  const [m, d, k] = [view.getUint32(8, true), view.getUint32(12, true), view.getUint32(16, true)];
  if (d !== dModel) fail(`holds ${d}-dim vectors but the SAE has ${dModel} dims`);
  const pad = (4 - ((m * d) % 4)) % 4;
  if (bytes.byteLength !== FEEDBACK_HEADER_BYTES + 4 * m + m * d + pad + 8 * m * k)
    fail('has the wrong size');
  let offset = FEEDBACK_HEADER_BYTES;
  const scale = new Float32Array(m);
  for (let r = 0; r < m; r++, offset += 4) scale[r] = view.getFloat32(offset, true);
  const start = bytes.byteOffset + offset;
  const q = new Int8Array(bytes.buffer.slice(start, start + m * d));
  offset += m * d + pad;
  const indices = new Int32Array(m * k);
  for (let i = 0; i < m * k; i++, offset += 4) {
    indices[i] = view.getInt32(offset, true);
    if (indices[i]! < 0 || indices[i]! >= nLatents)
      fail(`names feature ${indices[i]} outside the SAE's ${nLatents}`);
  }
  const values = new Float32Array(m * k);
  for (let i = 0; i < m * k; i++, offset += 4) values[i] = view.getFloat32(offset, true);
  return { documents: m, dModel: d, k, vectors: { q, scale }, indices, values };
}

/** Serializes records as JSON lines. */
export function toJsonl(records: readonly unknown[]): string {
  return records.map((record) => JSON.stringify(record)).join('\n') + (records.length > 0 ? '\n' : '');
}

/** Parses JSON lines; throws CatalogError `catalog_invalid` naming the file and line. */
export function parseJsonl<T>(text: string, file: string): T[] {
  const out: T[] = [];
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      throw new CatalogError(
        'catalog_invalid',
        `catalog: ${file}:${lineNo} is not valid JSON; rebuild the catalog with \`steer label\``,
      );
    }
  }
  return out;
}

/** Everything a catalog build writes (aliases.json is never touched by a build). */
export interface CatalogFiles {
  header: Omit<CatalogHeader, 'files'>;
  stats: FeatureStats;
  labels: LabelRecord[];
  features: FeatureRecord[];
  docs: DocRecord[];
  terms: TermsRecord;
  /** Top-document centroids (see featureCentroids), int8. */
  centroids?: Uint8Array;
  /** The pseudo-relevance-feedback pool (see encodeFeedback). */
  feedback?: Uint8Array;
}

/**
 * Writes a catalog into `dir` (created when missing): each data file atomically, then catalog.json with the
 * files' sizes, so a reader never mixes a new header with old data unnoticed.
 */
export async function writeCatalogFiles(dir: string, files: CatalogFiles): Promise<CatalogHeader> {
  await mkdir(dir, { recursive: true });
  const payloads: Array<[string, string | Uint8Array]> = [
    [STATS_FILE, encodeStats(files.stats)],
    [LABELS_FILE, toJsonl(files.labels)],
    [FEATURES_FILE, toJsonl(files.features)],
    [DOCS_FILE, toJsonl(files.docs)],
    [TERMS_FILE, JSON.stringify(files.terms)],
    ...(files.centroids ? ([[CENTROIDS_FILE, files.centroids]] as Array<[string, Uint8Array]>) : []),
    ...(files.feedback ? ([[FEEDBACK_FILE, files.feedback]] as Array<[string, Uint8Array]>) : []),
  ];
  const sizes: Record<string, number> = {};
  for (const [name, data] of payloads) {
    await writeFileAtomic(join(dir, name), data);
    sizes[name] = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  }
  const header: CatalogHeader = { ...files.header, files: sizes };
  await writeFileAtomic(join(dir, HEADER_FILE), JSON.stringify(header, null, 2) + '\n');
  return header;
}

/** Reads catalog.json of `dir`, or undefined when there is none. Throws CatalogError when it is invalid. */
export async function readHeader(dir: string): Promise<CatalogHeader | undefined> {
  const path = join(dir, HEADER_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let header: CatalogHeader;
  try {
    header = JSON.parse(text) as CatalogHeader;
  } catch {
    throw new CatalogError(
      'catalog_invalid',
      `catalog: ${path} is not valid JSON; rebuild the catalog with \`steer label\``,
    );
  }
  if (
    header?.format !== CATALOG_FORMAT ||
    typeof header.saeId !== 'string' ||
    typeof header.files !== 'object'
  ) {
    throw new CatalogError(
      'catalog_invalid',
      `catalog: ${path} is not a ${CATALOG_FORMAT} header; rebuild the catalog with \`steer label\``,
    );
  }
  return header;
}

/** Checks that every data file has the size recorded in the header (a torn or mixed write otherwise). */
export async function verifyFiles(dir: string, header: CatalogHeader): Promise<void> {
  for (const [name, bytes] of Object.entries(header.files)) {
    const path = join(dir, name);
    const size = await stat(path).then(
      (info) => info.size,
      () => -1,
    );
    if (size !== bytes) {
      throw new CatalogError(
        'catalog_invalid',
        `catalog: ${path} ${size < 0 ? 'is missing' : `has ${size} bytes but catalog.json records ${bytes}`}; the catalog was damaged or only partly written, rebuild it with \`steer label\``,
      );
    }
  }
}
