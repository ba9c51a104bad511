// The aliases overlay (`<sae dir>/catalog/aliases.json`): user names for features such as `@learning` -> 179723.
// Builds never write this file, so aliases survive re-labelling.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CatalogError } from './errors.js';
import { writeFileAtomic } from '@steer/core';
import { ALIASES_FILE, type AliasesRecord } from './storage.js';

const ALIAS_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** Normalizes an alias name: drops a leading `@`; throws CatalogError `alias_invalid` when it cannot be written as `@name`. */
export function normalizeAliasName(name: string): string {
  const bare = name.startsWith('@') ? name.slice(1) : name;
  if (!ALIAS_NAME.test(bare)) {
    throw new CatalogError(
      'alias_invalid',
      `catalog: alias '${name}' is not a valid name; use a letter or _ followed by letters, digits, _, . or - (e.g. learning_strategy)`,
    );
  }
  return bare;
}

/**
 * Reads the aliases of the catalog folder `dir` (an empty map when the file is absent).
 * @throws CatalogError `catalog_invalid` for a damaged file, `sae_mismatch` when it belongs to another SAE.
 */
export async function readAliases(dir: string, saeId: string): Promise<Map<string, number>> {
  const path = join(dir, ALIASES_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  let record: AliasesRecord;
  try {
    record = JSON.parse(text) as AliasesRecord;
  } catch {
    throw new CatalogError(
      'catalog_invalid',
      `catalog: ${path} is not valid JSON; fix it by hand (it holds your aliases) or delete it`,
    );
  }
  if (
    typeof record !== 'object' ||
    record === null ||
    typeof record.aliases !== 'object' ||
    record.aliases === null
  ) {
    throw new CatalogError(
      'catalog_invalid',
      `catalog: ${path} must hold {"saeId": ..., "aliases": {"name": id}}; fix it by hand or delete it`,
    );
  }
  if (record.saeId !== saeId) {
    throw new CatalogError(
      'sae_mismatch',
      `catalog: ${path} holds aliases for SAE ${record.saeId} but this SAE is ${saeId}; move the file away (feature ids differ between SAEs)`,
    );
  }
  const out = new Map<string, number>();
  for (const [name, id] of Object.entries(record.aliases)) {
    if (!Number.isSafeInteger(id) || id < 0) {
      throw new CatalogError(
        'catalog_invalid',
        `catalog: alias '${name}' in ${path} maps to ${JSON.stringify(id)}; use a feature id (a whole number)`,
      );
    }
    out.set(name, id);
  }
  return out;
}

/** Writes the aliases of the catalog folder `dir` atomically, names sorted. */
export async function writeAliases(
  dir: string,
  saeId: string,
  aliases: ReadonlyMap<string, number>,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const sorted = Object.fromEntries([...aliases].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const record: AliasesRecord = { saeId, aliases: sorted };
  await writeFileAtomic(join(dir, ALIASES_FILE), JSON.stringify(record, null, 2) + '\n');
}
