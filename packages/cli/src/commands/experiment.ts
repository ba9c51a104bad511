// `steer experiment <name>`: the paper's experiments as one reproducible command each (Table 1, the KL ablation,
// feature frequency, amplification curves, perspective steering), writing <out>/<name>.md plus SVG plots.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '@steer/core';
import { createEmbedder, type Embedder } from '@steer/embed';
import {
  BBC_TOPICS_FILE,
  experimentCatalog,
  renderControllability,
  renderControllabilitySvg,
  runControllabilityStudy,
  DEFAULT_SEEDS,
  PERSPECTIVE_QUERIES_FILE,
  datasetProvenance,
  defaultPlan,
  embedDataset,
  embedTexts,
  EvalError,
  loadDataset,
  loadLabelledCorpus,
  loadPerspectiveQueries,
  prepareTrainer,
  provenanceBlock,
  renderAmplify,
  renderAmplifySvg,
  renderFrequency,
  renderFrequencySvg,
  renderKl,
  renderKlSvg,
  renderPerspectives,
  renderPerspectivesSvg,
  renderRetentionTable,
  renderTable1,
  runAmplify,
  runFrequency,
  runKlAblation,
  runPerspectives,
  runTable1,
  trainOrReuseSae,
  type DatasetVectors,
  embedderLabel,
  type EvalDataset,
  type ExperimentProgress,
  type FrequencyResult,
  type ReportCode,
  type SaeTrainingPlan,
} from '@steer/eval';
import { formatMachine, machineInfo } from '@steer/onnx';
import { loadSae } from '@steer/sae';
import { openLanceBackend } from '@steer/search';
import type { Command, CommandArgs, CommandIO } from '../command.js';
import { UsageError } from '../command.js';
import { configFromArgs, jsonOption, printJson } from '../options.js';
import { createProgress, type Progress } from '../progress.js';

const NAMES = ['table1', 'kl', 'frequency', 'amplify', 'perspectives', 'controllability'] as const;
type ExperimentName = (typeof NAMES)[number];

/** The demo corpus and its SAE, shipped with the CLI package. */
const DEMO_DIR = new URL('../../../demo/', import.meta.url);

function str(args: CommandArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

function kList(args: CommandArgs, fallback: number[]): number[] {
  const raw = str(args, 'k');
  if (raw === undefined) return fallback;
  const ks = raw.split(',').map((s) => Number(s.trim()));
  if (ks.some((k) => !Number.isSafeInteger(k) || k < 1)) {
    throw new UsageError(
      `experiment: --k must be whole numbers separated by commas (e.g. 32,64,128), not '${raw}'`,
    );
  }
  return ks;
}

function seedList(args: CommandArgs): number[] {
  const raw = str(args, 'seeds');
  if (raw === undefined) return [...DEFAULT_SEEDS];
  const seeds = raw.split(',').map((s) => Number(s.trim()));
  if (seeds.length === 0 || seeds.some((seed) => !Number.isSafeInteger(seed) || seed < 0)) {
    throw new UsageError(
      `experiment: --seeds must be whole numbers >= 0 separated by commas (e.g. 0,1,2), not '${raw}'`,
    );
  }
  return seeds;
}

/** The code behind the results: the git commit, the trainer's code hash and the machine that ran them. */
async function codeOfThisRun(): Promise<ReportCode> {
  // NOTE: @steer/train loads TensorFlow.js on first use; importing it lazily keeps `steer` start-up fast.
  const { codeVersion } = await import('@steer/train');
  return { ...codeVersion(), machine: formatMachine(machineInfo()) };
}

function positive(args: CommandArgs, name: string): number | undefined {
  const raw = str(args, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new UsageError(`experiment: --${name} must be a whole number >= 1, not '${raw}'`);
  return value;
}

/** The command line as the user would type it again (flags in a fixed order), for the report's provenance. */
function commandLine(name: string, args: CommandArgs): string {
  const parts = ['steer experiment', name];
  for (const flag of [
    'dataset',
    'corpus',
    'queries',
    'sae',
    'k',
    'latents',
    'epochs',
    'seeds',
    'train-backend',
    'per-topic',
    'embedder',
    'out',
    'cache',
  ]) {
    const v = args.values[flag];
    for (const item of Array.isArray(v) ? v : v === undefined ? [] : [v])
      parts.push(`--${flag} ${String(item)}`);
  }
  return parts.join(' ');
}

/** One progress line per stage on stderr (quiet in --json mode). */
function stagedProgress(
  io: CommandIO,
  quiet: boolean,
): { update: (p: ExperimentProgress) => void; finish: () => void } {
  let stage = '';
  let bar: Progress | undefined;
  return {
    update(p) {
      if (p.stage !== stage) {
        bar?.finish();
        stage = p.stage;
        bar = createProgress(io, p.stage, { quiet });
      }
      bar!.update(p.done, p.total);
    },
    finish() {
      bar?.finish();
    },
  };
}

async function datasetsOf(args: CommandArgs, io: CommandIO, name: string): Promise<EvalDataset[]> {
  const raw = args.values.dataset;
  const dirs = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);
  if (dirs.length === 0)
    throw new UsageError(`experiment ${name} needs --dataset <dir> (BEIR layout or Cranfield; repeatable)`);
  return Promise.all(dirs.map((dir) => loadDataset(resolve(io.cwd, dir))));
}

export const experimentCommand: Command = {
  name: 'experiment',
  summary:
    "Run one of the paper's experiments (table1, kl, frequency, amplify, perspectives) or the controllability study and write Markdown + SVG",
  usage:
    'steer experiment <table1|kl|frequency|amplify|perspectives|controllability> [--dataset <dir> ...] --out <dir> ' +
    '[--cache <dir>] [--k 32,64,128] [--seeds 0,1,2] [--latents N] [--epochs N] [--train-backend onnx|wasm] [--threads N] [--per-topic 10] [--sae <dir>] [--corpus <file.jsonl>] ' +
    '[--queries <file.json>] [--embedder ...] [--json]',
  options: {
    ...jsonOption,
    'data-dir': { type: 'string' },
    embedder: { type: 'string' },
    dataset: { type: 'string', multiple: true },
    out: { type: 'string' },
    cache: { type: 'string' },
    k: { type: 'string' },
    seeds: { type: 'string' },
    latents: { type: 'string' },
    epochs: { type: 'string' },
    'train-backend': { type: 'string' },
    threads: { type: 'string' },
    sae: { type: 'string' },
    corpus: { type: 'string' },
    queries: { type: 'string' },
    'per-topic': { type: 'string' },
  },
  async run(args, io) {
    try {
      return await runExperiment(args, io);
    } catch (error) {
      // Bad datasets, corpora and query files are the user's input: exit 2 with the loader's message.
      if (error instanceof EvalError) throw new UsageError(error.message);
      throw error;
    }
  },
};

/** What every experiment of one `steer experiment` run shares: its arguments, output, embedder and SAEs. */
interface ExperimentRun {
  args: CommandArgs;
  io: CommandIO;
  name: ExperimentName;
  out: string;
  config: ReturnType<typeof configFromArgs>;
  cacheDir: string;
  quiet: boolean;
  command: string;
  date: Date;
  /** The code behind this run, taken before it wrote anything (see {@link runExperiment}). */
  code: ReportCode;
  epochs: number | undefined;
  /** Latents of every trained SAE (default: the trainer's, from the corpus size). */
  latents: number | undefined;
  saeArg: string | undefined;
  demoSae: string;
  embedder: Embedder;
  embedding: { model: string; version?: string; dims: number; normalized: boolean };
  seeds: number[];
  progress: ReturnType<typeof stagedProgress>;
  /** Writes `file` under --out atomically and records it. */
  write: (file: string, content: string) => Promise<void>;
  /** The SAE for a dataset: --sae, else the cached Table 1 SAE at K and seed (trained when missing). */
  saeFor: (
    dataset: EvalDataset,
    vectors: DatasetVectors,
    k: number,
    seed: number,
  ) => Promise<{ dir: string; plan?: SaeTrainingPlan }>;
}

async function runExperiment(args: CommandArgs, io: CommandIO): Promise<number> {
  const name = args.positionals[0] as ExperimentName | undefined;
  if (!name || !NAMES.includes(name)) {
    throw new UsageError(`experiment: name one of ${NAMES.join(', ')}${name ? `, not '${name}'` : ''}`);
  }
  const outArg = str(args, 'out');
  if (!outArg) throw new UsageError(`experiment ${name} needs --out <dir> for the Markdown and SVG files`);
  const out = resolve(io.cwd, outArg);
  const config = configFromArgs(args, io);
  const cacheDir = resolve(io.cwd, str(args, 'cache') ?? join(config.dataDir, 'experiments'));
  const quiet = args.values.json === true;
  const command = commandLine(name, args);
  const date = new Date();
  // NOTE: the commit and its uncommitted changes are read before the run writes anything: rewriting its own
  // results file (tracked in docs/results/) must not mark the code behind it as changed.
  const code = await codeOfThisRun();
  const epochs = positive(args, 'epochs');
  const latents = positive(args, 'latents');
  const saeArg = str(args, 'sae');
  const demoSae = fileURLToPath(new URL('sae/', DEMO_DIR));
  const needsTraining =
    name === 'perspectives'
      ? !saeArg && !existsSync(join(demoSae, 'manifest.json'))
      : !saeArg || name === 'table1' || name === 'kl' || name === 'controllability';
  const trainBackend = str(args, 'train-backend') ?? 'onnx';
  if (trainBackend !== 'onnx' && trainBackend !== 'wasm') {
    throw new UsageError(`experiment: --train-backend must be onnx or wasm, not '${trainBackend}'`);
  }
  const threads = positive(args, 'threads');
  // NOTE: the trainer's wasm backend must start before the default embedder loads its own TF.js.
  if (needsTraining)
    await prepareTrainer({ backend: trainBackend, ...(threads !== undefined ? { threads } : {}) });
  const embedder: Embedder = await createEmbedder(config.embedder, {
    cacheDir: join(config.dataDir, 'cache'),
  });
  const embedding = {
    model: embedder.id,
    ...(embedder.version !== undefined ? { version: embedder.version } : {}),
    dims: embedder.dims,
    normalized: embedder.normalized,
  };
  const seeds = seedList(args);
  const progress = stagedProgress(io, quiet);
  const written: string[] = [];
  const write = async (file: string, content: string) => {
    await writeFileAtomic(join(out, file), content, { mkdir: true });
    written.push(join(out, file));
  };
  /** The SAE for a dataset: --sae, else the cached Table 1 SAE at K and seed (trained when missing). */
  const saeFor = async (
    dataset: EvalDataset,
    vectors: DatasetVectors,
    k: number,
    seed: number,
  ): Promise<{ dir: string; plan?: SaeTrainingPlan }> => {
    if (saeArg) return { dir: resolve(io.cwd, saeArg) };
    const defaults = await defaultPlan(
      dataset.documents.length,
      vectors.leadQueries?.docIndex.length ?? 0,
      vectors.dims,
      k,
      seed,
      latents,
    );
    const plan: SaeTrainingPlan = {
      ...defaults,
      ...(epochs !== undefined ? { epochs } : {}),
    };
    const cached = await trainOrReuseSae(
      cacheDir,
      dataset.name,
      vectors.documents,
      embedding,
      plan,
      progress.update,
      vectors.leadQueries,
    );
    return { dir: cached.dir, plan };
  };
  const run: ExperimentRun = {
    args,
    io,
    name,
    out,
    config,
    cacheDir,
    quiet,
    command,
    date,
    code,
    epochs,
    latents,
    saeArg,
    demoSae,
    embedder,
    embedding,
    seeds,
    progress,
    write,
    saeFor,
  };
  let json: unknown;
  try {
    if (name === 'table1' || name === 'kl') json = await runTable1OrKl(run);
    else if (name === 'amplify' || name === 'frequency') json = await runAmplifyOrFrequency(run);
    else if (name === 'controllability') json = await runControllabilityExperiment(run);
    else json = await runPerspectivesExperiment(run);
  } finally {
    progress.finish();
  }
  if (quiet) printJson(io, { experiment: name, command, files: written, result: json });
  else io.stdout.write(`${written.map((f) => `wrote ${f}`).join('\n')}\n`);
  return 0;
}

/** Table 1 (retention of retrieval quality through the SAE) or the KL ablation, on the --dataset folders. */
async function runTable1OrKl(run: ExperimentRun): Promise<unknown> {
  const { args, io, name, cacheDir, quiet, command, date, code, epochs, embedder, seeds, progress, write } =
    run;
  const ks = kList(args, name === 'table1' ? [32, 64, 128] : [128]);
  const tooFew = ks.find((k) => run.latents !== undefined && k > run.latents);
  if (tooFew !== undefined) {
    throw new UsageError(
      `experiment: --latents ${run.latents} is fewer than K = ${tooFew}; give at least as many latents as the largest --k`,
    );
  }
  const datasets = await datasetsOf(args, io, name);
  const backend = await openLanceBackend(join(cacheDir, 'lance'));
  const options = {
    datasets,
    embedder,
    backend,
    cacheDir,
    ks,
    seeds,
    ...(epochs !== undefined ? { epochs } : {}),
    ...(run.latents !== undefined ? { nLatents: run.latents } : {}),
    onProgress: progress.update,
  };
  if (name === 'table1') {
    const result = await runTable1(options);
    await write('table1.md', renderTable1(result, command, date, code));
    if (!quiet) io.stdout.write(`${renderRetentionTable(result.entries)}\n`);
    return result;
  } else {
    const result = await runKlAblation(options);
    await write('kl.svg', renderKlSvg(result));
    await write('kl.md', renderKl(result, command, date, 'kl.svg', code));
    return result;
  }
}

/** The amplification study (concept search and judgments) or the feature-frequency plot, per dataset. */
async function runAmplifyOrFrequency(run: ExperimentRun): Promise<unknown> {
  const { args, io, name, command, date, code, saeArg, embedder, seeds, progress, write, saeFor } = run;
  const datasets = await datasetsOf(args, io, name);
  const [k] = kList(args, [32]);
  const sections: string[] = [];
  const results: unknown[] = [];
  for (const dataset of datasets) {
    const vectors = await embedDataset(dataset, embedder, progress.update);
    const svgName = `${name}-${dataset.name.replace(/[^\w.-]+/g, '_')}.svg`;
    if (name === 'frequency') {
      // One SAE per seed (the Table 1 SAEs at K); --sae gives one SAE.
      const perSeed: FrequencyResult[] = [];
      const plans: SaeTrainingPlan[] = [];
      for (const seed of saeArg ? [seeds[0]!] : seeds) {
        const { dir, plan } = await saeFor(dataset, vectors, k!, seed);
        if (plan) plans.push(plan);
        const sae = await loadSae(dir);
        try {
          perSeed.push(
            await runFrequency({
              corpus: dataset.name,
              documents: dataset.documents,
              documentVectors: vectors.documents,
              sae,
            }),
          );
        } finally {
          await sae.dispose();
        }
      }
      const header = provenanceBlock(command, date, {
        embedder: embedderLabel(embedder),
        datasets: datasetProvenance([dataset]),
        seeds: saeArg ? [] : seeds,
        plans,
        code,
      });
      await write(svgName, renderFrequencySvg(perSeed[0]!));
      sections.push(renderFrequency(perSeed, header, svgName));
      results.push(perSeed);
      continue;
    }
    const saeDir = (await saeFor(dataset, vectors, k!, seeds[0]!)).dir;
    const sae = await loadSae(saeDir);
    try {
      const inputs = {
        dataset,
        sae,
        documentVectors: vectors.documents,
        queryVectors: vectors.queries,
        queries: vectors.judgedQueries,
      };
      const catalog = await experimentCatalog(
        saeDir,
        sae,
        embedder,
        dataset.documents,
        progress.update,
        `label ${dataset.name}`,
      );
      try {
        const byConcept = await runAmplify({
          ...inputs,
          conceptSearch: async (text) => {
            const [best] = await catalog.searchFeatures(text, 1);
            return best && { feature: best.id, score: best.score };
          },
        });
        const byJudgments = await runAmplify(inputs);
        await write(svgName, renderAmplifySvg([byConcept, byJudgments]));
        sections.push(renderAmplify([byConcept, byJudgments], command, date, svgName, code));
        results.push(byConcept, byJudgments);
      } finally {
        await catalog.dispose();
      }
    } finally {
      await sae.dispose();
    }
  }
  await write(`${name}.md`, sections.join('\n'));
  return results;
}

/** Controllability on a topic-labelled corpus: the target topic's share of the top 10 before and after steering. */
async function runControllabilityExperiment(run: ExperimentRun): Promise<unknown> {
  const { args, io, cacheDir, command, date, code, epochs, embedder, progress, write } = run;
  const raw = args.values.dataset;
  const dataset = Array.isArray(raw) ? raw[0] : raw;
  if (typeof dataset !== 'string')
    throw new UsageError(
      'experiment controllability needs --dataset <dir> holding a topic-labelled corpus.jsonl',
    );
  const seeds = seedList(args);
  const result = await runControllabilityStudy({
    datasetDir: resolve(io.cwd, dataset),
    topicsPath: resolve(io.cwd, str(args, 'queries') ?? fileURLToPath(BBC_TOPICS_FILE)),
    seeds,
    perTopic: positive(args, 'per-topic') ?? 10,
    k: kList(args, [32])[0]!,
    epochs: epochs ?? 30,
    cacheDir,
    embedder,
    onProgress: progress.update,
  });
  await write('controllability.svg', renderControllabilitySvg(result.results));
  await write(
    'controllability.md',
    renderControllability(result.results, command, date, 'controllability.svg', result.note, code),
  );
  return result.results;
}

/** Perspectives on the demo corpus (or --corpus): which perspective the steered top results come from. */
async function runPerspectivesExperiment(run: ExperimentRun): Promise<unknown> {
  const { args, io, embedder, progress, write } = run;
  const corpusPath = resolve(io.cwd, str(args, 'corpus') ?? fileURLToPath(new URL('corpus.jsonl', DEMO_DIR)));
  const queriesPath = resolve(io.cwd, str(args, 'queries') ?? fileURLToPath(PERSPECTIVE_QUERIES_FILE));
  const passages = await loadLabelledCorpus(corpusPath);
  const queries = await loadPerspectiveQueries(queriesPath);
  const documentVectors = await embedTexts(
    embedder,
    passages.map((p) => (p.title ? `${p.title}. ${p.text}` : p.text)),
    'document',
    64,
    (done, total) => progress.update({ stage: 'embed corpus', done, total }),
  );
  const queryVectors = await embedTexts(
    embedder,
    queries.map((q) => q.query),
    'query',
  );
  let saeDir: string;
  let saeNote: string;
  if (run.saeArg) {
    saeDir = resolve(io.cwd, run.saeArg);
    saeNote = `given with --sae ${run.saeArg}`;
  } else if (existsSync(join(run.demoSae, 'manifest.json'))) {
    saeDir = run.demoSae;
    saeNote = 'the demo SAE shipped in packages/cli/demo/sae';
  } else {
    const defaults = await defaultPlan(
      passages.length,
      0,
      embedder.dims,
      kList(args, [32])[0]!,
      run.seeds[0]!,
      run.latents,
    );
    const plan: SaeTrainingPlan = {
      ...defaults,
      ...(run.epochs !== undefined ? { epochs: run.epochs } : {}),
    };
    saeDir = (
      await trainOrReuseSae(
        run.cacheDir,
        'demo-corpus',
        documentVectors,
        run.embedding,
        plan,
        progress.update,
      )
    ).dir;
    saeNote = `trained by this command on the demo corpus's passages: ${plan.nLatents} latents, up to ${plan.epochs} epochs, the default recipe (${plan.loss} loss, KL weight ${plan.kldWeight}, M = ${plan.neighbours}), seed ${plan.seed}`;
  }
  const sae = await loadSae(saeDir);
  const catalog = await experimentCatalog(
    saeDir,
    sae,
    embedder,
    passages.map((p) => ({ id: p.id, title: p.title, text: p.text })),
    progress.update,
  );
  try {
    const result = await runPerspectives({
      passages,
      documentVectors,
      queries,
      queryVectors,
      sae,
      catalog,
    });
    await write('perspectives.svg', renderPerspectivesSvg(result));
    await write(
      'perspectives.md',
      renderPerspectives(result, run.command, run.date, 'perspectives.svg', saeNote, run.code),
    );
    return result;
  } finally {
    await catalog.dispose();
    await sae.dispose();
  }
}
