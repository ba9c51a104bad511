// Reading a cluster's version and licence once per connection, and refusing versions below 8.15.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errors } from '@elastic/elasticsearch';
import { createMockClient } from './mock-client.js';
import { readClusterProfile } from '../src/index.js';

function forbidden(): errors.ResponseError {
  return new errors.ResponseError({
    body: {
      error: {
        type: 'security_exception',
        reason: 'action [cluster:monitor/xpack/license/get] is unauthorized',
      },
      status: 403,
    },
    statusCode: 403,
    headers: {},
    warnings: null,
    meta: {} as never,
  });
}

function cluster(version: string, licence: { type: string; status: string } | Error, flavor = 'default') {
  const { mock, client } = createMockClient();
  mock.add({ method: 'GET', path: '/' }, () => ({ version: { number: version, build_flavor: flavor } }));
  mock.add({ method: 'GET', path: '/_license' }, () =>
    licence instanceof Error ? licence : { license: licence },
  );
  return client;
}

describe('readClusterProfile', () => {
  it('knows whether the licence covers the rrf retriever (Enterprise or trial)', async () => {
    const basic = await readClusterProfile(cluster('8.19.1', { type: 'basic', status: 'active' }));
    assert.deepEqual(
      [basic.version, basic.major, basic.minor, basic.licence, basic.rrf, basic.legacyRrfTieBreak],
      ['8.19.1', 8, 19, 'basic', false, false],
    );
    assert.equal((await readClusterProfile(cluster('9.2.0', { type: 'trial', status: 'active' }))).rrf, true);
    assert.equal(
      (await readClusterProfile(cluster('9.2.0', { type: 'platinum', status: 'active' }))).rrf,
      false,
    );
    assert.equal(
      (await readClusterProfile(cluster('9.2.0', { type: 'enterprise', status: 'expired' }))).rrf,
      false,
    );
    assert.equal(
      (await readClusterProfile(cluster('8.15.5', { type: 'enterprise', status: 'active' })))
        .legacyRrfTieBreak,
      true,
    );
  });

  it('leaves the licence unknown when the credentials may not read it', async () => {
    const profile = await readClusterProfile(cluster('8.19.1', forbidden()));
    assert.equal(profile.rrf, undefined);
    assert.equal(profile.licence, undefined);
  });

  it('refuses clusters below 8.15 with the version and the fix', async () => {
    await assert.rejects(
      readClusterProfile(cluster('8.14.3', { type: 'basic', status: 'active' })),
      (e: unknown) =>
        (e as { esCode?: string }).esCode === 'unsupported_version' &&
        /runs Elasticsearch 8\.14\.3, but Steer needs 8\.15\.0 or later .*upgrade the cluster/.test(
          (e as Error).message,
        ),
    );
    await assert.rejects(
      readClusterProfile(cluster('7.17.9', { type: 'basic', status: 'active' })),
      /7\.17\.9/,
    );
  });

  it('takes Serverless (which reports a fixed 8.11.0) as current, with every feature', async () => {
    const profile = await readClusterProfile(cluster('8.11.0', forbidden(), 'serverless'));
    assert.deepEqual([profile.serverless, profile.rrf], [true, true]);
  });
});
