// The bridge on the real steering engine (Steer's grammar, a tiny SAE written by the test, a hashing embedder)
// over the Elasticsearch TEST DOUBLE: what `steer bridge` runs, minus the model downloads.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, errors } from '@elastic/elasticsearch';
import { startBridge } from '@steer/bridge';
import type { BridgeSteering, RunningBridge } from '@steer/bridge';
import type { Embedder } from '@steer/embed';
import { openElasticsearchBackend, writeLatents } from '@steer/elasticsearch';
import type { ElasticsearchBackend } from '@steer/elasticsearch';
import { SteerEngine } from '@steer/engine';
import { loadSae, writeSae } from '@steer/sae';
import type { SaeRuntime } from '@steer/sae';
import { startEsDouble, TOY_DIMS, toyEmbed } from '../../src/index.js';
import type { EsDouble } from '../../src/index.js';

const N_LATENTS = 32;
const CORPUS = [
  { id: 'r1', text: 'river fishing with a rod' },
  { id: 'r2', text: 'the river bank at dawn' },
  { id: 'f1', text: 'bank loans and interest rates' },
  { id: 'f2', text: 'stock market crash' },
  { id: 'm1', text: 'mountain hiking trails' },
];

/** The hashing bag-of-words embedder as an Embedder (deterministic, no model files). */
const hashingEmbedder: Embedder = {
  id: 'toy-hash-16',
  dims: TOY_DIMS,
  normalized: true,
  async embed(texts) {
    const out = new Float32Array(texts.length * TOY_DIMS);
    texts.forEach((t, i) => out.set(toyEmbed(t), i * TOY_DIMS));
    return out;
  },
  async dispose() {},
};

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** The adapter `steer bridge` builds around the engine. */
function engineSteering(engine: SteerEngine): BridgeSteering {
  return {
    resolve: (query, defaults) => engine.resolve(query, defaults),
    searchFeatures: (concept, limit) => engine.searchFeatures(concept, limit),
    explain: async ({ query, hits, top }) => {
      const resolved = await engine.resolve(query);
      return engine.explain(
        resolved.vector,
        hits.map((h) => ({ id: h.id, text: h.text, score: h.score ?? 0 })),
        top,
      );
    },
  };
}

describe('bridge on the real steering engine (tiny SAE, hashing embedder, Elasticsearch TEST DOUBLE)', () => {
  let dir: string;
  let double: EsDouble;
  let backend: ElasticsearchBackend;
  let sae: SaeRuntime;
  let engine: SteerEngine;
  let bridge: RunningBridge;
  let client: Client;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'steer-bridge-engine-'));
    const random = seeded(7);
    const fill = (n: number) => Float32Array.from({ length: n }, random);
    await writeSae(
      join(dir, 'sae'),
      {
        W_enc: fill(N_LATENTS * TOY_DIMS),
        b_enc: new Float32Array(N_LATENTS),
        W_dec: fill(TOY_DIMS * N_LATENTS),
        b_dec: new Float32Array(TOY_DIMS),
        dModel: TOY_DIMS,
        nLatents: N_LATENTS,
      },
      { k: 4, embedding: { model: 'toy-hash-16', dims: TOY_DIMS, normalized: true } },
    );
    sae = await loadSae(join(dir, 'sae'));
    double = await startEsDouble();
    backend = await openElasticsearchBackend({ url: double.url }, { env: {} });
    await backend.createIndex('docs', {
      dims: TOY_DIMS,
      similarity: 'cosine',
      embeddingModel: 'toy-hash-16',
    });
    const vectors = await hashingEmbedder.embed(CORPUS.map((d) => d.text));
    await backend.addDocuments(
      'docs',
      CORPUS.map((d, i) => ({
        id: d.id,
        text: d.text,
        vector: vectors.slice(i * TOY_DIMS, (i + 1) * TOY_DIMS),
      })),
    );
    const encoded = await sae.encode(vectors, CORPUS.length);
    await writeLatents(
      backend.client,
      'docs',
      CORPUS.map((d, i) => ({
        id: d.id,
        latents: {
          indices: encoded.indices.subarray(i * encoded.k, (i + 1) * encoded.k),
          values: encoded.values.subarray(i * encoded.k, (i + 1) * encoded.k),
        },
      })),
    );
    engine = new SteerEngine({ embedder: hashingEmbedder, backend, sae });
    bridge = await startBridge({ upstream: double.url, steering: engineSteering(engine), port: 0 });
    client = new Client({ node: bridge.url, maxRetries: 0 });
  });
  after(async () => {
    await client?.close();
    await bridge?.close();
    await engine?.close();
    await double?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a steer query with feature edits is searched with the engine steered vector', async () => {
    const query = '"river fishing" +f3*0.5 k=3';
    const response = await client.transport.request<{
      hits: { hits: Array<{ _id: string; _score: number }> };
    }>({
      method: 'POST',
      path: '/docs/_search',
      body: { steer: query },
    });
    const expected = await engine.search(query, { index: 'docs' });
    assert.equal(expected.hits.length, 3);
    assert.deepEqual(
      response.hits.hits.map((h) => h._id),
      expected.hits.map((h) => h.id),
    );
    response.hits.hits.forEach((h, i) => assert.ok(Math.abs(h._score - expected.hits[i]!.score) < 1e-6));
  });

  it('mode=sparse searches the SAE latents written to the side field', async () => {
    const query = '"river bank" mode=sparse k=3';
    const response = await client.transport.request<{ hits: { hits: Array<{ _id: string }> } }>({
      method: 'POST',
      path: '/docs/_search',
      body: { steer: query },
    });
    const resolved = await engine.resolve(query);
    const direct = await backend.search('docs', { mode: 'sparse', latents: resolved.latents, k: 3 });
    assert.ok(direct.length > 0);
    assert.deepEqual(
      response.hits.hits.map((h) => h._id),
      direct.map((h) => h.id),
    );
  });

  it("mode=sparse and mode=hybrid search with the edited latents h', not a re-encoded steered vector", async () => {
    const plain = await engine.resolve('"river bank" mode=sparse k=3');
    const [strongest, second] = plain.latents.indices;
    assert.ok(strongest !== undefined && second !== undefined, 'the query has at least two active latents');
    const absent = [...Array(N_LATENTS).keys()].find((f) => !plain.latents.indices.includes(f))!;
    for (const mode of ['sparse', 'hybrid'] as const) {
      const query = `"river bank" -f${strongest} +f${absent}*0.75 =f${second}*0.5 mode=${mode} k=3`;
      const resolved = await engine.resolve(query);
      const latents = new Map([...resolved.latents.indices].map((f, i) => [f, resolved.latents.values[i]!]));
      assert.equal(
        latents.has(strongest),
        false,
        `${mode}: -f${strongest} removes it from the query's latents`,
      );
      assert.ok(Math.abs(latents.get(absent)! - 0.75) < 1e-6, `${mode}: +f${absent}*0.75 adds it`);
      assert.ok(Math.abs(latents.get(second)! - 0.5) < 1e-6, `${mode}: =f${second}*0.5 sets it`);
      for (const [f, value] of latents) {
        if (f === absent || f === second) continue;
        const i = [...plain.latents.indices].indexOf(f);
        assert.equal(value, plain.latents.values[i], `${mode}: unedited f${f} keeps its activation`);
      }
      const response = await client.transport.request<{ hits: { hits: Array<{ _id: string }> } }>({
        method: 'POST',
        path: '/docs/_search',
        body: { steer: query },
      });
      const direct = await backend.search('docs', {
        mode,
        vector: resolved.vector,
        latents: resolved.latents,
        k: 3,
      });
      assert.deepEqual(
        response.hits.hits.map((h) => h._id),
        direct.map((h) => h.id),
      );
    }
  });

  it("the grammar's diagnostics reach the client as 400 parsing_exception with the position", async () => {
    await assert.rejects(
      client.transport.request({ method: 'POST', path: '/docs/_search', body: { steer: '"jobs" +f1*' } }),
      (e: unknown) => {
        assert.ok(e instanceof errors.ResponseError);
        assert.equal(e.statusCode, 400);
        const error = (e.body as { error: { type: string; line: number; col: number; reason: string } })
          .error;
        assert.equal(error.type, 'parsing_exception');
        assert.equal(error.line, 1);
        assert.ok(error.col >= 8, `col ${error.col} points at or after the '*'`);
        assert.match(error.reason, /^\[steer\] \[1:\d+\] steer /);
        return true;
      },
    );
  });

  it('explains hits through /_steer/explain with the engine', async () => {
    const response = await fetch(`${bridge.url}/_steer/explain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `"${CORPUS[0]!.text}"`,
        hits: [{ id: 'r1', text: CORPUS[0]!.text }],
        top: 3,
      }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as {
      hits: Array<{ id: string; features: Array<{ feature: number; contribution: number }> }>;
    };
    assert.equal(body.hits[0]!.id, 'r1');
    assert.ok(body.hits[0]!.features.length > 0, 'a text shares its own active features');
  });
});
