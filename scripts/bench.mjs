// `npm run bench`: runs every compiled benchmark (`<package>/dist/bench/*.bench.js`) and prints one line per
// figure, or with `--json` one JSON object per line: {"figure","value","unit","vs":{"figure","value","ratio"}}.
// Usage: npm run bench [-- --json] [-- --only <substring>]
import { readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const json = args.includes('--json');
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? args[onlyIndex + 1] : undefined;

const packageDirs = ['grammar', 'es-plugin-bridge', 'test']
  .concat(readdirSync(join(root, 'packages')).map((p) => join('packages', p)))
  .map((p) => join(root, p));
const files = packageDirs
  .filter((dir) => existsSync(join(dir, 'dist', 'bench')))
  .flatMap((dir) =>
    readdirSync(join(dir, 'dist', 'bench'))
      .filter((f) => f.endsWith('.bench.js'))
      .map((f) => join(dir, 'dist', 'bench', f)),
  )
  .filter((f) => !only || relative(root, f).includes(only))
  .sort();

function fmt(value) {
  if (typeof value !== 'number') return String(value);
  const abs = Math.abs(value);
  return abs !== 0 && (abs < 0.01 || abs >= 1e6) ? value.toExponential(3) : value.toFixed(abs < 10 ? 3 : 1);
}

function report(figure) {
  if (json) {
    process.stdout.write(JSON.stringify(figure) + '\n');
    return;
  }
  let line = `${figure.figure}: ${fmt(figure.value)} ${figure.unit}`;
  if (figure.vs) line += `  (vs ${figure.vs.figure}: ${fmt(figure.vs.value)}; ratio ${fmt(figure.vs.ratio)})`;
  process.stdout.write(line + '\n');
}

let failed = 0;
for (const file of files) {
  if (!json) process.stderr.write(`# ${relative(root, file)}\n`);
  try {
    const mod = await import(pathToFileURL(file).href);
    await mod.run(report);
  } catch (error) {
    failed++;
    process.stderr.write(`bench ${relative(root, file)} failed: ${error?.stack ?? error}\n`);
  }
}
process.exit(failed ? 1 : 0);
