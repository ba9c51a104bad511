#!/usr/bin/env node
// Removes compiled outputs whose TypeScript source is gone (a file moved or deleted): `tsc -b` never deletes them,
// and a stale file changes what a folder holds, e.g. the trainer's code hash (packages/train/src/provenance.ts),
// which hashes every compiled file of packages/train/dist/src. Run before `tsc -b` by `npm run build`, `npm test`
// and `npm run bench`. Only `dist/<folder>/` trees that mirror a source folder of the workspace are touched
// (`dist/bundle`, written by the language server's bundler, is not).
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUTPUT = /\.(?:d\.ts\.map|d\.ts|js\.map|js)$/u;
const SOURCE_EXTENSIONS = ['.ts', '.tsx', '.mts', '.cts', '.js', '.mjs'];

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (OUTPUT.test(entry.name)) yield path;
  }
}

/** Deletes the stale outputs under `workspace`/dist; returns their paths relative to `workspace`. */
export function cleanStaleOutputs(workspace) {
  const dist = join(workspace, 'dist');
  if (!existsSync(dist)) return [];
  const removed = [];
  for (const folder of readdirSync(dist, { withFileTypes: true })) {
    if (!folder.isDirectory() || !existsSync(join(workspace, folder.name))) continue;
    for (const output of files(join(dist, folder.name))) {
      const stem = relative(dist, output).replace(OUTPUT, '');
      if (SOURCE_EXTENSIONS.some((ext) => existsSync(join(workspace, stem + ext)))) continue;
      rmSync(output);
      removed.push(relative(workspace, output));
    }
  }
  return removed;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const workspace of workspaces) {
    for (const path of cleanStaleOutputs(join(root, workspace))) {
      console.error(`clean-stale: removed ${workspace}/${path} (its source is gone)`);
    }
  }
}
