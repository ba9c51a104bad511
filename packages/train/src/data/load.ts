// Opens training vectors (.npy files and shard folders read by offset, or JSONL with a `vector` field) and reads
// relevance judgments, checking them: finite values, one dimension, at least one row.
import { readFile, readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { TrainError, describeError } from '../errors.js';
import { memorySource, openVectorFiles, statPath, type VectorSource } from './source.js';

/** A matrix of vectors in memory with row ids (from JSONL `id`/`_id`). */
export interface VectorSet {
  data: Float32Array; // [rows, dims]
  rows: number;
  dims: number;
  /** ids[r] of row r: the JSONL `id` or `_id` field, else the row number as a string. */
  ids: string[];
}

/** A relevance judgment: query id, document id, grade (> 0 is relevant). */
export interface Qrel {
  queryId: string;
  docId: string;
  grade: number;
}

/**
 * Checks that `data` holds `rows` x `dims` finite values.
 * @throws TrainError `bad_input` naming the first bad row.
 */
export function checkVectors(what: string, data: Float32Array, rows: number, dims: number): void {
  if (rows < 1 || dims < 1) {
    throw new TrainError(
      'bad_input',
      `train: ${what} is empty (${rows} rows of ${dims} dims); give at least one vector`,
    );
  }
  if (data.length !== rows * dims) {
    throw new TrainError(
      'bad_input',
      `train: ${what} has ${data.length} values, not ${rows} rows x ${dims} dims`,
    );
  }
  for (let j = 0; j < data.length; j++) {
    if (!Number.isFinite(data[j]!)) {
      const row = Math.floor(j / dims);
      throw new TrainError(
        'bad_input',
        `train: ${what} row ${row} has a non-finite value (${data[j]}) at dimension ${j % dims}; remove or re-embed that row`,
      );
    }
  }
}

/** Vectors opened for training: rows read on demand, and the row ids when the file carries them (JSONL). */
export interface OpenedVectors {
  source: VectorSource;
  /** ids[r] of row r from JSONL `id`/`_id`; absent for .npy files (their ids live in a `.ids.json` sidecar). */
  ids?: string[];
}

/**
 * What a path names: a `.npy` or `.jsonl` file; or a folder holding embeddings.npy / vectors.npy /
 * embeddings.jsonl / vectors.jsonl, exactly one such file, or several `.npy` shards (read in name order as one).
 */
async function resolvePath(path: string): Promise<{ file: string } | { shards: string }> {
  const info = await statPath(path);
  if (!info.isDirectory()) return { file: path };
  const names = (await readdir(path)).filter((name) => !name.startsWith('.'));
  for (const preferred of ['embeddings.npy', 'vectors.npy', 'embeddings.jsonl', 'vectors.jsonl']) {
    if (names.includes(preferred)) return { file: join(path, preferred) };
  }
  const npy = names.filter((name) => extname(name) === '.npy');
  const jsonl = names.filter((name) => extname(name) === '.jsonl');
  if (npy.length + jsonl.length === 1) return { file: join(path, [...npy, ...jsonl][0]!) };
  if (npy.length > 1 && jsonl.length === 0) return { shards: path };
  const candidates = [...npy, ...jsonl];
  throw new TrainError(
    'bad_input',
    `train: folder ${path} holds ${candidates.length === 0 ? 'no' : 'several'} .npy/.jsonl files (${candidates.slice(0, 3).join(', ')}); ` +
      'name the file, call it embeddings.npy, or keep only .npy shards in the folder',
  );
}

/**
 * Opens vectors for training from a float32/float64 .npy [N, d] file or a folder of .npy shards (read by offset,
 * never whole), or a JSONL file whose lines carry a numeric `vector` array (parsed into memory); see resolvePath for
 * folders. Values are checked for finiteness when the trainer reads them.
 * @throws TrainError `file_unreadable`, `bad_input` (not 2-D, ragged dims, empty, shards of different widths).
 */
export async function openVectors(path: string, what = 'embeddings'): Promise<OpenedVectors> {
  const resolved = await resolvePath(path);
  if ('shards' in resolved) return { source: await openVectorFiles(resolved.shards, what) };
  const file = resolved.file;
  if (extname(file) !== '.jsonl') return { source: await openVectorFiles(file, what) };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new TrainError('file_unreadable', `train: cannot read ${file} (${describeError(error)})`, {
      cause: error,
    });
  }
  const set = parseVectorJsonl(text, `${what} ${file}`);
  return { source: memorySource(set.data, set.dims, file), ids: set.ids };
}

/** Parses JSONL lines `{"vector": [...], "id"?: ...}`. @throws TrainError `bad_input` naming the line. */
export function parseVectorJsonl(text: string, what: string): VectorSet {
  const vectors: number[][] = [];
  const ids: string[] = [];
  let dims = -1;
  const lines = text.split('\n');
  for (let line = 0; line < lines.length; line++) {
    const raw = lines[line]!.trim();
    if (raw === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (error) {
      throw new TrainError(
        'bad_input',
        `train: ${what} line ${line + 1} is not JSON (${describeError(error)})`,
      );
    }
    const vector = (record as { vector?: unknown }).vector;
    if (!Array.isArray(vector) || vector.some((v) => typeof v !== 'number')) {
      throw new TrainError(
        'bad_input',
        `train: ${what} line ${line + 1} has no numeric "vector" array; write {"vector": [..]}`,
      );
    }
    if (dims === -1) dims = vector.length;
    if (vector.length !== dims) {
      throw new TrainError(
        'bad_input',
        `train: ${what} line ${line + 1} has ${vector.length} dims but the first vector has ${dims}; all vectors must come from one model`,
      );
    }
    const id = (record as { id?: unknown; _id?: unknown }).id ?? (record as { _id?: unknown })._id;
    ids.push(id === undefined ? String(vectors.length) : String(id));
    vectors.push(vector as number[]);
  }
  const rows = vectors.length;
  const data = new Float32Array(rows * Math.max(dims, 0));
  vectors.forEach((v, r) => data.set(v, r * dims));
  checkVectors(what, data, rows, Math.max(dims, 0));
  return { data, rows, dims, ids };
}

/**
 * Reads TREC/BEIR qrels: `query-id <TAB|space> [iteration] doc-id grade` lines; a header line is skipped.
 * @throws TrainError `file_unreadable`, `bad_input`.
 */
export async function loadQrels(path: string): Promise<Qrel[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new TrainError('file_unreadable', `train: cannot read qrels ${path} (${describeError(error)})`, {
      cause: error,
    });
  }
  const qrels: Qrel[] = [];
  text.split('\n').forEach((raw, line) => {
    const fields = raw.trim().split(/\s+/);
    if (fields.length < 3 || fields[0] === '') return;
    const grade = Number(fields[fields.length - 1]);
    if (!Number.isFinite(grade)) {
      if (line === 0) return; // header
      throw new TrainError(
        'bad_input',
        `train: qrels ${path} line ${line + 1} has no numeric grade: "${raw.trim()}"`,
      );
    }
    const docId = fields.length >= 4 ? fields[2]! : fields[1]!;
    qrels.push({ queryId: fields[0]!, docId, grade });
  });
  if (qrels.length === 0) throw new TrainError('bad_input', `train: qrels ${path} has no judgments`);
  return qrels;
}
