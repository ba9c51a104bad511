// The concept index saved beside the catalog: a second open loads it (no SAE weights needed) and gives the same
// results; a stale, damaged or unwritable index is rebuilt without an error.
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSae } from '@steer/sae';
import { buildCatalog, catalogDir, openCatalog } from '../src/index.js';
import { CONCEPT_INDEX_FILE, CONCEPT_SCAN_FILE } from '../src/concept-index-file.js';
import { hashEmbedder, plantedCorpus, writePlantedSae } from './helpers/planted.js';

async function labelled(t: { after(fn: () => unknown): void }) {
  // 4 candidates out of 16 features: the index has a scan, so it is saved.
  const { dir } = await writePlantedSae();
  t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));
  const sae = await loadSae(dir);
  const embedder = hashEmbedder();
  await buildCatalog({ saeDir: dir, sae, embedder, documents: plantedCorpus(), evidence: false });
  await sae.dispose();
  return { dir, embedder, options: { embedder, candidates: 4 } };
}

const concepts = ['telescope comet', 'recipe oven', 'penalty referee', 'salary'];

async function answers(dir: string, options: Parameters<typeof openCatalog>[1]) {
  const catalog = await openCatalog(dir, options);
  try {
    const out = [];
    for (const concept of concepts)
      out.push((await catalog.searchFeatures(concept, 3)).map((m) => [m.id, m.score.toFixed(6)]));
    return out;
  } finally {
    await catalog.dispose();
  }
}

test('the first search saves the index; the next open loads it without the SAE weights, same results', async (t) => {
  const { dir, options } = await labelled(t);
  const files = [join(catalogDir(dir), CONCEPT_INDEX_FILE), join(catalogDir(dir), CONCEPT_SCAN_FILE)];
  await assert.rejects(stat(files[0]!));
  const built = await answers(dir, options);
  for (const file of files) assert.ok((await stat(file)).size > 0, `${file} written`);
  // Without sae.safetensors, only the saved index can serve the dense scores.
  await rename(join(dir, 'sae.safetensors'), join(dir, 'moved.safetensors'));
  const loaded = await answers(dir, options);
  assert.deepEqual(loaded, built);
  assert.equal(loaded[0]![0]![0], 2, 'the astronomy feature still comes first');
});

test('an index of another catalog build, or a damaged one, is rebuilt; a read-only folder only skips saving', async (t) => {
  const { dir, embedder, options } = await labelled(t);
  const built = await answers(dir, options);
  const indexFile = join(catalogDir(dir), CONCEPT_INDEX_FILE);
  const first = await readFile(indexFile);
  // Re-labelling changes the catalog build: the old index is not used, a new one is written.
  const sae = await loadSae(dir);
  await buildCatalog({ saeDir: dir, sae, embedder, documents: plantedCorpus(12, 9), evidence: false });
  await sae.dispose();
  await answers(dir, options);
  assert.notDeepEqual(await readFile(indexFile), first);
  // A truncated index is rebuilt (and the answers do not change for the same catalog).
  const relabelled = await answers(dir, options);
  await writeFile(indexFile, (await readFile(indexFile)).subarray(0, 5000));
  assert.deepEqual(await answers(dir, options), relabelled);
  assert.ok((await stat(indexFile)).size > 5000);
  // An index that cannot be saved (a folder stands where the file goes, which even root cannot rename over):
  // search still works, and the folder is left alone.
  await rm(indexFile);
  await mkdir(join(indexFile, 'blocked'), { recursive: true });
  assert.deepEqual(await answers(dir, options), relabelled);
  assert.ok((await stat(indexFile)).isDirectory());
  assert.ok(built.length > 0);
});
