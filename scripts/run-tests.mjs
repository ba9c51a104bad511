// Runs every compiled test file (`<package>/dist/test/**/*.test.js`) with Node's test runner.
// Usage: node scripts/run-tests.mjs [substring filter ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packageDirs = ['grammar', 'extension', 'es-plugin-bridge', 'test']
  .concat(
    existsSync(join(root, 'packages'))
      ? readdirSync(join(root, 'packages')).map((p) => join('packages', p))
      : [],
  )
  .map((p) => join(root, p))
  .filter((p) => existsSync(join(p, 'dist', 'test')));

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

/** The source of a compiled test (`<pkg>/dist/test/x.test.js` -> `<pkg>/test/x.test.ts`). */
function sourceOf(dir, compiled) {
  return join(dir, relative(join(dir, 'dist'), compiled)).replace(/\.js$/, '.ts');
}

const filters = process.argv.slice(2);
const files = packageDirs
  .flatMap((dir) =>
    // NOTE: tsc -b never deletes the output of a removed or moved test; such leftovers are not run.
    collect(join(dir, 'dist', 'test'), []).filter((f) => {
      if (existsSync(sourceOf(dir, f))) return true;
      console.error(
        `run-tests: skipping ${relative(root, f)}: its source is gone (a leftover of an older build)`,
      );
      return false;
    }),
  )
  .filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no test files found; run `tsc -b` first');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
