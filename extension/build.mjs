// Builds the extension: bundles src/extension.ts (external vscode) into out/extension.js, the language server of
// packages/language-server into out/server/ (main.js, its embedding worker embed-worker.js, and chunks loaded on
// demand; packages/language-server/bundle.mjs, as for `steer lsp`), and copies the TextMate grammar from grammar/. With `--target linux-x64` it also copies the native runtimes the server loads
// (onnxruntime-node, LanceDB with apache-arrow, the USE-lite embedder with the TF.js it bundles) and their
// dependencies into out/node_modules, keeping only that platform's binaries: the .vsix then works alone.
// NOTE: run `tsc -b` at the repository root first; the server is bundled from the compiled packages.
import { build } from 'esbuild';
import { cp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const args = process.argv.slice(2);
const target = args.includes('--target') ? args[args.indexOf('--target') + 1] : undefined;
const TARGETS = {
  'linux-x64': { platform: 'linux', arch: 'x64', lancedb: '@lancedb/lancedb-linux-x64-gnu' },
};
if (target !== undefined && !TARGETS[target]) {
  console.error(
    `extension build: --target ${target} is not supported; use one of ${Object.keys(TARGETS).join(', ')}`,
  );
  process.exit(2);
}

// Native modules and packages that load files next to themselves cannot be bundled: they are loaded at run time
// from out/node_modules (a --target build). The server imports them lazily and works without them (parsing,
// formatting, options), saying which one is missing.
const { NATIVE_RUNTIMES: RUNTIMES } = await import(
  pathToFileURL(here('../packages/language-server/dist/src/load-failure.js')).href
).catch(() => {
  console.error(
    'extension build: the language server is not compiled; run `npx tsc -b` at the repository root first',
  );
  process.exit(1);
});
const { bundleLanguageServer } = await import(
  pathToFileURL(here('../packages/language-server/bundle.mjs')).href
);
const out = here('./out');
const serverDir = join(out, 'server');
await rm(out, { recursive: true, force: true });
await mkdir(serverDir, { recursive: true });
await mkdir(here('./syntaxes'), { recursive: true });
await Promise.all([
  build({
    bundle: true,
    platform: 'node',
    target: 'node18',
    minify: true,
    logLevel: 'warning',
    external: ['vscode'],
    format: 'cjs',
    entryPoints: [here('./src/extension.ts')],
    outfile: join(out, 'extension.js'),
  }),
  // The language server as `steer lsp` runs it (out/server/main.js, embed-worker.js, chunks loaded on demand).
  bundleLanguageServer({ outdir: serverDir, api: false }),
  cp(here('../grammar/steer.tmLanguage.json'), here('./syntaxes/steer.tmLanguage.json')),
]);

if (target) {
  const staged = await stageRuntimes(TARGETS[target]);
  await writeFile(
    join(out, 'runtime.json'),
    `${JSON.stringify({ target, node: process.versions.node, packages: staged }, null, 2)}\n`,
  );
  console.log(`extension build: ${staged.length} runtime packages for ${target} in out/node_modules`);
}

/**
 * Copies RUNTIMES and everything they require from the repository's node_modules into out/node_modules, keeping
 * each package at the same path relative to node_modules (so Node resolves them exactly as in the repository).
 * Binaries of other platforms, source maps, type declarations and TypeScript sources stay out.
 */
async function stageRuntimes({ platform, arch, lancedb }) {
  const repoModules = here('../node_modules');
  const lancedbDir = join(repoModules, ...lancedb.split('/'));
  if (!existsSync(lancedbDir)) {
    throw new Error(
      `extension build: ${lancedb} is not installed, so the LanceDB runtime for ${platform}-${arch} cannot be packaged; run npm ci on ${platform}-${arch}`,
    );
  }
  const repoRoot = dirname(repoModules);
  const seen = new Map(); // package dir -> name
  const queue = RUNTIMES.map((name) => ({ name, from: repoRoot }));
  queue.push({ name: lancedb, from: repoRoot });
  while (queue.length > 0) {
    const { name, from } = queue.shift();
    const dir = resolvePackage(name, from, repoRoot);
    if (!dir) {
      throw new Error(
        `extension build: ${name} (needed by ${relative(repoModules, from) || 'the server'}) is not installed; run npm ci`,
      );
    }
    if (seen.has(dir)) continue;
    seen.set(dir, name);
    const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys(manifest.dependencies ?? {})) {
      if (!dep.startsWith('@types/')) queue.push({ name: dep, from: dir });
    }
    // Optional dependencies are other platforms' binaries and LanceDB's embedding providers (OpenAI,
    // transformers.js), which the server never uses: only this platform's LanceDB binary is staged (above).
  }
  const staged = [];
  for (const [dir, name] of seen) {
    const rel = relative(repoModules, dir);
    await cp(dir, join(out, 'node_modules', rel), {
      recursive: true,
      filter: (source) => keep(relative(dir, source), name, { platform, arch }),
    });
    staged.push(`${name}@${JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')).version}`);
  }
  return staged.sort();
}

/** The folder of package `name` as Node resolves it from folder `from` (walking up to `root`), or undefined. */
function resolvePackage(name, from, root) {
  for (let dir = from; dir.startsWith(root); dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', ...name.split('/'));
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root) break;
  }
  return undefined;
}

/** Whether file `rel` (relative to its package folder) goes into the vsix. */
function keep(rel, name, { platform, arch }) {
  if (rel === '') return true;
  const parts = rel.split(sep);
  if (parts[0] === 'node_modules') return false; // nested packages are staged on their own when required
  if (/\.(map|d\.ts|d\.mts|d\.cts)$/.test(rel) || (rel.endsWith('.ts') && !rel.endsWith('.d.ts')))
    return false;
  if (name === 'onnxruntime-node' && parts[0] === 'bin') {
    // bin/napi-v6/<platform>/<arch>/...: only this platform's binaries.
    if (parts.length >= 3 && parts[2] !== platform) return false;
    if (parts.length >= 4 && parts[3] !== arch) return false;
  }
  return true;
}

// Size of what was staged, for the build log.
if (target) {
  let bytes = 0;
  const walk = async (dir) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else bytes += (await stat(path)).size;
    }
  };
  await walk(join(out, 'node_modules'));
  console.log(`extension build: out/node_modules holds ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
}
