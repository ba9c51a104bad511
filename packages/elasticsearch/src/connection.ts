// Connection settings for a cluster, from steer.config.json's `elasticsearch` section and STEER_ES_* variables.
import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import type { ClientOptions } from '@elastic/elasticsearch';
import { ElasticsearchBackendError } from './errors.js';

/** The `elasticsearch` section of steer.config.json. */
export interface ElasticsearchConnectionConfig {
  /** Cluster URL, e.g. `https://localhost:9200` (STEER_ES_URL). */
  url?: string;
  /** Elastic Cloud deployment id, instead of `url` (STEER_ES_CLOUD_ID). */
  cloudId?: string;
  /** Base64 `id:key` API key (STEER_ES_API_KEY). Exclusive with username/password. */
  apiKey?: string;
  /** Basic auth user (STEER_ES_USERNAME) and password (STEER_ES_PASSWORD). */
  username?: string;
  password?: string;
  /** CA certificate for TLS: a PEM file path or the PEM text itself (STEER_ES_CA_CERT). */
  caCert?: string;
}

const ENV_KEYS = {
  url: 'STEER_ES_URL',
  cloudId: 'STEER_ES_CLOUD_ID',
  apiKey: 'STEER_ES_API_KEY',
  username: 'STEER_ES_USERNAME',
  password: 'STEER_ES_PASSWORD',
  caCert: 'STEER_ES_CA_CERT',
} as const satisfies Record<keyof ElasticsearchConnectionConfig, string>;

function configError(message: string, cause?: unknown): ElasticsearchBackendError {
  return new ElasticsearchBackendError('config_invalid', `elasticsearch: ${message}`, { cause });
}

function readCaCert(value: string, from: string): Buffer {
  if (value.trimStart().startsWith('-----BEGIN')) return Buffer.from(value);
  try {
    return readFileSync(value);
  } catch (error) {
    throw configError(
      `cannot read the CA certificate '${value}' (${from}): ${(error as Error).message}; give the path of a PEM file`,
      error,
    );
  }
}

/**
 * Builds client options from `config` (steer.config.json's `elasticsearch` section) overridden by the
 * STEER_ES_URL / STEER_ES_CLOUD_ID / STEER_ES_API_KEY / STEER_ES_USERNAME / STEER_ES_PASSWORD /
 * STEER_ES_CA_CERT variables of `env`. Returns options for `new Client(...)`.
 * Throws ElasticsearchBackendError (`config_invalid`) when no cluster is named, when both a URL and a Cloud ID
 * or both an API key and a username are given, when a password is missing, or when the CA file is unreadable.
 */
export function esConnectionFromEnv(
  env: Record<string, string | undefined>,
  config: ElasticsearchConnectionConfig = {},
): ClientOptions {
  const settings: ElasticsearchConnectionConfig = {};
  const origin: Partial<Record<keyof ElasticsearchConnectionConfig, string>> = {};
  for (const key of Object.keys(ENV_KEYS) as Array<keyof typeof ENV_KEYS>) {
    const fromEnv = env[ENV_KEYS[key]];
    const value = fromEnv !== undefined && fromEnv !== '' ? fromEnv : config[key];
    if (value !== undefined && typeof value !== 'string') {
      throw configError(`'elasticsearch.${key}' in steer.config.json must be a string`);
    }
    if (value === undefined || value === '') continue;
    settings[key] = value;
    origin[key] = fromEnv !== undefined && fromEnv !== '' ? ENV_KEYS[key] : `elasticsearch.${key}`;
  }
  const options: ClientOptions = {};
  if (settings.url && settings.cloudId) {
    throw configError(
      `both a URL (${origin.url}) and a Cloud ID (${origin.cloudId}) are set; keep one of them`,
    );
  }
  if (settings.url) {
    let parsed: URL;
    try {
      parsed = new URL(settings.url);
    } catch (error) {
      throw configError(
        `'${settings.url}' (${origin.url}) is not a URL; use e.g. https://localhost:9200`,
        error,
      );
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw configError(`'${settings.url}' (${origin.url}) must start with http:// or https://`);
    }
    options.node = settings.url;
  } else if (settings.cloudId) {
    options.cloud = { id: settings.cloudId };
  } else {
    throw configError(
      'no cluster configured; set STEER_ES_URL (or STEER_ES_CLOUD_ID), or "elasticsearch": {"url": "https://localhost:9200"} in steer.config.json',
    );
  }
  if (settings.apiKey && (settings.username || settings.password)) {
    throw configError(
      `both an API key (${origin.apiKey}) and a username/password are set; keep one way of authenticating`,
    );
  }
  if (settings.apiKey) {
    options.auth = { apiKey: settings.apiKey };
  } else if (settings.username || settings.password) {
    if (!settings.username || !settings.password) {
      const missing = settings.username ? 'STEER_ES_PASSWORD' : 'STEER_ES_USERNAME';
      throw configError(`basic auth needs a username and a password; set ${missing} too`);
    }
    options.auth = { username: settings.username, password: settings.password };
  }
  if (settings.caCert) {
    options.tls = { ca: readCaCert(settings.caCert, origin.caCert!) };
  }
  return options;
}

/** Creates a client from connection options (see esConnectionFromEnv). */
export function createElasticsearchClient(options: ClientOptions): Client {
  return new Client(options);
}
