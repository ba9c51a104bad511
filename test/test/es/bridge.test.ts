// Bridge integration: an Elasticsearch client talks to the bridge, which steers and forwards to the Elasticsearch
// TEST DOUBLE (always) or a real cluster (ES_URL). Steering is the TEST-ONLY toy (hashing bag-of-words).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client, errors } from '@elastic/elasticsearch';
import { openElasticsearchBackend, writeLatents } from '@steer/elasticsearch';
import type { ElasticsearchBackend } from '@steer/elasticsearch';
import { startBridge } from '@steer/bridge';
import type { RunningBridge } from '@steer/bridge';
import {
  createToySteering,
  DOUBLE_MATRIX,
  startEsDouble,
  TOY_DIMS,
  toyEmbed,
  toyLatents,
  toyResolve,
} from '../../src/index.js';

const CORPUS = [
  { id: 'r1', text: 'river fishing with a rod', genre: 'nature' },
  { id: 'r2', text: 'the river bank at dawn', genre: 'nature' },
  { id: 'f1', text: 'bank loans and interest rates', genre: 'finance' },
  { id: 'f2', text: 'stock market crash', genre: 'finance' },
  { id: 'm1', text: 'mountain hiking trails', genre: 'nature' },
  { id: 'c1', text: 'cooking pasta at home', genre: 'food' },
];

interface Target {
  url: string;
  auth?: { username: string; password: string };
  close(): Promise<void>;
}

function bridgeSuite(label: string, start: () => Promise<Target>, skip: string | false): void {
  describe(`bridge integration with toy test steering (${label})`, { skip }, () => {
    let target: Target;
    let backend: ElasticsearchBackend;
    let bridge: RunningBridge;
    let viaBridge: Client;
    const index = `steer-bridge-${randomUUID().slice(0, 8)}`;

    before(async () => {
      target = await start();
      backend = await openElasticsearchBackend(
        { url: target.url, ...target.auth, denseIndexOptions: { type: 'hnsw' } },
        { env: {} },
      );
      await backend.createIndex(index, { dims: TOY_DIMS, similarity: 'cosine', embeddingModel: 'toy-hash' });
      await backend.addDocuments(
        index,
        CORPUS.map((d) => ({
          id: d.id,
          text: d.text,
          metadata: { genre: d.genre },
          vector: toyEmbed(d.text),
        })),
      );
      await writeLatents(
        backend.client,
        index,
        CORPUS.map((d) => ({ id: d.id, latents: toyLatents(toyEmbed(d.text)) })),
      );
      bridge = await startBridge({ upstream: target.url, steering: createToySteering(), port: 0 });
      viaBridge = new Client({ node: bridge.url, auth: target.auth, maxRetries: 0 });
    });
    after(async () => {
      await viaBridge?.close();
      await bridge?.close();
      if (backend) {
        await backend.deleteIndex(index).catch(() => undefined);
        await backend.close();
      }
      await target?.close();
    });

    it('an Elasticsearch client works through the bridge (product check, index APIs, plain search)', async () => {
      const info = await viaBridge.info();
      assert.ok(info.version.number);
      assert.equal(await viaBridge.indices.exists({ index }), true);
      const doc = await viaBridge.get<{ text: string }>({ index, id: 'f1' });
      assert.equal(doc._source!.text, 'bank loans and interest rates');
      const plain = await viaBridge.search({ index, query: { term: { genre: 'food' } } });
      assert.deepEqual(
        plain.hits.hits.map((h) => h._id),
        ['c1'],
      );
    });

    it('a steer clause becomes a kNN search with the steered vector: same hits and scores as the backend', async () => {
      const steerQuery = '"river fishing" +f3 k=3';
      const response = await viaBridge.transport.request<{
        hits: { hits: Array<{ _id: string; _score: number; _source: Record<string, unknown> }> };
      }>({
        method: 'POST',
        path: `/${index}/_search`,
        body: { steer: steerQuery, _source: ['text'] },
      });
      const resolved = toyResolve(steerQuery, {});
      const direct = await backend.knnSearch(index, {
        vector: resolved.vector,
        k: 3,
        numCandidates: resolved.numCandidates,
      });
      assert.deepEqual(
        response.hits.hits.map((h) => h._id),
        direct.map((h) => h.id),
      );
      response.hits.hits.forEach((h, i) => assert.ok(Math.abs(h._score - direct[i]!.score) < 1e-6));
      assert.deepEqual(Object.keys(response.hits.hits[0]!._source), ['text']);
    });

    it('object clause with field, k and num_candidates; the steer filter and aggs are kept', async () => {
      const response = await viaBridge.transport.request<{
        hits: { hits: Array<{ _id: string }> };
        aggregations: { g: { buckets: Array<{ key: string }> } };
      }>({
        method: 'POST',
        path: `/${index}/_search`,
        body: {
          steer: { query: '"bank" genre:finance', field: 'vector', k: 5, num_candidates: 50 },
          size: 5,
          aggs: { g: { terms: { field: 'genre' } } },
        },
      });
      assert.deepEqual(response.hits.hits.map((h) => h._id).sort(), ['f1', 'f2']);
      assert.deepEqual(
        response.aggregations.g.buckets.map((b) => b.key),
        ['finance'],
      );
    });

    it('mode=sparse and mode=hybrid match the backend run with the same latents', async () => {
      for (const mode of ['sparse', 'hybrid'] as const) {
        const steerQuery = `"river bank" mode=${mode} k=3`;
        const response = await viaBridge.transport.request<{
          hits: { hits: Array<{ _id: string; _score: number }> };
        }>({
          method: 'POST',
          path: `/${index}/_search`,
          body: { steer: steerQuery },
        });
        const resolved = toyResolve(steerQuery, {});
        const direct = await backend.search(index, {
          mode,
          vector: resolved.vector,
          latents: resolved.latents,
          k: 3,
          numCandidates: resolved.numCandidates,
        });
        assert.deepEqual(
          response.hits.hits.map((h) => h._id),
          direct.map((h) => h.id),
          mode,
        );
      }
    });

    it('bad steer syntax reaches the client as a 400 ResponseError with line and column', async () => {
      await assert.rejects(
        viaBridge.transport.request({
          method: 'POST',
          path: `/${index}/_search`,
          body: { steer: '"ok"\n  "unterminated' },
        }),
        (e: unknown) => {
          assert.ok(e instanceof errors.ResponseError);
          assert.equal(e.statusCode, 400);
          const error = (e.body as { error: { type: string; line: number; col: number } }).error;
          assert.deepEqual([error.type, error.line, error.col], ['parsing_exception', 2, 3]);
          return true;
        },
      );
    });

    it('concept search and hit explanations at /_steer', async () => {
      const features = await fetch(
        `${bridge.url}/_steer/features?q=river%20bank%20fishing%20dawn&limit=2`,
      ).then((r) => r.json() as Promise<{ features: unknown[] }>);
      assert.equal(features.features.length, 2);
      const explained = await fetch(`${bridge.url}/_steer/explain`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: `"${CORPUS[0]!.text}"`, hits: [{ id: 'r1', text: CORPUS[0]!.text }] }),
      }).then(
        (r) =>
          r.json() as Promise<{ hits: Array<{ id: string; features: Array<{ contribution: number }> }> }>,
      );
      assert.equal(explained.hits[0]!.id, 'r1');
      assert.ok(explained.hits[0]!.features.length > 0);
      assert.ok(explained.hits[0]!.features.every((f) => f.contribution > 0));
    });
  });
}

for (const { version, licence } of DOUBLE_MATRIX) {
  bridgeSuite(
    `Elasticsearch TEST DOUBLE ${version}, ${licence} licence`,
    async () => {
      const double = await startEsDouble({ version, licence });
      return { url: double.url, close: () => double.close() };
    },
    false,
  );
}

const ES_URL = process.env.ES_URL;
bridgeSuite(
  `real cluster at ${ES_URL ?? '(ES_URL unset)'}`,
  async () => ({
    url: ES_URL!,
    auth: process.env.ES_USERNAME
      ? { username: process.env.ES_USERNAME, password: process.env.ES_PASSWORD ?? '' }
      : undefined,
    close: async () => {},
  }),
  ES_URL
    ? false
    : 'ES_URL is not set; set ES_URL=http://localhost:9200 (and ES_USERNAME/ES_PASSWORD) to run the bridge against a real cluster',
);

describe('bridge forwards the caller credentials to a secured cluster (Elasticsearch TEST DOUBLE)', () => {
  it('without credentials the cluster answers 401 through the bridge; with them, 200', async () => {
    const double = await startEsDouble({
      requireAuthorization: `Basic ${Buffer.from('elastic:pw').toString('base64')}`,
    });
    const bridge = await startBridge({ upstream: double.url, steering: createToySteering(), port: 0 });
    try {
      const anonymous = await fetch(`${bridge.url}/`);
      assert.equal(anonymous.status, 401);
      assert.equal(
        ((await anonymous.json()) as { error: { type: string } }).error.type,
        'security_exception',
      );
      const client = new Client({ node: bridge.url, auth: { username: 'elastic', password: 'pw' } });
      assert.ok((await client.info()).version.number);
      await client.close();
    } finally {
      await bridge.close();
      await double.close();
    }
  });
});
