// Connection settings from STEER_ES_* variables and steer.config.json's `elasticsearch` section.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { esConnectionFromEnv, ElasticsearchBackendError } from '../src/index.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('esConnectionFromEnv', () => {
  it('reads a URL and basic auth from the config section', () => {
    const options = esConnectionFromEnv(
      {},
      { url: 'https://es.local:9200', username: 'elastic', password: 'pw' },
    );
    assert.equal(options.node, 'https://es.local:9200');
    assert.deepEqual(options.auth, { username: 'elastic', password: 'pw' });
    assert.equal(options.cloud, undefined);
  });

  it('lets environment variables override the config file', () => {
    const options = esConnectionFromEnv(
      { STEER_ES_URL: 'http://127.0.0.1:9201', STEER_ES_API_KEY: 'a2V5' },
      { url: 'https://other:9200' },
    );
    assert.equal(options.node, 'http://127.0.0.1:9201');
    assert.deepEqual(options.auth, { apiKey: 'a2V5' });
  });

  it('takes a Cloud ID instead of a URL', () => {
    const options = esConnectionFromEnv({ STEER_ES_CLOUD_ID: 'deploy:ZXUtd2VzdC0x', STEER_ES_API_KEY: 'k' });
    assert.deepEqual(options.cloud, { id: 'deploy:ZXUtd2VzdC0x' });
    assert.equal(options.node, undefined);
  });

  it('reads the CA certificate from a file path or inline PEM', () => {
    const dir = mkdtempSync(join(tmpdir(), 'steer-es-ca-'));
    try {
      const file = join(dir, 'ca.pem');
      writeFileSync(file, PEM);
      const fromFile = esConnectionFromEnv({ STEER_ES_URL: 'https://h:9200', STEER_ES_CA_CERT: file });
      assert.equal((fromFile.tls?.ca as Buffer).toString(), PEM);
      const inline = esConnectionFromEnv({}, { url: 'https://h:9200', caCert: PEM });
      assert.equal((inline.tls?.ca as Buffer).toString(), PEM);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const refusals: Array<[string, Record<string, string>, Record<string, string>, RegExp]> = [
    ['no cluster', {}, {}, /no cluster configured; set STEER_ES_URL/],
    ['URL and Cloud ID', { STEER_ES_URL: 'http://h:9200', STEER_ES_CLOUD_ID: 'x:y' }, {}, /keep one of them/],
    [
      'API key and username',
      { STEER_ES_URL: 'http://h:9200', STEER_ES_API_KEY: 'k', STEER_ES_USERNAME: 'u' },
      {},
      /keep one way of authenticating/,
    ],
    ['username without password', {}, { url: 'http://h:9200', username: 'u' }, /set STEER_ES_PASSWORD too/],
    [
      'a URL that is not one',
      { STEER_ES_URL: 'localhost:9200' },
      {},
      /must start with http:\/\/ or https:\/\//,
    ],
    [
      'an unreadable CA file',
      { STEER_ES_URL: 'https://h:9200', STEER_ES_CA_CERT: '/nonexistent/ca.pem' },
      {},
      /cannot read the CA certificate '\/nonexistent\/ca.pem' \(STEER_ES_CA_CERT\)/,
    ],
  ];
  for (const [name, env, config, message] of refusals) {
    it(`refuses ${name} with a config_invalid error`, () => {
      assert.throws(
        () => esConnectionFromEnv(env, config),
        (error: unknown) =>
          error instanceof ElasticsearchBackendError &&
          error.esCode === 'config_invalid' &&
          message.test(error.message),
      );
    });
  }
});
