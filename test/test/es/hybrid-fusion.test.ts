// mode=hybrid on a licence without RRF: Steer (backend and bridge) fuses the dense and sparse lists itself, and
// gives the same hits, in the same order, with the same scores as the cluster's own rrf retriever.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@elastic/elasticsearch';
import { openElasticsearchBackend, writeLatents } from '@steer/elasticsearch';
import type { ElasticsearchBackend, ElasticsearchSearchRequest } from '@steer/elasticsearch';
import { startBridge } from '@steer/bridge';
import type { RunningBridge } from '@steer/bridge';
import { createToySteering, startEsDouble, TOY_DIMS, toyEmbed, toyLatents } from '../../src/index.js';
import type { EsDouble, EsDoubleVersion } from '../../src/index.js';

const INDEX = 'fusion';
const WORDS = ['river', 'bank', 'loan', 'stock', 'fish', 'trail', 'pasta', 'market', 'rate', 'dawn'];
/** 40 short texts over few words: many equal dense and sparse scores, so many equal RRF scores. */
const CORPUS = Array.from({ length: 40 }, (_, i) => ({
  id: `d${String(i).padStart(2, '0')}`,
  text: `${WORDS[i % 10]} ${WORDS[(i * 3) % 10]} ${WORDS[(i * 7 + 1) % 10]}`,
  genre: i % 3 === 0 ? 'nature' : 'finance',
}));

/**
 * 40 documents whose dense order (by angle to [1, 0, 0, 0]) is the reverse of their sparse order (by their
 * weight on feature 1): documents i and 39 - i get equal RRF scores, so every query exercises the tie-break.
 */
const PERM = 'perm';
const PERMUTED = Array.from({ length: 40 }, (_, i) => ({
  id: `p${String(i).padStart(2, '0')}`,
  text: `p${i}`,
  metadata: { genre: i % 2 === 0 ? 'even' : 'odd' },
  vector: Float32Array.from([Math.cos((i * Math.PI) / 90), Math.sin((i * Math.PI) / 90), 0, 0]),
  latents: { indices: [1, 2 + (i % 5)], values: [1 + i / 8, 0.5] },
}));
const PERM_QUERIES: Array<Omit<ElasticsearchSearchRequest, 'mode'>> = [
  { vector: Float32Array.from([1, 0, 0, 0]), latents: { indices: [1], values: [1] }, k: 40 },
  {
    vector: Float32Array.from([1, 0, 0, 0]),
    latents: { indices: [1], values: [1] },
    k: 10,
    rankWindowSize: 40,
  },
  {
    vector: Float32Array.from([1, 0, 0, 0]),
    latents: { indices: [1, 3], values: [1, 2] },
    k: 40,
    rankConstant: 1,
  },
  {
    vector: Float32Array.from([1, 0.2, 0, 0]),
    latents: { indices: [1], values: [1] },
    k: 20,
    rankWindowSize: 30,
    filter: { op: 'eq', field: 'genre', value: 'odd' },
  },
];

const QUERIES: Array<Omit<ElasticsearchSearchRequest, 'mode' | 'vector' | 'latents'> & { text: string }> = [
  { text: 'river bank', k: 5 },
  { text: 'stock market rate', k: 10, rankWindowSize: 20 },
  { text: 'fish dawn', k: 3, rankWindowSize: 40, rankConstant: 1 },
  { text: 'loan', k: 8, filter: { op: 'eq', field: 'genre', value: 'finance' } },
  { text: 'pasta trail river', k: 40, rankWindowSize: 40 },
];

interface Cluster {
  double: EsDouble;
  backend: ElasticsearchBackend;
  bridge: RunningBridge;
  client: Client;
}

async function cluster(
  version: EsDoubleVersion,
  licence: 'basic' | 'trial',
  licenceReadable = true,
): Promise<Cluster> {
  const double = await startEsDouble({ version, licence, licenceReadable, recordLast: 500 });
  const backend = await openElasticsearchBackend({ url: double.url }, { env: {} });
  await backend.createIndex(INDEX, { dims: TOY_DIMS, similarity: 'cosine', embeddingModel: 'toy-hash' });
  await backend.addDocuments(
    INDEX,
    CORPUS.map((d) => ({ id: d.id, text: d.text, metadata: { genre: d.genre }, vector: toyEmbed(d.text) })),
  );
  await writeLatents(
    backend.client,
    INDEX,
    CORPUS.map((d) => ({ id: d.id, latents: toyLatents(toyEmbed(d.text)) })),
  );
  await backend.createIndex(PERM, { dims: 4, similarity: 'cosine', embeddingModel: 'toy-4d' });
  await backend.addDocuments(PERM, PERMUTED);
  // NOTE: raw weights, so that the sparse order is exactly the reverse of the dense one; unit-normalised, the
  // weights of the last documents differ by less than sparse_vector's precision.
  await writeLatents(backend.client, PERM, PERMUTED, { norm: 'none' });
  const bridge = await startBridge({ upstream: double.url, steering: createToySteering(), port: 0 });
  return { double, backend, bridge, client: new Client({ node: bridge.url, maxRetries: 0 }) };
}

async function close(c: Cluster | undefined): Promise<void> {
  if (!c) return;
  await c.client.close();
  await c.bridge.close();
  await c.backend.close();
  await c.double.close();
}

for (const version of ['8.15', '8.19', '9.2'] as const) {
  describe(`hybrid search fused by Steer equals the cluster's RRF (Elasticsearch TEST DOUBLE ${version})`, () => {
    let enterprise: Cluster;
    let basic: Cluster;
    let unknownLicence: Cluster;
    before(async () => {
      enterprise = await cluster(version, 'trial');
      basic = await cluster(version, 'basic');
      unknownLicence = await cluster(version, 'basic', false);
    });
    after(async () => {
      for (const c of [enterprise, basic, unknownLicence]) await close(c);
    });

    it('backend: same hits, order and scores on every query; the basic cluster is read on one point in time', async () => {
      let ties = 0;
      const requests = [
        ...PERM_QUERIES.map((q) => ({ index: PERM, request: { ...q, mode: 'hybrid' as const } })),
        ...QUERIES.map(({ text, ...q }) => {
          const vector = toyEmbed(text);
          return {
            index: INDEX,
            request: { ...q, mode: 'hybrid' as const, vector, latents: toyLatents(vector) },
          };
        }),
      ];
      for (const { index, request } of requests) {
        const server = await enterprise.backend.search(index, request);
        const fused = await basic.backend.search(index, request);
        const fallback = await unknownLicence.backend.search(index, request);
        const shape = (hits: typeof server) => hits.map((h) => [h.id, h.score]);
        assert.ok(server.length > 0);
        assert.deepEqual(shape(fused), shape(server), `${index} k=${request.k}`);
        assert.deepEqual(shape(fallback), shape(server), `${index} k=${request.k}`);
        for (let i = 1; i < server.length; i++) if (server[i]!.score === server[i - 1]!.score) ties++;
      }
      assert.ok(ties >= 20, `the queries exercise equal RRF scores (${ties} ties)`);
      const paths = (d: EsDouble) => d.requests.map((r) => `${r.method} ${r.path}`);
      assert.ok(
        !paths(enterprise.double).some((p) => p.endsWith('/_pit')),
        'the enterprise cluster fuses itself',
      );
      assert.ok(
        paths(basic.double).some((p) => p.endsWith('/_pit')),
        'Steer opened a point in time',
      );
      assert.ok(paths(basic.double).includes('DELETE /_pit'), 'and closed it');
      assert.equal(basic.double.openPointsInTime(), 0);
    });

    it('bridge: a steered hybrid search answers the same on both licences', async () => {
      for (const query of QUERIES.filter((q) => q.filter === undefined)) {
        const body = { steer: `"${query.text}" mode=hybrid k=${query.k}`, _source: ['text'] };
        const answers = await Promise.all(
          [enterprise, basic, unknownLicence].map((c) =>
            c.client.transport.request<{ hits: { hits: Array<{ _id: string; _score: number }> } }>({
              method: 'POST',
              path: `/${INDEX}/_search`,
              body,
            }),
          ),
        );
        const shape = (a: (typeof answers)[number]) => a.hits.hits.map((h) => [h._id, h._score]);
        assert.ok(answers[0]!.hits.hits.length > 0);
        assert.deepEqual(shape(answers[1]!), shape(answers[0]!), query.text);
        assert.deepEqual(shape(answers[2]!), shape(answers[0]!), query.text);
      }
    });

    it('bridge: keys a fused search cannot apply are refused with the fix', async () => {
      const refused = await basic.client.transport
        .request({
          method: 'POST',
          path: `/${INDEX}/_search`,
          body: { steer: '"river" mode=hybrid', aggs: { g: { terms: { field: 'genre' } } } },
        })
        .then(
          () => undefined,
          (e: { statusCode?: number; body?: { error?: { reason?: string } } }) => e,
        );
      assert.equal(refused?.statusCode, 400);
      assert.match(
        String(refused?.body?.error?.reason),
        /cannot apply \[aggs\].*Enterprise or trial licence/,
      );
    });
  });
}
