// Makes sure a data directory exists and is writable before any backend writes to it.

import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { SearchError } from './errors.js';

/**
 * Creates `dir` (and missing parents) and proves it writable with a probe file.
 * Creates nothing when an ancestor is not a directory, and removes the folders it created when the
 * probe fails, so a failed call leaves the file system as it found it.
 * @throws SearchError `data_dir_unwritable` naming the path, the reason and the fix.
 */
export async function ensureWritableDir(dir: string): Promise<void> {
  const target = resolve(dir);
  const missing: string[] = [];
  let existing = target;
  for (;;) {
    const info = await stat(existing).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw unwritable(target, `${existing} cannot be read (${error.code ?? error.message})`, error);
    });
    if (info !== undefined) {
      if (!info.isDirectory()) throw unwritable(target, `${existing} is a file, not a directory`);
      break;
    }
    missing.unshift(existing);
    const parent = dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  const probe = join(target, `.steer-write-probe-${process.pid}-${Date.now()}`);
  try {
    await mkdir(target, { recursive: true });
    await writeFile(probe, '');
    await rm(probe);
  } catch (error) {
    await rm(probe, { force: true }).catch(() => undefined);
    if (missing[0] !== undefined)
      await rm(missing[0], { recursive: true, force: true }).catch(() => undefined);
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw unwritable(target, `writing there failed (${code})`, error);
  }
}

function unwritable(target: string, reason: string, cause?: unknown): SearchError {
  return new SearchError(
    'data_dir_unwritable',
    `search: data directory ${target} is not writable: ${reason}; pass a writable --data-dir (or STEER_DATA_DIR) or fix its permissions`,
    { cause },
  );
}
