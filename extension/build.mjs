// Builds the extension: bundles src/extension.ts (external vscode) into out/extension.js and the language
// server of packages/language-server into out/server.js, and copies the TextMate grammar from grammar/.
// NOTE: run `tsc -b` at the repository root first; the server is bundled from the compiled packages.
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const serverEntry = here('../packages/language-server/dist/src/bin.js');
if (!existsSync(serverEntry)) {
  console.error(
    `extension build: ${serverEntry} is missing; run \`npx tsc -b\` at the repository root first`,
  );
  process.exit(1);
}
// Native modules and packages that load files next to themselves cannot be bundled; the server imports
// them lazily and works without them (parsing, formatting, options), or resolves them through NODE_PATH
// (the extension points it at the workspace's node_modules).
const external = [
  'vscode',
  'onnxruntime-node',
  '@lancedb/lancedb',
  'apache-arrow',
  '@energetic-ai/*',
  '@tensorflow/*',
  'webgpu',
];
const common = {
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  sourcemap: false,
  minify: true,
  logLevel: 'warning',
  external,
  // NOTE: ESM sources use import.meta.url; a CommonJS bundle has no import.meta, so provide it.
  define: { 'import.meta.url': '__steerImportMetaUrl' },
  banner: { js: "const __steerImportMetaUrl = require('url').pathToFileURL(__filename).href;" },
};
await mkdir(here('./out'), { recursive: true });
await mkdir(here('./syntaxes'), { recursive: true });
await Promise.all([
  build({ ...common, entryPoints: [here('./src/extension.ts')], outfile: here('./out/extension.js') }),
  build({ ...common, entryPoints: [serverEntry], outfile: here('./out/server.js') }),
  copyFile(here('../grammar/steer.tmLanguage.json'), here('./syntaxes/steer.tmLanguage.json')),
]);
// NOTE: esbuild keeps `import("x")` of externals, and ESM resolution ignores NODE_PATH; load them with
// require (which honours it), shaped like an ESM namespace of a CommonJS module.
const server = here('./out/server.js');
const bundled = await readFile(server, 'utf8');
const rewritten = bundled.replace(
  /\bimport\(("(?:[^"\\]|\\.)*")\)/g,
  (_, specifier) =>
    `Promise.resolve().then(()=>{const m=require(${specifier});return m&&typeof m==="object"&&!("default" in m)?{...m,default:m}:m})`,
);
await writeFile(server, rewritten);
