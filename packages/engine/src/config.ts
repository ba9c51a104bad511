// `steer.config.json`: found upwards from a directory, shared by the CLI, the bridge and the language server.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { ElasticsearchConfig } from '@steer/elasticsearch';
import { QUERY_CODE_CHOICES, type QueryCodeChoice } from '@steer/sae/files';
import { ConfigError } from './errors.js';

export { ConfigError };

export const CONFIG_FILE = 'steer.config.json';

/** steer.config.json's `elasticsearch` section (connection and field names), defined by @steer/elasticsearch. */
export type { ElasticsearchConfig };

/** The resolved configuration. Paths are absolute. */
export interface SteerConfig {
  /** Folder of the config file, or the working directory when there is none. */
  root: string;
  configFile?: string;
  /** Where indexes, caches and presets live (default `.steer/`). */
  dataDir: string;
  /** SAE folder (`sae.safetensors` + `manifest.json`). */
  sae?: string;
  /** Embedder spec: `default`, `onnx:<dir>` or `vectors:<path>`. */
  embedder: string;
  /** Presets folder (default `<dataDir>/presets`). */
  presets: string;
  /** Default index name. */
  index: string;
  backend: 'embedded' | 'elasticsearch';
  elasticsearch?: ElasticsearchConfig;
  /** Steering mode when the query does not say: residual keeps the unsteered vector exact. */
  steerMode: 'residual' | 'reconstructed';
  /**
   * How a query's latents are found for steering when the query does not say (`code=`): `auto` (pursuit for
   * `steer=reconstructed`, the encoder otherwise), `encoder` or `pursuit`.
   */
  queryCode: QueryCodeChoice;
}

/** Returns the path of the nearest `steer.config.json` at or above `startDir`, or undefined. */
export function findConfigFile(startDir: string): string | undefined {
  let dir = resolve(startDir);
  for (;;) {
    const candidate = join(dir, CONFIG_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

type RawConfig = Partial<Omit<SteerConfig, 'root' | 'configFile'>>;

function readRaw(file: string): RawConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`config: cannot read ${file}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `config: ${file} is not valid JSON (${(error as Error).message}); fix or delete it`,
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`config: ${file} must hold a JSON object`);
  }
  const known = [
    'dataDir',
    'sae',
    'embedder',
    'presets',
    'index',
    'backend',
    'elasticsearch',
    'steerMode',
    'queryCode',
  ];
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      throw new ConfigError(`config: unknown key '${key}' in ${file}; known keys: ${known.join(', ')}`);
    }
  }
  const config = raw as RawConfig;
  if (config.backend !== undefined && config.backend !== 'embedded' && config.backend !== 'elasticsearch') {
    throw new ConfigError(`config: 'backend' in ${file} must be "embedded" or "elasticsearch"`);
  }
  if (
    config.steerMode !== undefined &&
    config.steerMode !== 'residual' &&
    config.steerMode !== 'reconstructed'
  ) {
    throw new ConfigError(`config: 'steerMode' in ${file} must be "residual" or "reconstructed"`);
  }
  if (config.queryCode !== undefined && !QUERY_CODE_CHOICES.includes(config.queryCode)) {
    throw new ConfigError(
      `config: 'queryCode' in ${file} must be ${QUERY_CODE_CHOICES.map((c) => `"${c}"`).join(', ')}; got ${JSON.stringify(config.queryCode)}`,
    );
  }
  for (const key of ['dataDir', 'sae', 'embedder', 'presets', 'index'] as const) {
    if (config[key] !== undefined && typeof config[key] !== 'string') {
      throw new ConfigError(`config: '${key}' in ${file} must be a string`);
    }
  }
  return config;
}

/**
 * Loads the configuration for `cwd`: the nearest `steer.config.json` upwards, then the environment
 * (`STEER_DATA_DIR`, `STEER_SAE`, `STEER_EMBEDDER`, `STEER_BACKEND`, `STEER_ES_URL`), then `overrides`
 * (command-line flags). Relative paths in the file are relative to the file's folder.
 * Throws ConfigError when the file is unreadable or invalid.
 */
export function loadConfig(cwd: string, env: NodeJS.ProcessEnv = {}, overrides: RawConfig = {}): SteerConfig {
  const configFile = findConfigFile(cwd);
  const fileConfig = configFile ? readRaw(configFile) : {};
  const root = configFile ? dirname(configFile) : resolve(cwd);
  const fromFile = (p: string | undefined): string | undefined =>
    p === undefined ? undefined : isAbsolute(p) ? p : resolve(root, p);
  const fromCwd = (p: string | undefined): string | undefined =>
    p === undefined ? undefined : resolve(cwd, p);

  const dataDir =
    fromCwd(overrides.dataDir) ??
    fromCwd(env.STEER_DATA_DIR) ??
    fromFile(fileConfig.dataDir) ??
    resolve(cwd, '.steer');
  const embedderSpec = overrides.embedder ?? env.STEER_EMBEDDER ?? fileConfig.embedder ?? 'default';
  const resolveEmbedder = (spec: string, base: (p: string) => string | undefined): string => {
    const match = /^(onnx|vectors):(.*)$/.exec(spec);
    return match ? `${match[1]}:${base(match[2]!)}` : spec;
  };
  const embedder =
    overrides.embedder !== undefined || env.STEER_EMBEDDER !== undefined
      ? resolveEmbedder(embedderSpec, fromCwd)
      : resolveEmbedder(embedderSpec, fromFile);
  const esUrl = env.STEER_ES_URL;
  const backend =
    overrides.backend ??
    (env.STEER_BACKEND as SteerConfig['backend'] | undefined) ??
    fileConfig.backend ??
    (esUrl ? 'elasticsearch' : 'embedded');
  if (backend !== 'embedded' && backend !== 'elasticsearch') {
    throw new ConfigError(`config: backend '${String(backend)}' is not "embedded" or "elasticsearch"`);
  }
  return {
    root,
    configFile,
    dataDir,
    sae: fromCwd(overrides.sae) ?? fromCwd(env.STEER_SAE) ?? fromFile(fileConfig.sae),
    embedder,
    presets: fromCwd(overrides.presets) ?? fromFile(fileConfig.presets) ?? join(dataDir, 'presets'),
    index: overrides.index ?? fileConfig.index ?? 'default',
    backend,
    elasticsearch: {
      ...fileConfig.elasticsearch,
      ...(esUrl ? { url: esUrl } : {}),
      ...overrides.elasticsearch,
    },
    steerMode: overrides.steerMode ?? fileConfig.steerMode ?? 'residual',
    queryCode: overrides.queryCode ?? fileConfig.queryCode ?? 'auto',
  };
}
