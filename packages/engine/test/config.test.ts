// steer.config.json discovery and precedence: file, then environment, then flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, findConfigFile, loadConfig } from '../src/config.js';

async function project(config: unknown): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'steer-config-'));
  await mkdir(join(root, 'queries', 'deep'), { recursive: true });
  await writeFile(
    join(root, 'steer.config.json'),
    typeof config === 'string' ? config : JSON.stringify(config),
  );
  return root;
}

test('the config file is found upwards and its relative paths resolve against its folder', async () => {
  const root = await project({
    sae: 'models/sae',
    embedder: 'onnx:models/bge',
    index: 'docs',
    dataDir: 'data',
  });
  const cwd = join(root, 'queries', 'deep');
  assert.equal(findConfigFile(cwd), join(root, 'steer.config.json'));
  const config = loadConfig(cwd);
  assert.equal(config.root, root);
  assert.equal(config.sae, join(root, 'models/sae'));
  assert.equal(config.embedder, `onnx:${join(root, 'models/bge')}`);
  assert.equal(config.dataDir, join(root, 'data'));
  assert.equal(config.presets, join(root, 'data', 'presets'));
  assert.equal(config.index, 'docs');
  assert.equal(config.backend, 'embedded');
  assert.equal(config.steerMode, 'residual');
  assert.equal(config.queryCode, 'auto');
});

test('the environment overrides the file, and flags override both', async () => {
  const root = await project({ sae: 'file-sae', index: 'docs' });
  const env = { STEER_SAE: '/env/sae', STEER_ES_URL: 'http://es:9200' };
  const fromEnv = loadConfig(root, env);
  assert.equal(fromEnv.sae, '/env/sae');
  assert.equal(fromEnv.backend, 'elasticsearch');
  assert.equal(fromEnv.elasticsearch?.url, 'http://es:9200');
  const fromFlags = loadConfig(root, env, { sae: 'flag-sae', backend: 'embedded', index: 'other' });
  assert.equal(fromFlags.sae, join(root, 'flag-sae'));
  assert.equal(fromFlags.backend, 'embedded');
  assert.equal(fromFlags.index, 'other');
});

test('without a config file the defaults apply to the working directory', async () => {
  const cwd = await mkdtemp(join(tmpdir(), 'steer-noconfig-'));
  const config = loadConfig(cwd);
  assert.equal(config.configFile, undefined);
  assert.equal(config.dataDir, join(cwd, '.steer'));
  assert.equal(config.embedder, 'default');
  assert.equal(config.sae, undefined);
});

test('an invalid config file is a ConfigError that names the file and the key', async () => {
  const cases: Array<[unknown, RegExp]> = [
    ['{ not json', /not valid JSON/],
    [[1, 2], /JSON object/],
    [{ sea: 'typo' }, /unknown key 'sea'.*known keys/],
    [{ backend: 'solr' }, /'backend'.*"embedded" or "elasticsearch"/],
    [{ steerMode: 'amplify' }, /'steerMode'/],
    [{ queryCode: 'lasso' }, /'queryCode'.*"auto", "encoder", "pursuit"; got "lasso"/],
    [{ index: 3 }, /'index'.*string/],
  ];
  for (const [content, pattern] of cases) {
    const root = await project(content);
    assert.throws(
      () => loadConfig(root),
      (error: unknown) =>
        error instanceof ConfigError &&
        pattern.test(error.message) &&
        error.message.includes('steer.config.json'),
    );
  }
});
