// Files are written whole or not at all: a temporary sibling is written and fsynced, renamed over the target, and the
// folder is fsynced so the rename itself survives a crash. The one implementation every Steer package uses.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Options of {@link writeFileAtomic} and {@link writeFileAtomicWith}. */
export interface AtomicWriteOptions {
  /** Create the target's folder (and its parents) first; default false. */
  mkdir?: boolean;
  /** Replace an existing file (default true); false fails with EEXIST instead and leaves the file as it was. */
  overwrite?: boolean;
}

/** A unique temporary name beside `path` (same folder, so the rename is atomic), hidden and ending in `.tmp`. */
export function temporarySibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Writes `data` (text as UTF-8, bytes, or byte chunks in order) to `path` atomically: a reader sees the old file
 * or the new one, never a part. @throws the file system's error (ENOENT, EACCES, EEXIST, ...); no temporary file
 * is left behind.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | readonly Uint8Array[],
  options: AtomicWriteOptions = {},
): Promise<void> {
  await writeFileAtomicWith(
    path,
    async (handle) => {
      if (typeof data === 'string' || data instanceof Uint8Array) await handle.writeFile(data);
      else for (const chunk of data) await handle.write(chunk);
    },
    options,
  );
}

/**
 * Like {@link writeFileAtomic}, for writers that need the open handle (positional writes, truncation): `write`
 * fills the temporary file, which is then fsynced, closed and renamed over `path`.
 */
export async function writeFileAtomicWith(
  path: string,
  write: (handle: FileHandle) => Promise<void>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  if (options.mkdir) await mkdir(dirname(path), { recursive: true });
  const temp = temporarySibling(path);
  const handle = await open(temp, 'wx');
  try {
    try {
      await write(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await commitTemporary(temp, path, options.overwrite ?? true);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Moves the complete, fsynced file `temp` to `path` (a rename, or with `overwrite` false a link that fails with
 * EEXIST when `path` exists) and fsyncs the folder so the new name is durable.
 */
export async function commitTemporary(temp: string, path: string, overwrite = true): Promise<void> {
  if (overwrite) await rename(temp, path);
  else {
    await link(temp, path);
    await rm(temp, { force: true });
  }
  await syncFolder(dirname(path));
}

/** Flushes a folder's entries (a rename in it) to disk; a no-op where folders cannot be opened (Windows). */
export async function syncFolder(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // NOTE: Windows cannot open a folder, and some file systems refuse to fsync one; the rename stands anyway.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
