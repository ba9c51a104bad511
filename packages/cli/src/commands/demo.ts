// `steer demo`: indexes the shipped demo corpus on the embedded store, shows steering at work, offline, and
// leaves a workspace (steer.config.json, demo.steer, a copy of the demo SAE) ready to open in an editor.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join, relative, resolve } from 'node:path';
import { openCatalog } from '@steer/catalog';
import type { Catalog } from '@steer/catalog';
import { createEmbedder } from '@steer/embed';
import { loadConfig, openEngine } from '@steer/engine';
import type { SteerEngine } from '@steer/engine';
import { compileText, type PlannedEdit } from '@steer/grammar';
import type { SearchHit } from '@steer/search';
import type { Command, CommandIO } from '../command.js';
import { documentText, readCorpus } from '../corpus.js';
import type { CorpusDocument } from '../corpus.js';
import { embedAll } from '../embedding.js';
import {
  configPath,
  copySae,
  demoAliases,
  demoSteerText,
  editorInstructions,
  writeDemoConfig,
  writeDemoSteerFile,
  DEMO_STEER_FILE,
  type DemoSteering,
} from '../demo-workspace.js';
import { jsonOption, printJson } from '../options.js';
import { createProgress } from '../progress.js';
import { quoteText } from '../query-text.js';

/** The demo's shipped files: corpus, queries and the SAE trained on the corpus (see demo/README.md). */
export const demoDir = fileURLToPath(new URL('../../../demo/', import.meta.url));
/** The `steer` executable of this package (for the editor instructions). */
const steerBin = fileURLToPath(new URL('../../../bin/steer.js', import.meta.url));
/** The extension folder when the CLI runs from the repository (where `npm run package -w extension` puts the .vsix). */
const extensionDir = fileURLToPath(new URL('../../../../../extension/', import.meta.url));
/** The workspace folder when --dir is not given. */
const DEFAULT_WORKSPACE = 'steer-demo';

/** The packaged extension beside the CLI, if it was built. */
function builtVsix(): string | undefined {
  if (!existsSync(extensionDir)) return undefined;
  const name = readdirSync(extensionDir).find((f) => /^steer-vscode-.*\.vsix$/.test(f));
  return name ? join(extensionDir, name) : undefined;
}

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

/** A feature of a concept's direction, as the demo shows it. */
interface DirectionFeature {
  id: number;
  label?: string;
  weight: number;
}

/** The features of one side of the steering: those whose edit is in effect, and those another edit overrides. */
interface SteeringSide {
  features: DirectionFeature[];
  overridden: DirectionFeature[];
}

/**
 * Splits a concept's features by the edit the compiled plan keeps for each (one edit per feature): those whose
 * edit steers the way the concept was written (`wanted`), and those that another edit overrode.
 */
function inEffect(
  features: DirectionFeature[],
  edits: readonly PlannedEdit[],
  wanted: (edit: PlannedEdit) => boolean,
): SteeringSide {
  const kept = new Set(edits.filter(wanted).map((e) => e.feature));
  return {
    features: features.filter((f) => kept.has(f.id)),
    overridden: features.filter((f) => !kept.has(f.id)),
  };
}

const amplifies = (edit: PlannedEdit): boolean => edit.op !== 'zero' && edit.value > 0;
const suppresses = (edit: PlannedEdit): boolean => edit.op === 'zero' || edit.value < 0;

/**
 * Runs each demo query steered by concept (toward the perspective's concept direction at the default strength, 1x
 * relative to the query's own code, away from the other perspective's best feature) beside the unsteered run.
 * The features shown are the edits in effect after the compiler merged them (one edit per feature): a feature in
 * both concepts is listed once, on the side whose edit is kept, and named as overridden on the other.
 */
async function runDemoQueries(
  engine: SteerEngine,
  catalog: Catalog,
  queries: readonly DemoQuery[],
  index: string,
  perspectives: Map<string, string>,
) {
  const results = [];
  const steerings: DemoSteering[] = [];
  const direction = async (concept: string): Promise<DirectionFeature[]> =>
    ((await catalog.resolveConcept(concept)) ?? []).map(({ feature, weight }) => ({
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
    const edits = result.resolved.plan.edits;
    const toward = inEffect(await direction(q.steerConcept), edits, amplifies);
    const away = inEffect((await direction(q.awayConcept)).slice(0, 1), edits, suppresses);
    results.push({
      query: q.query,
      steerQuery,
      toward: { perspective: q.steerToward, concept: q.steerConcept, ...toward },
      away: { perspective: q.steerAwayFrom, concept: q.awayConcept, ...away },
      ...marked,
    });
    // demo.steer names the concept's strongest feature by id and by alias, beside the concept itself.
    const [towardTop] = toward.features;
    const [awayTop] = away.features;
    if (towardTop) {
      steerings.push({
        query: q.query,
        toward: { perspective: q.steerToward, concept: q.steerConcept, id: towardTop.id },
        ...(awayTop && awayTop.id !== towardTop.id
          ? { away: { perspective: q.steerAwayFrom, id: awayTop.id } }
          : {}),
      });
    }
  }
  return { results, steerings };
}

/** Features as `f12 (label words)`, or `no feature`. */
function namedFeatures(features: ReadonlyArray<{ id: number; label?: string }>): string {
  if (features.length === 0) return 'no feature';
  return features
    .map((f) => `f${f.id} (${f.label?.split(', ').slice(0, 3).join(', ') ?? 'unlabelled'})`)
    .join(', ');
}

/** One side of the steering line: its features in effect, and a note on those the other side's edit overrode. */
function sideText(side: SteeringSide, otherSide: string): string {
  const ids = side.overridden.map((f) => `f${f.id}`).join(', ');
  const note = ids
    ? ` (${ids} ${side.overridden.length === 1 ? 'is' : 'are'} steered ${otherSide} instead)`
    : '';
  return `with ${namedFeatures(side.features)}${note}`;
}

/** Prints each query's features and its hits without and with steering, moves marked. */
function printDemoResults(
  io: CommandIO,
  results: Awaited<ReturnType<typeof runDemoQueries>>['results'],
): void {
  for (const r of results) {
    io.stdout.write(`\n━━ ${r.query}\n`);
    io.stdout.write(
      `   steer toward '${r.toward.perspective}' ${sideText(r.toward, 'away')}` +
        `, away from '${r.away.perspective}' ${sideText(r.away, 'toward')}\n`,
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
}

export const demoCommand: Command = {
  name: 'demo',
  summary:
    'Index the shipped demo corpus, show results without and with steering (offline), and leave a workspace for an editor',
  usage: 'steer demo [--dir steer-demo] [--data-dir <dir>/.steer] [--json]',
  options: { ...jsonOption, dir: { type: 'string' }, 'data-dir': { type: 'string' } },
  async run(args, io) {
    const quiet = args.values.json === true;
    const started = performance.now();
    const workspace = resolve(io.cwd, (args.values.dir as string | undefined) ?? DEFAULT_WORKSPACE);
    const dataDirArg = args.values['data-dir'] as string | undefined;
    const dataDir = dataDirArg ? resolve(io.cwd, dataDirArg) : join(workspace, '.steer');
    const saeDir = join(workspace, 'sae');
    await mkdir(workspace, { recursive: true });
    // NOTE: a copy, so that the demo's aliases (and the user's) live beside it and never change the package.
    await copySae(join(demoDir, 'sae'), saeDir);
    const config = loadConfig(workspace, io.env, {
      dataDir,
      sae: saeDir,
      embedder: 'default',
      backend: 'embedded',
    });
    const corpusPath = join(demoDir, 'corpus.jsonl');
    const [corpusText, docs, queries] = await Promise.all([
      readFile(corpusPath, 'utf8'),
      readCorpus(corpusPath),
      readFile(join(demoDir, 'queries.json'), 'utf8').then((t) => JSON.parse(t) as DemoQuery[]),
    ]);
    const embedder = await createEmbedder(config.embedder, { cacheDir: join(config.dataDir, 'cache') });
    const catalog = await openCatalog(saeDir, { embedder, missing: 'empty' });
    const engine = await openEngine(config, { embedder, catalog });
    try {
      const { index, reused } = await ensureDemoIndex(engine, docs, corpusText, io, quiet);
      const perspectives = new Map(
        docs.map((d) => [d.id, String(d.metadata.perspective ?? d.metadata.topic ?? '')]),
      );
      const { results, steerings } = await runDemoQueries(engine, catalog, queries, index, perspectives);

      // The workspace: aliases for the chosen features, steer.config.json, demo.steer (checked to compile).
      for (const [name, id] of demoAliases(steerings)) await catalog.setAlias(name, id);
      const steerText = demoSteerText(catalog.saeId, steerings, TOP_K);
      const compiled = await compileText(steerText, { catalog });
      const errors = compiled.diagnostics.filter((d) => d.severity === 'error');
      if (errors.length > 0) {
        throw new Error(
          `demo: the generated ${DEMO_STEER_FILE} does not compile: ${errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`,
        );
      }
      await writeDemoConfig(workspace, {
        sae: 'sae',
        index,
        dataDir: configPath(workspace, config.dataDir),
      });
      const steerFile = await writeDemoSteerFile(workspace, config.dataDir, steerText);
      const shown = relative(io.cwd, workspace) || '.';
      const editors = editorInstructions({
        workspace,
        shown: shown.length < workspace.length ? shown : workspace,
        steerBin,
        vsix: builtVsix(),
        vsixHint: 'npm run package -w extension, in the Steer repository',
      });
      const workspaceInfo = {
        dir: workspace,
        config: join(workspace, 'steer.config.json'),
        file: join(workspace, DEMO_STEER_FILE),
        sae: saeDir,
        index,
        dataDir: config.dataDir,
        steerFile,
      };
      if (quiet) {
        printJson(io, {
          index,
          reusedIndex: reused,
          seconds: (performance.now() - started) / 1000,
          workspace: workspaceInfo,
          queries: results,
        });
        return 0;
      }
      printDemoResults(io, results);
      const keptNote =
        steerFile === 'kept'
          ? ` (you edited ${DEMO_STEER_FILE}, so it was kept; delete it to get a fresh one)`
          : '';
      io.stdout.write(
        [
          '',
          `demo finished in ${((performance.now() - started) / 1000).toFixed(1)}s.`,
          `Your demo workspace is ready in ${workspace}:`,
          `  steer.config.json  names the demo SAE (sae/) and its index ${index} (data in ${config.dataDir})`,
          `  ${DEMO_STEER_FILE}         example queries with feature ids, aliases, a concept and a preset${keptNote}`,
          ...editors,
          '',
        ].join('\n'),
      );
      return 0;
    } finally {
      await engine.close();
      await catalog.dispose();
    }
  },
};
