// Bundles the compiled language server (dist/src) with esbuild into a few files, because a server that loads
// ~800 modules one by one (Chevrotain's lodash-es alone is 640) starts in seconds instead of ~0.2 s. Used by
// `npm run build` (into dist/bundle/, what `steer lsp` runs when it is up to date) and by the VS Code
// extension's build (into extension/out/server/). Usage: node packages/language-server/bundle.mjs
// NOTE: run `tsc -b` first; the bundle is made from the compiled packages.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** What dist/bundle/inputs.json holds: the bundled sources (relative to it) and their newest change time. */
export const INPUTS_FILE = 'inputs.json';

/**
 * Bundles the server into `outdir` (emptied first): `main.js` (the server on stdio), `embed-worker.js` (the
 * embedding worker), chunks loaded on first use and, with `api` (default true), `server.js` (the
 * `startLanguageServer` API) and `inputs.json`, which `loadLanguageServer` (src/start.ts) reads to tell a stale
 * bundle. Native runtimes (NATIVE_RUNTIMES) and packages that load files beside themselves stay outside the
 * bundle and are loaded from node_modules at run time.
 */
export async function bundleLanguageServer({ outdir, api = true }) {
  const entries = {
    main: join(here, 'dist', 'src', 'bin.js'),
    'embed-worker': join(here, 'dist', 'src', 'embed-worker.js'),
    ...(api ? { server: join(here, 'dist', 'src', 'main.js') } : {}),
  };
  for (const file of Object.values(entries)) {
    if (!existsSync(file)) {
      throw new Error(
        `language server bundle: ${file} is missing; run \`npx tsc -b\` at the repository root first`,
      );
    }
  }
  const { NATIVE_RUNTIMES } = await import(pathToFileURL(join(here, 'dist', 'src', 'load-failure.js')).href);
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  // NOTE: ESM with code splitting, so that starting the server reads and compiles only what the first requests
  // need (the parser, completion, the catalog); the engine, LanceDB glue and the Elasticsearch client come in
  // chunks loaded on first use. Minified: V8 parses less. `require` is provided for the CommonJS packages inside.
  const result = await build({
    bundle: true,
    platform: 'node',
    target: 'node18',
    minify: true,
    logLevel: 'warning',
    external: [...NATIVE_RUNTIMES, '@energetic-ai/*', '@tensorflow/*', 'webgpu'],
    format: 'esm',
    splitting: true,
    metafile: true,
    entryPoints: entries,
    outdir,
    banner: {
      js: "import { createRequire as __steerCreateRequire } from 'node:module'; const require = __steerCreateRequire(import.meta.url);",
    },
  });
  await writeFile(join(outdir, 'package.json'), '{ "type": "module" }\n');
  if (!api) return;
  // Our own compiled files only: node_modules change only with `npm ci`, which rebuilds the bundle.
  const inputs = Object.keys(result.metafile.inputs)
    .map((input) => resolve(input))
    .filter((input) => !input.includes(`${sep}node_modules${sep}`));
  const times = await Promise.all(inputs.map(async (input) => (await stat(input)).mtimeMs));
  await writeFile(
    join(outdir, INPUTS_FILE),
    `${JSON.stringify({ newestMs: Math.max(...times), files: inputs.map((input) => relative(outdir, input)) })}\n`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bundleLanguageServer({ outdir: join(here, 'dist', 'bundle') });
}
