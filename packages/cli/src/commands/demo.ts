// `steer demo`: indexes the shipped demo corpus on the embedded store and shows steering at work, offline.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { openEngine } from '@steer/engine';
import type { SteerEngine } from '@steer/engine';
import type { SearchHit } from '@steer/search';
import type { Command, CommandIO } from '../command.js';
import { documentText, readCorpus } from '../corpus.js';
import type { CorpusDocument } from '../corpus.js';
import { embedAll } from '../embedding.js';
import { configFromArgs, jsonOption, printJson } from '../options.js';
import { createProgress } from '../progress.js';
import { quoteText } from '../query-text.js';

/** The demo's shipped files: corpus, queries and the SAE trained on the corpus (see demo/README.md). */
export const demoDir = fileURLToPath(new URL('../../../demo/', import.meta.url));

interface DemoQuery {
  query: string;
  topic: string;
  steerToward: string;
  steerConcept: string;
  steerAwayFrom: string;
  awayConcept: string;
}

interface DemoHit extends SearchHit {
  perspective?: string;
  /** Rank change against the unsteered list: positive moved up, `null` is new in the top k. */
  moved?: number | null;
}

const TOP_K = 5;

/** Indexes the demo corpus under a name derived from its content and the embedder, once. */
async function ensureDemoIndex(
  engine: SteerEngine,
  docs: CorpusDocument[],
  corpusText: string,
  io: CommandIO,
  quiet: boolean,
) {
  const hash = createHash('sha256').update(corpusText).update(engine.embedder.id).digest('hex').slice(0, 12);
  const index = `demo-${hash}`;
  const existing = await engine.backend.listIndexes();
  if (existing.includes(index)) {
    const info = await engine.backend.describeIndex(index);
    if (info.count === docs.length) return { index, reused: true };
  }
  const progress = createProgress(io, 'demo: embedding corpus', { quiet });
  const vectors = await embedAll(engine.embedder, docs.map(documentText), 32, progress);
  progress.finish(`${docs.length} passages`);
  await engine.backend.createIndex(index, {
    dims: engine.embedder.dims,
    similarity: engine.embedder.normalized ? 'dot_product' : 'cosine',
    embeddingModel: engine.embedder.id,
    overwrite: true,
  });
  await engine.backend.addDocuments(
    index,
    docs.map((doc, i) => ({
      id: doc.id,
      text: documentText(doc),
      metadata: doc.metadata,
      vector: vectors.subarray(i * engine.embedder.dims, (i + 1) * engine.embedder.dims),
    })),
    { total: docs.length },
  );
  return { index, reused: false };
}

function markMoves(
  baseline: SearchHit[],
  steered: SearchHit[],
  perspectives: Map<string, string>,
): {
  baseline: DemoHit[];
  steered: DemoHit[];
} {
  const baseRank = new Map(baseline.map((h, i) => [h.id, i]));
  const strip = (h: SearchHit): DemoHit => ({
    id: h.id,
    score: h.score,
    text: h.text,
    perspective: perspectives.get(h.id),
  });
  return {
    baseline: baseline.map(strip),
    steered: steered.map((h, i) => {
      const before = baseRank.get(h.id);
      return { ...strip(h), moved: before === undefined ? null : before - i };
    }),
  };
}

/** A rank change as a fixed-width marker: `↑2`, `↓1`, `=` or `new`. */
function moveMarker(moved: number | null | undefined): string {
  const marker =
    moved === null
      ? 'new'
      : moved === undefined || moved === 0
        ? '='
        : moved > 0
          ? `↑${moved}`
          : `↓${-moved}`;
  return ` ${marker.padEnd(3)} `;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Index the shipped demo corpus and show results without and with steering (offline)',
  usage: 'steer demo [--data-dir .steer] [--json]',
  options: { ...jsonOption, 'data-dir': { type: 'string' } },
  async run(args, io) {
    const quiet = args.values.json === true;
    const started = performance.now();
    const config = {
      ...configFromArgs(args, io),
      sae: join(demoDir, 'sae'),
      embedder: 'default',
      backend: 'embedded' as const,
    };
    const corpusPath = join(demoDir, 'corpus.jsonl');
    const [corpusText, docs, queries] = await Promise.all([
      readFile(corpusPath, 'utf8'),
      readCorpus(corpusPath),
      readFile(join(demoDir, 'queries.json'), 'utf8').then((t) => JSON.parse(t) as DemoQuery[]),
    ]);
    const engine = await openEngine(config);
    try {
      const { index, reused } = await ensureDemoIndex(engine, docs, corpusText, io, quiet);
      const perspectives = new Map(
        docs.map((d) => [d.id, String(d.metadata.perspective ?? d.metadata.topic ?? '')]),
      );
      const results = [];
      const catalog = engine.featureCatalog();
      const direction = async (concept: string) =>
        ((await catalog.resolveConcept?.(concept)) ?? []).map(({ feature, weight }) => ({
          id: feature.id,
          ...(feature.label ? { label: feature.label } : {}),
          weight: Math.round(weight * 1000) / 1000,
        }));
      for (const q of queries) {
        // Steer by concept: toward the perspective's concept direction at the default strength (1x, relative
        // to the query's own code), away from the other perspective's best feature.
        const steerQuery = `${quoteText(q.query)} +~${quoteText(q.steerConcept)} -~${quoteText(q.awayConcept)}/1 k=${TOP_K}`;
        const result = await engine.search(steerQuery, { index, compare: true });
        const marked = markMoves(result.baseline ?? [], result.hits, perspectives);
        results.push({
          query: q.query,
          steerQuery,
          toward: {
            perspective: q.steerToward,
            concept: q.steerConcept,
            features: await direction(q.steerConcept),
          },
          away: {
            perspective: q.steerAwayFrom,
            concept: q.awayConcept,
            features: (await direction(q.awayConcept)).slice(0, 1),
          },
          ...marked,
        });
      }
      if (quiet) {
        printJson(io, {
          index,
          reusedIndex: reused,
          seconds: (performance.now() - started) / 1000,
          queries: results,
        });
        return 0;
      }
      for (const r of results) {
        io.stdout.write(`\n━━ ${r.query}\n`);
        const named = (features: Array<{ id: number; label?: string }>) =>
          features
            .map((f) => `f${f.id} (${f.label?.split(', ').slice(0, 3).join(', ') ?? 'unlabelled'})`)
            .join(', ');
        io.stdout.write(
          `   steer toward '${r.toward.perspective}' with ${named(r.toward.features)}` +
            `, away from '${r.away.perspective}' with ${named(r.away.features)}\n`,
        );
        io.stdout.write(`   steer query: ${r.steerQuery}\n`);
        io.stdout.write('   without steering:\n');
        r.baseline.forEach((h, i) =>
          io.stdout.write(`     ${i + 1}. [${(h.perspective ?? '').padEnd(11)}] ${h.text.slice(0, 90)}\n`),
        );
        io.stdout.write('   with steering:\n');
        r.steered.forEach((h, i) =>
          io.stdout.write(
            `     ${i + 1}.${moveMarker(h.moved)}[${(h.perspective ?? '').padEnd(11)}] ${h.text.slice(0, 86)}\n`,
          ),
        );
      }
      io.stdout.write(
        `\ndemo finished in ${((performance.now() - started) / 1000).toFixed(1)}s (data in ${config.dataDir})\n`,
      );
      return 0;
    } finally {
      await engine.close();
    }
  },
};
