import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSae } from '@steer/sae';
import { buildCatalog, CatalogError, labelWithLlm, llmConfigFromEnv, openCatalog } from '../src/index.js';
import { hashEmbedder, plantedCorpus, writePlantedSae } from './helpers/planted.js';

/** An OpenAI-compatible chat endpoint on 127.0.0.1 that fails the first `failures` requests with `status`. */
async function chatDouble(options: { failures?: number; status?: number } = {}) {
  const requests: Array<{
    auth?: string;
    body: { model: string; messages: Array<{ role: string; content: string }> };
  }> = [];
  let failures = options.failures ?? 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => {
      if (req.url !== '/v1/chat/completions' || req.method !== 'POST') {
        res.writeHead(404).end('not found');
        return;
      }
      const body = JSON.parse(data);
      requests.push({ auth: req.headers.authorization, body });
      if (failures > 0) {
        failures--;
        res.writeHead(options.status ?? 429, { 'retry-after': '0' }).end('slow down');
        return;
      }
      const ids = [...body.messages[1].content.matchAll(/Feature (\d+)\nKeywords: ([^\n]*)/g)];
      const labels = ids.map((m) => ({ id: Number(m[1]), label: `Topic of ${m[2]!.split(', ')[0]}` }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          choices: [
            { message: { role: 'assistant', content: '```json\n' + JSON.stringify({ labels }) + '\n```' } },
          ],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test('LLM labels come in batches, retry on 429 and 5xx, and are cached', async (t) => {
  const double = await chatDouble({ failures: 2, status: 503 });
  t.after(() => double.close());
  const temp = await mkdtemp(join(tmpdir(), 'steer-llm-'));
  t.after(() => rm(temp, { recursive: true, force: true }));
  const config = {
    baseUrl: double.baseUrl,
    model: 'test-model',
    apiKey: 'sk-test',
    batchSize: 2,
    backoffMs: 1,
    cacheFile: join(temp, 'llm.json'),
  };
  const requests = [1, 2, 3].map((id) => ({ id, keywords: [`word${id}`, 'other'], snippets: ['a snippet'] }));
  const report = await labelWithLlm(requests, config);
  assert.deepEqual(
    [...report.labels],
    [
      [1, 'Topic of word1'],
      [2, 'Topic of word2'],
      [3, 'Topic of word3'],
    ],
  );
  assert.equal(report.requests, 2);
  assert.equal(report.retries, 2);
  assert.equal(double.requests.length, 4);
  assert.equal(double.requests[0]!.auth, 'Bearer sk-test');
  assert.equal(double.requests[0]!.body.model, 'test-model');
  // Second run: everything from the cache, no request.
  const again = await labelWithLlm(requests, config);
  assert.equal(again.cached, 3);
  assert.equal(double.requests.length, 4);
});

test('LLM errors: a 4xx is not retried, endless 429 gives up with a clear error', async (t) => {
  const refusing = await chatDouble({ failures: 99, status: 401 });
  t.after(() => refusing.close());
  const request = [{ id: 1, keywords: ['a'], snippets: ['b'] }];
  await assert.rejects(
    labelWithLlm(request, { baseUrl: refusing.baseUrl, model: 'm', backoffMs: 1 }),
    (e: unknown) =>
      e instanceof CatalogError &&
      e.code === 'llm_failed' &&
      /401/.test(e.message) &&
      /STEER_LLM_API_KEY/.test(e.message),
  );
  assert.equal(refusing.requests.length, 1);
  const busy = await chatDouble({ failures: 99, status: 429 });
  t.after(() => busy.close());
  await assert.rejects(
    labelWithLlm(request, { baseUrl: busy.baseUrl, model: 'm', backoffMs: 1, maxRetries: 2 }),
    (e: unknown) => e instanceof CatalogError && /failed 3 times/.test(e.message),
  );
  assert.equal(busy.requests.length, 3);
});

test('LLM config comes from the environment only when set', () => {
  assert.equal(llmConfigFromEnv({}), undefined);
  assert.deepEqual(
    llmConfigFromEnv({ STEER_LLM_BASE_URL: 'http://x/v1', STEER_LLM_MODEL: 'm', STEER_LLM_API_KEY: 'k' }),
    {
      baseUrl: 'http://x/v1',
      model: 'm',
      apiKey: 'k',
      cacheFile: undefined,
    },
  );
  assert.throws(() => llmConfigFromEnv({ STEER_LLM_MODEL: 'm' }), /STEER_LLM_BASE_URL/);
});

test('a build with an LLM config stores LLM labels next to the keywords', async (t) => {
  const double = await chatDouble();
  t.after(() => double.close());
  const { dir } = await writePlantedSae();
  t.after(() => rm(join(dir, '..'), { recursive: true, force: true }));
  const sae = await loadSae(dir);
  t.after(() => sae.dispose());
  const embedder = hashEmbedder();
  const summary = await buildCatalog({
    saeDir: dir,
    sae,
    embedder,
    documents: plantedCorpus(),
    evidence: false,
    llm: { baseUrl: double.baseUrl, model: 'test-model', backoffMs: 1 },
  });
  assert.ok(summary.llmLabels >= 5);
  assert.equal(summary.header.labeler, 'llm:test-model');
  const catalog = await openCatalog(dir, { embedder });
  t.after(() => catalog.dispose());
  const description = await catalog.describe(2);
  assert.equal(description.label, `Topic of ${description.keywords[0]}`);
  assert.equal(description.llmLabel, description.label);
  assert.ok(description.keywords.length >= 3);
});
