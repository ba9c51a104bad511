// Bench: the bridge's added latency over direct requests to the same upstream (the Elasticsearch TEST DOUBLE on
// loopback, in its own worker thread), bulk latent indexing throughput into the double, and hybrid search fused
// by Steer on a basic licence beside the cluster's own RRF on a trial one. Steering is the TEST-ONLY toy
// steering, so the figures are the bridge's and backend's own cost (HTTP, JSON, rewrite), not an embedder's.
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { openElasticsearchBackend, writeLatents } from '@steer/elasticsearch';
import { startBridge } from '../src/index.js';
import type { BridgeSteering, SteeredQuery } from '../src/index.js';

interface Figure {
  figure: string;
  value: number;
  unit: string;
  vs?: { figure: string; value: number; ratio: number };
}

/** What the bench uses from @steer/e2e-tests (the test double and the toy steering). */
interface TestKit {
  startEsDouble(options?: object): Promise<{ url: string; close(): Promise<void> }>;
  createToySteering(): BridgeSteering;
  toyEmbed(text: string): Float32Array;
  toyLatents(vector: Float32Array): { indices: Int32Array; values: Float32Array };
  toyResolve(query: string, defaults: object): SteeredQuery;
  TOY_DIMS: number;
}

const WORDS =
  'river bank loan market stock mountain trail cooking pasta winter lake fishing rod interest rate crash dawn hiking home city'.split(
    ' ',
  );
const DOCS = 2000;
/** Documents in the index the latency runs search: small, so the double's exact kNN does not hide the bridge. */
const LATENCY_DOCS = 200;
const REQUESTS = 600;
const CONCURRENCY = Number(process.env.STEER_BENCH_CONCURRENCY ?? 8);

function text(i: number): string {
  return Array.from({ length: 6 }, (_, j) => WORDS[(i * 7 + j * 13 + ((i * j) % 5)) % WORDS.length]).join(
    ' ',
  );
}

function post(agent: Agent, url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(performance.now() - started)
            : reject(new Error(`HTTP ${res.statusCode} from ${url}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Latencies (ms) of `count` requests made `concurrency` at a time. */
async function load(agent: Agent, url: string, bodies: string[], count: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        latencies.push(await post(agent, url, bodies[i % bodies.length]!));
      }
    }),
  );
  return latencies;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function loadTestKit(): Promise<TestKit> {
  // NOTE: the test double lives in the test workspace, which depends on this package; importing it by a
  // computed specifier keeps the project references acyclic (it is resolved at run time, after the build).
  const specifier = '@steer/e2e-tests';
  return (await import(specifier)) as TestKit;
}

type Role = { role: 'double'; licence?: 'basic' | 'trial' } | { role: 'bridge'; upstream: string };

/** Runs the double or the bridge in a worker thread, so client, bridge and upstream each have an event loop. */
async function serveInWorker(role: Role): Promise<{ url: string; stop(): Promise<void> }> {
  const worker = new Worker(new URL(import.meta.url), { workerData: role });
  const url = await new Promise<string>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { url, stop: () => worker.terminate().then(() => undefined) };
}

if (!isMainThread && parentPort && (workerData as Role | undefined)?.role) {
  const role = workerData as Role;
  const kit = await loadTestKit();
  const served =
    role.role === 'double'
      ? await kit.startEsDouble({ licence: role.licence ?? 'basic' })
      : await startBridge({ upstream: role.upstream, steering: kit.createToySteering(), port: 0 });
  parentPort.postMessage(served.url);
}

/**
 * Hybrid search latency where the licence lacks RRF (Steer opens a point in time, runs the dense and sparse
 * searches, fuses, closes it) beside one rrf retriever on a trial licence, same documents and queries.
 */
async function hybridFusion(
  kit: TestKit,
  documents: Array<{ id: string; text: string; vector: Float32Array }>,
  queries: string[],
  report: (figure: Figure) => void,
): Promise<void> {
  const latencies: Record<'basic' | 'trial', number[]> = { basic: [], trial: [] };
  const clusters = await Promise.all(
    (['basic', 'trial'] as const).map(async (licence) => {
      const double = await serveInWorker({ role: 'double', licence });
      const backend = await openElasticsearchBackend({ url: double.url }, { env: {} });
      await backend.createIndex('hybrid', { dims: kit.TOY_DIMS, similarity: 'cosine' });
      await backend.addDocuments('hybrid', documents);
      await writeLatents(
        backend.client,
        'hybrid',
        documents.map((d) => ({ id: d.id, latents: kit.toyLatents(d.vector) })),
      );
      return { licence, double, backend };
    }),
  );
  try {
    const requests = queries
      .map((q) => {
        const resolved = kit.toyResolve(q, {});
        return { mode: 'hybrid' as const, vector: resolved.vector, latents: resolved.latents, k: 10 };
      })
      .filter((r) => Array.from(r.latents.values).some((v) => v > 0));
    for (let round = 0; round < 6; round++) {
      for (const { licence, backend } of clusters) {
        for (const request of requests) {
          const started = performance.now();
          await backend.search('hybrid', request);
          if (round > 0) latencies[licence].push(performance.now() - started);
        }
      }
    }
    const fused = percentile(latencies.basic, 50);
    const server = percentile(latencies.trial, 50);
    report({
      figure: `hybrid search p50, fused by Steer on a basic licence (point in time + 2 searches, ${LATENCY_DOCS} docs)`,
      value: fused,
      unit: 'ms',
      vs: { figure: 'one rrf retriever on a trial licence p50', value: server, ratio: fused / server },
    });
  } finally {
    for (const { backend, double } of clusters) {
      await backend.close();
      await double.stop();
    }
  }
}

export async function run(report: (figure: Figure) => void): Promise<void> {
  const kit = await loadTestKit();
  const double = await serveInWorker({ role: 'double' });
  const bridge = await serveInWorker({ role: 'bridge', upstream: double.url });
  const backend = await openElasticsearchBackend({ url: double.url }, { env: {} });
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    await backend.createIndex('bench', { dims: kit.TOY_DIMS, similarity: 'cosine' });
    const documents = Array.from({ length: DOCS }, (_, i) => ({
      id: `d${i}`,
      text: text(i),
      vector: kit.toyEmbed(text(i)),
    }));
    let started = performance.now();
    await backend.addDocuments('bench', documents);
    const denseRate = DOCS / ((performance.now() - started) / 1000);
    started = performance.now();
    await writeLatents(
      backend.client,
      'bench',
      documents.map((d) => ({ id: d.id, latents: kit.toyLatents(d.vector) })),
    );
    const latentRate = DOCS / ((performance.now() - started) / 1000);
    report({
      figure: 'bulk latent indexing into the ES test double (writeLatents, 2000 docs)',
      value: latentRate,
      unit: 'docs/s',
      vs: {
        figure: 'bulk dense document indexing (addDocuments)',
        value: denseRate,
        ratio: latentRate / denseRate,
      },
    });

    await backend.createIndex('latency', { dims: kit.TOY_DIMS, similarity: 'cosine' });
    await backend.addDocuments('latency', documents.slice(0, LATENCY_DOCS));
    const queries = WORDS.map((w, i) => `"${w} ${WORDS[(i + 3) % WORDS.length]}" k=10`);
    const steerBodies = queries.map((q) => JSON.stringify({ steer: q, _source: ['text'] }));
    const knnBodies = queries.map((q) => {
      const resolved = kit.toyResolve(q, {});
      return JSON.stringify({
        knn: { field: 'vector', query_vector: Array.from(resolved.vector), k: 10, num_candidates: 100 },
        size: 10,
        _source: ['text'],
      });
    });
    const searchPath = '/latency/_search';
    await load(agent, double.url + searchPath, knnBodies, 60);
    await load(agent, bridge.url + searchPath, steerBodies, 60);
    const direct: number[] = [];
    const steered: number[] = [];
    const passThrough: number[] = [];
    for (let round = 0; round < 4; round++) {
      direct.push(...(await load(agent, double.url + searchPath, knnBodies, REQUESTS / 4)));
      steered.push(...(await load(agent, bridge.url + searchPath, steerBodies, REQUESTS / 4)));
      passThrough.push(...(await load(agent, bridge.url + searchPath, knnBodies, REQUESTS / 4)));
    }
    for (const p of [50, 99]) {
      const base = percentile(direct, p);
      const viaSteer = percentile(steered, p);
      const viaPass = percentile(passThrough, p);
      report({
        figure: `bridge steered search p${p} latency (${CONCURRENCY} concurrent, loopback, ${LATENCY_DOCS} docs)`,
        value: viaSteer,
        unit: 'ms',
        vs: { figure: `direct kNN search p${p}`, value: base, ratio: viaSteer / base },
      });
      report({
        figure: `bridge pass-through search p${p} latency (${CONCURRENCY} concurrent, loopback, ${LATENCY_DOCS} docs)`,
        value: viaPass,
        unit: 'ms',
        vs: { figure: `direct kNN search p${p}`, value: base, ratio: viaPass / base },
      });
      report({ figure: `bridge added latency p${p} (steered - direct)`, value: viaSteer - base, unit: 'ms' });
    }
    await hybridFusion(kit, documents.slice(0, LATENCY_DOCS), queries, report);
  } finally {
    agent.destroy();
    await backend.close();
    await bridge.stop();
    await double.stop();
  }
}
