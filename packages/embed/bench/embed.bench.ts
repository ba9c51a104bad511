// Benchmark of the default embedder: per-query latency (p50/p99) and documents/s in batches of 64, each beside
// its baseline (a cache hit for latency, batches of 1 for throughput). Texts come from msmarco-5k when present.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDefaultEmbedder, withCache, type Embedder } from '@steer/embed';

/** One printed figure (see scripts/bench.mjs). */
export interface BenchFigure {
  figure: string;
  value: number;
  unit: string;
  vs?: { figure: string; value: number; ratio: number };
}

function percentile(sortedMs: number[], p: number): number {
  const index = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[index]!;
}

/**
 * Embeds each query alone (kind `query`), one after another, after one warm-up call.
 * @returns p50 and p99 of the per-query wall time in milliseconds.
 */
export async function measureQueryLatency(
  embedder: Embedder,
  queries: readonly string[],
): Promise<{ p50: number; p99: number }> {
  if (queries.length === 0) throw new Error('measureQueryLatency: pass at least one query');
  await embedder.embed([queries[0]!], { kind: 'query' });
  const times: number[] = [];
  for (const query of queries) {
    const start = performance.now();
    await embedder.embed([query], { kind: 'query' });
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** Documents per second when `documents` are embedded in consecutive batches of `batchSize`. */
export async function measureThroughput(
  embedder: Embedder,
  documents: readonly string[],
  batchSize: number,
): Promise<number> {
  await embedder.embed(documents.slice(0, Math.min(batchSize, documents.length)));
  const start = performance.now();
  for (let i = 0; i < documents.length; i += batchSize)
    await embedder.embed(documents.slice(i, i + batchSize));
  return documents.length / ((performance.now() - start) / 1000);
}

async function readJsonlTexts(path: string, limit: number): Promise<string[] | undefined> {
  try {
    const lines = (await readFile(path, 'utf8')).split('\n').filter((line) => line.trim().length > 0);
    return lines.slice(0, limit).map((line) => (JSON.parse(line) as { text: string }).text);
  } catch {
    return undefined;
  }
}

function syntheticTexts(count: number, words: number): string[] {
  const vocabulary = [
    'retrieval',
    'sparse',
    'feature',
    'query',
    'river',
    'bank',
    'loan',
    'music',
    'engine',
    'protein',
  ];
  return Array.from({ length: count }, (_, i) =>
    Array.from({ length: words }, (_, j) => vocabulary[(i * 7 + j * 3) % vocabulary.length]).join(' '),
  );
}

/** Runs the benchmark and reports its figures. */
export async function run(report: (figure: BenchFigure) => void): Promise<void> {
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  const datasets = join(root, '..', 'shared', 'datasets', 'msmarco-5k');
  const queries = (await readJsonlTexts(join(datasets, 'queries.jsonl'), 50)) ?? syntheticTexts(50, 6);
  const documents = (await readJsonlTexts(join(datasets, 'corpus.jsonl'), 128)) ?? syntheticTexts(128, 60);

  const embedder = await loadDefaultEmbedder();
  const cacheDir = await mkdtemp(join(tmpdir(), 'steer-embed-bench-'));
  try {
    const latency = await measureQueryLatency(embedder, queries);
    const cached = withCache(embedder, cacheDir);
    await cached.embed(queries, { kind: 'query' });
    const cachedLatency = await measureQueryLatency(cached, queries);
    for (const p of ['p50', 'p99'] as const) {
      report({
        figure: `embed use-lite-512 query latency ${p}`,
        value: latency[p],
        unit: 'ms',
        vs: { figure: `cache hit ${p}`, value: cachedLatency[p], ratio: latency[p] / cachedLatency[p] },
      });
    }
    const batched = await measureThroughput(embedder, documents, 64);
    const single = await measureThroughput(embedder, documents.slice(0, 32), 1);
    report({
      figure: 'embed use-lite-512 documents/s (batches of 64, msmarco passages)',
      value: batched,
      unit: 'docs/s',
      vs: { figure: 'batches of 1', value: single, ratio: batched / single },
    });
  } finally {
    await embedder.dispose();
    await rm(cacheDir, { recursive: true, force: true });
  }
}
