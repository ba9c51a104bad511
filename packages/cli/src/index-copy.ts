// A local, resumable copy of what an index stores (`--from-index`): the reader's slices are read page by page into
// .npy parts (plus ids and texts), each part written whole before `copy.json` records it with the slice's cursor,
// so a killed copy resumes after the last recorded part and never leaves a half-written part in use.
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@steer/core';
import { writeNpy } from '@steer/embed';
import type { IndexReader, ReadCursor } from '@steer/search';
import { UsageError } from './command.js';

const MANIFEST = 'copy.json';
const FORMAT = 1;

/** What copy.json records. */
interface CopyManifest {
  format: number;
  index: string;
  vectorField: string;
  textField: string | null;
  dims: number;
  embeddingModel: string | null;
  total: number;
  snapshot: string;
  /** Reader state needed to reopen the same snapshot (a table version, a point-in-time id). */
  resume: ReadCursor;
  slices: Array<{ cursor: ReadCursor; rows: number; parts: string[]; done: boolean }>;
}

/** A finished copy: the .npy parts in order (one matrix), and readers of the ids and texts. */
export interface IndexCopy {
  dir: string;
  parts: string[];
  rows: number;
  dims: number;
  /** The embedding model the index records, when it records one. */
  embeddingModel?: string;
  snapshot: string;
  ids(): Promise<string[]>;
  texts(): Promise<string[]>;
}

/** The saved reader state of an unfinished copy in `dir` (to reopen its snapshot), or undefined. */
export async function savedCopyState(
  dir: string,
): Promise<{ snapshot: string; resume: ReadCursor } | undefined> {
  const manifest = await readManifest(dir);
  return manifest ? { snapshot: manifest.snapshot, resume: manifest.resume } : undefined;
}

/**
 * The finished copy of `index` in `dir`, or undefined when there is none (a resumed run reads it without asking the
 * index again, which may have changed or expired its point in time since). @throws UsageError for a copy of another
 * index.
 */
export async function finishedCopy(dir: string, index: string): Promise<IndexCopy | undefined> {
  const manifest = await readManifest(dir);
  if (!manifest || !manifest.slices.every((s) => s.done)) return undefined;
  if (manifest.index !== index) {
    throw new UsageError(
      `index copy: ${dir} holds a copy of index '${manifest.index}', not of '${index}'; delete it or use another --state-dir`,
    );
  }
  return copyOf(dir, manifest);
}

async function readManifest(dir: string): Promise<CopyManifest | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const manifest = JSON.parse(text) as CopyManifest;
    if (manifest.format === FORMAT && Array.isArray(manifest.slices)) return manifest;
  } catch {
    // fall through
  }
  throw new UsageError(
    `index copy: ${join(dir, MANIFEST)} is damaged; delete ${dir} to copy the index again`,
  );
}

/** Options of {@link copyIndex}. */
export interface CopyOptions {
  /** Continue a copy found in `dir` (else a copy there is refused). */
  resume: boolean;
  /** Reader state to record for reopening the same snapshot (see savedCopyState). */
  resumeState: ReadCursor;
  /** Documents per read (default 1,000). */
  pageSize?: number;
  /** Rows per part file (default: 16 pages, at most 32 MiB of vectors). */
  partRows?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Copies everything `reader` reads into `dir`, resuming a copy recorded there when `resume` is set.
 * @returns the finished copy. @throws UsageError when `dir` holds a copy of another index, field or snapshot, or an
 * unfinished copy and `resume` is off.
 */
export async function copyIndex(reader: IndexReader, dir: string, options: CopyOptions): Promise<IndexCopy> {
  await mkdir(dir, { recursive: true });
  const describe = `index '${reader.index}' field '${reader.vectorField}'${reader.textField ? ` text '${reader.textField}'` : ''}`;
  let manifest = await readManifest(dir);
  if (manifest) {
    const same =
      manifest.index === reader.index &&
      manifest.vectorField === reader.vectorField &&
      manifest.textField === (reader.textField ?? null) &&
      manifest.dims === reader.dims;
    if (!same) {
      throw new UsageError(
        `index copy: ${dir} holds a copy of index '${manifest.index}' field '${manifest.vectorField}', not of ${describe}; delete it or use another --state-dir`,
      );
    }
    const finished = manifest.slices.every((s) => s.done);
    if (!finished && !options.resume) {
      throw new UsageError(
        `index copy: ${dir} holds an unfinished copy of ${describe}; pass --resume to continue it, or delete that folder to start over`,
      );
    }
    if (manifest.snapshot !== reader.snapshot) {
      throw new UsageError(
        `index copy: ${describe} changed since the copy in ${dir} began (${manifest.snapshot}, now ${reader.snapshot}); delete that folder to copy it again`,
      );
    }
  } else {
    manifest = {
      format: FORMAT,
      index: reader.index,
      vectorField: reader.vectorField,
      textField: reader.textField ?? null,
      dims: reader.dims,
      embeddingModel: reader.embeddingModel ?? null,
      total: reader.total,
      snapshot: reader.snapshot,
      resume: options.resumeState,
      slices: Array.from({ length: reader.slices }, () => ({
        cursor: null,
        rows: 0,
        parts: [],
        done: false,
      })),
    };
    await writeFileAtomic(join(dir, MANIFEST), JSON.stringify(manifest));
  }
  const current = manifest;
  // Parts written by a killed run after its last recorded one are not part of the copy.
  const recorded = new Set(current.slices.flatMap((s) => s.parts.flatMap((p) => [p, ...sidecars(p)])));
  for (const name of await readdir(dir)) {
    if (name !== MANIFEST && !recorded.has(name)) await rm(join(dir, name), { force: true });
  }

  const pageSize = options.pageSize ?? 1000;
  const partRows =
    options.partRows ?? Math.max(1, Math.min(16 * pageSize, Math.floor((32 << 20) / (4 * reader.dims))));
  let done = current.slices.reduce((sum, s) => sum + s.rows, 0);
  options.onProgress?.(done, current.total);
  let saving: Promise<void> = Promise.resolve();
  const save = (): Promise<void> => {
    const snapshot = JSON.stringify(current);
    saving = saving.then(() => writeFileAtomic(join(dir, MANIFEST), snapshot));
    return saving;
  };
  const copySlice = async (slice: number): Promise<void> => {
    const state = current.slices[slice]!;
    while (!state.done) {
      const ids: string[] = [];
      const texts: string[] = [];
      const chunks: Float32Array[] = [];
      let cursor = state.cursor;
      let rows = 0;
      let finished = false;
      while (rows < partRows) {
        const next = await reader.read(slice, cursor, Math.min(pageSize, partRows - rows));
        if (next === null) {
          finished = true;
          break;
        }
        ids.push(...next.page.ids);
        if (next.page.texts) texts.push(...next.page.texts);
        chunks.push(next.page.vectors);
        rows += next.page.ids.length;
        cursor = next.cursor;
        done += next.page.ids.length;
        options.onProgress?.(done, current.total);
      }
      if (rows > 0) {
        const name = `slice-${slice}-part-${state.parts.length}.npy`;
        const vectors = new Float32Array(rows * reader.dims);
        let offset = 0;
        for (const chunk of chunks) {
          vectors.set(chunk, offset);
          offset += chunk.length;
        }
        await writeNpy(join(dir, name), vectors, [rows, reader.dims]);
        await writeFileAtomic(join(dir, `${name}.ids.json`), JSON.stringify(ids));
        if (reader.textField) await writeFileAtomic(join(dir, `${name}.texts.json`), JSON.stringify(texts));
        state.parts.push(name);
        state.rows += rows;
      }
      state.cursor = cursor;
      state.done = finished;
      await save();
    }
  };
  await Promise.all(current.slices.map((_, slice) => copySlice(slice)));
  await saving;
  return copyOf(dir, current);
}

function sidecars(part: string): string[] {
  return [`${part}.ids.json`, `${part}.texts.json`];
}

function copyOf(dir: string, manifest: CopyManifest): IndexCopy {
  const parts = manifest.slices.flatMap((s) => s.parts);
  const readLists = async (suffix: string): Promise<string[]> => {
    const out: string[] = [];
    for (const part of parts)
      out.push(...(JSON.parse(await readFile(join(dir, `${part}${suffix}`), 'utf8')) as string[]));
    return out;
  };
  return {
    dir,
    parts: parts.map((p) => join(dir, p)),
    rows: manifest.slices.reduce((sum, s) => sum + s.rows, 0),
    dims: manifest.dims,
    ...(manifest.embeddingModel !== null ? { embeddingModel: manifest.embeddingModel } : {}),
    snapshot: manifest.snapshot,
    ids: () => readLists('.ids.json'),
    texts: () => readLists('.texts.json'),
  };
}
