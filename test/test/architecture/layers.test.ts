// The layering rule (`steer/layers` in eslint.config.mjs) run by ESLint itself on fixtures that break it, and the
// layer table held against every workspace's package.json.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

async function lint(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return result!.messages.filter((m) => m.ruleId === 'steer/layers').map((m) => m.message);
}

test('a package that imports one above it fails the lint, statically or dynamically', async () => {
  const [message] = await lint(
    'packages/sae/src/fixture.ts',
    "export { openEngine } from '@steer/engine';\n",
  );
  assert.match(message!, /@steer\/sae \(layer 2\) must not import @steer\/engine \(layer 4\)/);
  const dynamic = await lint(
    'packages/search/src/fixture.ts',
    "export const load = () => import('@steer/elasticsearch');\n",
  );
  assert.equal(dynamic.length, 1);
  assert.match(dynamic[0]!, /@steer\/search \(layer 1\) must not import @steer\/elasticsearch \(layer 2\)/);
  assert.equal(
    (await lint('grammar/src/fixture.ts', "import '@steer/presets';\n")).length,
    1,
    'a layer-1 package importing a layer-2 one',
  );
});

test("reaching into another package's internals fails the lint, by package name or by a relative path", async () => {
  const [byName] = await lint(
    'packages/engine/src/fixture.ts',
    "export { x } from '@steer/catalog/src/catalog.js';\n",
  );
  assert.match(byName!, /'@steer\/catalog\/src\/catalog\.js' reaches into @steer\/catalog's internals/);
  const [byDist] = await lint('packages/cli/src/fixture.ts', "import '@steer/engine/dist/src/engine.js';\n");
  assert.match(byDist!, /reaches into @steer\/engine's internals/);
  const [relative] = await lint(
    'packages/catalog/src/fixture.ts',
    "export * from '../../sae/src/index.js';\n",
  );
  assert.match(relative!, /'\.\.\/\.\.\/sae\/src\/index\.js' reaches into @steer\/sae by a relative path/);
});

test('imports down the layers, through exported subpaths and within a package pass', async () => {
  const code = [
    "import { SteerError } from '@steer/core';",
    "import { loadConfig } from '@steer/engine/config';",
    "import { runCli } from './cli.js';",
    "import { x } from '../test/helpers.js';",
    'export const all = [SteerError, loadConfig, runCli, x];',
    '',
  ].join('\n');
  assert.deepEqual(await lint('packages/cli/src/fixture.ts', code), []);
});

test('the layer table lists every workspace, and every package.json dependency on a workspace points down', async () => {
  const { LAYER_OF } = (await import(pathToFileURL(join(root, 'scripts', 'layers.mjs')).href)) as {
    LAYER_OF: Map<string, number>;
  };
  const workspaces = (
    JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] }
  ).workspaces;
  const names = new Set<string>();
  for (const folder of workspaces) {
    const manifest = JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8')) as {
      name: string;
      dependencies?: Record<string, string>;
    };
    names.add(manifest.name);
    const layer = LAYER_OF.get(manifest.name);
    assert.ok(layer !== undefined, `${manifest.name} (${folder}) is missing from scripts/layers.mjs`);
    for (const dependency of Object.keys(manifest.dependencies ?? {})) {
      const below = LAYER_OF.get(dependency);
      if (below === undefined) continue;
      assert.ok(below < layer, `${manifest.name} (layer ${layer}) depends on ${dependency} (layer ${below})`);
    }
  }
  assert.deepEqual(
    [...LAYER_OF.keys()].filter((name) => !names.has(name)),
    [],
    'layers of no workspace',
  );
});
