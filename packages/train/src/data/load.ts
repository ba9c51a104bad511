// Reads training vectors (float32 .npy [N, d] or JSONL with a `vector` field) and relevance judgments,
// and checks them: finite values, one dimension, at least one row.
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { readNpy } from '@steer/embed';
import { TrainError, describeError } from '../errors.js';

/** A matrix of vectors with optional row ids (from JSONL `id`/`_id`). */
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

async function resolveFile(path: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new TrainError(
      'file_unreadable',
      `train: cannot read ${path} (${describeError(error)}); check the path`,
      {
        cause: error,
      },
    );
  }
  if (!info.isDirectory()) return path;
  const names = await readdir(path);
  for (const preferred of ['embeddings.npy', 'vectors.npy', 'embeddings.jsonl', 'vectors.jsonl']) {
    if (names.includes(preferred)) return join(path, preferred);
  }
  const candidates = names.filter((name) => ['.npy', '.jsonl'].includes(extname(name)));
  if (candidates.length === 1) return join(path, candidates[0]!);
  throw new TrainError(
    'bad_input',
    `train: folder ${path} holds ${candidates.length === 0 ? 'no' : 'several'} .npy/.jsonl files (${candidates.slice(0, 3).join(', ')}); ` +
      'name the file, or call it embeddings.npy',
  );
}

/**
 * Loads vectors from a float32 .npy [N, d] file, a JSONL file whose lines carry a numeric `vector` array, or a
 * folder holding embeddings.npy / embeddings.jsonl (or exactly one such file).
 * @throws TrainError `file_unreadable`, `bad_input` (NaN, ragged dims, empty, not 2-D).
 */
export async function loadVectors(path: string, what = 'embeddings'): Promise<VectorSet> {
  const file = await resolveFile(path);
  if (extname(file) === '.npy') {
    let array: { data: Float32Array; shape: number[] };
    try {
      array = await readNpy(file);
    } catch (error) {
      throw new TrainError('bad_input', `train: ${what} file ${file}: ${describeError(error)}`, {
        cause: error,
      });
    }
    if (array.shape.length !== 2) {
      throw new TrainError(
        'bad_input',
        `train: ${what} file ${file} has shape (${array.shape.join(', ')}); it must be a 2-D [vectors, dims] array`,
      );
    }
    const [rows, dims] = array.shape as [number, number];
    checkVectors(`${what} ${file}`, array.data, rows, dims);
    return { data: array.data, rows, dims, ids: Array.from({ length: rows }, (_, r) => String(r)) };
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new TrainError('file_unreadable', `train: cannot read ${file} (${describeError(error)})`, {
      cause: error,
    });
  }
  return parseVectorJsonl(text, `${what} ${file}`);
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
