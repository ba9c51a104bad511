// The KL groups saved in the state folder (`groups.bin`), so that a resumed or restarted run on the same data and
// options reads them back instead of mining neighbours again (minutes at a million vectors).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@steer/core';
import { buildGroups, type GroupOptions, type Groups, type TrainingRows } from './groups.js';

const MAGIC = 'STEER-GROUPS/1\n';

/** What the groups depend on besides the options: the data and the run's shape. */
export interface GroupsKey {
  data: string;
  nDocs: number;
  nQueries: number;
  neighbours: number;
  pseudoQueries: boolean;
  seed: number;
}

function keyOf(key: GroupsKey, options: GroupOptions): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ ...key, search: options.search ?? {} }));
  for (const list of options.relevant ?? []) hash.update(`${list.join(',')};`);
  return hash.digest('hex');
}

/**
 * The groups of `rows` under `options`: read from `path` when it holds the groups of the same key, else built with
 * {@link buildGroups} and saved there atomically. @returns the groups and whether they were read back.
 */
export async function loadOrBuildGroups(
  path: string,
  key: GroupsKey,
  rows: TrainingRows,
  options: GroupOptions,
): Promise<{ groups: Groups; reused: boolean }> {
  if (options.neighbours === 0) return { groups: await buildGroups(rows, options), reused: false };
  const digest = keyOf(key, options);
  const saved = await readGroups(path, digest);
  if (saved) return { groups: saved, reused: true };
  const groups = await buildGroups(rows, options);
  const header = new TextEncoder().encode(
    JSON.stringify({
      key: digest,
      groups: groups.queryRow.length,
      neighbours: groups.neighbours,
      pseudoQueries: groups.pseudoQueries,
      search: groups.search ?? [],
    }),
  );
  const prefix = new Uint8Array(MAGIC.length + 4);
  prefix.set(new TextEncoder().encode(MAGIC));
  new DataView(prefix.buffer).setUint32(MAGIC.length, header.length, true);
  const pad = new Uint8Array((4 - ((prefix.length + header.length) % 4)) % 4);
  const bytes = (a: Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  await writeFileAtomic(path, [prefix, header, pad, bytes(groups.queryRow), bytes(groups.docRows)], {
    mkdir: true,
  });
  return { groups, reused: false };
}

/** The groups saved at `path` under `digest`, or null when the file is absent, damaged or of another run. */
async function readGroups(path: string, digest: string): Promise<Groups | null> {
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch {
    return null;
  }
  if (file.length < MAGIC.length + 4 || file.subarray(0, MAGIC.length).toString('latin1') !== MAGIC)
    return null;
  const length = file.readUInt32LE(MAGIC.length);
  let header: {
    key: string;
    groups: number;
    neighbours: number;
    pseudoQueries: boolean;
    search: Groups['search'];
  };
  try {
    header = JSON.parse(file.subarray(MAGIC.length + 4, MAGIC.length + 4 + length).toString('utf8'));
  } catch {
    return null;
  }
  if (header.key !== digest) return null;
  let offset = MAGIC.length + 4 + length;
  offset += (4 - (offset % 4)) % 4;
  const expected = offset + 4 * header.groups * (1 + header.neighbours);
  if (file.length !== expected) return null;
  const copy = new Int32Array(header.groups * (1 + header.neighbours));
  new Uint8Array(copy.buffer).set(file.subarray(offset));
  return {
    queryRow: copy.subarray(0, header.groups),
    docRows: copy.subarray(header.groups),
    neighbours: header.neighbours,
    pseudoQueries: header.pseudoQueries,
    ...(header.search ? { search: header.search } : {}),
  };
}
