// Steering overhead beside the default embedder's per-query time: the share steering adds to a query.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDefaultEmbedder } from '@steer/embed';
import { measureQueryLatency } from '@steer/embed/bench';
import { BENCH_SIZES, createRandomSae, measureSteeringOverhead, randomUnitVectors } from '@steer/sae/bench';

interface Figure {
  figure: string;
  value: number;
  unit: string;
  vs?: { figure: string; value: number; ratio: number };
}

const QUERIES = [
  'what is the value of a university degree',
  'how does remote work affect family life',
  'are electric cars cheaper to run',
  'is coffee good for your heart',
  'why do cities need parks',
  'definition of photosynthesis',
  'how long does it take to learn to code',
  'symptoms of vitamin d deficiency',
];

/** Runs the side-by-side figures: embedder p50/p99, steering p50/p99 at each SAE size, and their ratio. */
export async function run(report: (figure: Figure) => void): Promise<void> {
  const embedder = await loadDefaultEmbedder();
  const queries = Array.from({ length: 64 }, (_, i) => `${QUERIES[i % QUERIES.length]} ${i}`);
  const embed = await measureQueryLatency(embedder, queries);
  await embedder.dispose();
  report({ figure: 'pipeline: default embedder per-query time p50', value: embed.p50, unit: 'ms' });
  for (const size of BENCH_SIZES) {
    const dir = await mkdtemp(join(tmpdir(), 'steer-pipeline-bench-'));
    try {
      await createRandomSae(dir, size);
      const vectors = randomUnitVectors(64, size.dModel, 7);
      const queryVectors = Array.from({ length: 64 }, (_, i) =>
        vectors.slice(i * size.dModel, (i + 1) * size.dModel),
      );
      const steer = await measureSteeringOverhead(dir, queryVectors);
      const label = `d=${size.dModel} n=${size.nLatents} k=${size.k}`;
      for (const [name, latency] of [
        ['zero/add of a random feature, edit index', steer],
        ["zero of the query's strongest feature, edit index", steer.zeroActive],
        ['zero/add through the full encoder', steer.exactEncoder],
        ['add-only edits', steer.addOnly],
      ] as const) {
        report({
          figure: `pipeline: steering overhead (${name}) p50 / embedding p50, ${label}`,
          value: (100 * latency.p50) / embed.p50,
          unit: '% of query time',
          vs: {
            figure: 'default embedder per-query p50 (ms)',
            value: embed.p50,
            ratio: latency.p50 / embed.p50,
          },
        });
        report({
          figure: `pipeline: steering overhead (${name}) p99 / embedding p99, ${label}`,
          value: (100 * latency.p99) / embed.p99,
          unit: '% of query time',
          vs: {
            figure: 'default embedder per-query p99 (ms)',
            value: embed.p99,
            ratio: latency.p99 / embed.p99,
          },
        });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
