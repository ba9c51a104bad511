// `steer train`: trains a TopK SAE (MSE + retrieval KL, AuxK, unit-norm decoder) on embeddings or on a corpus
// embedded on the fly, with checkpoints, --resume, and export to the SAE format the runtime loads.
import { access, readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createEmbedder } from '@steer/embed';
import { machineInfo } from '@steer/onnx';
import {
  BACKEND_ORDER,
  TrainError,
  createProgressReporter,
  isolatedTfWorker,
  loadQrels,
  concatSources,
  openVectorFiles,
  openVectors,
  train,
  type BackendName,
  type BiasInit,
  type NeighbourMethod,
  type OpenedVectors,
  type TrainOptions,
  type VectorSource,
} from '@steer/train';
import type { Command, CommandArgs, CommandIO } from '../command.js';
import { UsageError } from '../command.js';
import { documentText, readCorpus } from '../corpus.js';
import { embedAll } from '../embedding.js';
import { copyFromIndex } from '../index-source.js';
import { configFromArgs, printJson } from '../options.js';
import { createProgress } from '../progress.js';

const USAGE =
  'steer train (--embeddings <file.npy|file.jsonl|dir of .npy shards> | --corpus <corpus.jsonl> [--embedder default|onnx:<dir>] | ' +
  '--from-index <name> [--vector-field f] [--index-backend embedded|elasticsearch] [--page-size 1000]) ' +
  '--k K --out <dir> [--latents N] [--epochs E] [--loss scale-free|paper] [--kld-weight w] [--temperature T] ' +
  '[--batch 512] [--neighbours 8] [--queries <file>] [--qrels <qrels.tsv>] [--neighbour-search auto|exact|ivf] ' +
  '[--neighbour-recall 0.9] [--checkpoint-every <steps>] [--eval-rows N] [--lr 0.001] [--aux-k d/2] [--seed 0] ' +
  '[--backend auto|cuda|webgpu|onnx|wasm|cpu] [--threads N] [--resume] [--json]';

/**
 * Codes of TrainError about the flags or input files, re-raised as the command's UsageError; the rest (a damaged
 * checkpoint, a diverged loss) stay TrainErrors, which the CLI maps by their kind like every SteerError.
 */
const USAGE_CODES = new Set([
  'bad_config',
  'bad_input',
  'file_unreadable',
  'backend_unavailable',
  'checkpoint_mismatch',
]);

function str(args: CommandArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

function integer(args: CommandArgs, name: string, min: number): number | undefined {
  const raw = str(args, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`train: --${name} must be a whole number >= ${min}, not '${raw}'`);
  }
  return value;
}

function real(args: CommandArgs, name: string, min: number): number | undefined {
  const raw = str(args, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min)
    throw new UsageError(`train: --${name} must be a number >= ${min}, not '${raw}'`);
  return value;
}

function choice<T extends string>(args: CommandArgs, name: string, allowed: readonly T[]): T | undefined {
  const raw = str(args, name);
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new UsageError(`train: --${name} must be one of ${allowed.join(', ')}, not '${raw}'`);
  }
  return raw as T;
}

/** --page-size: documents per request to the index, at most Elasticsearch's 10,000 hits a search. */
function pageSize(args: CommandArgs): number | undefined {
  const size = integer(args, 'page-size', 1);
  if (size !== undefined && size > 10_000) {
    throw new UsageError(
      `train: --page-size must be at most 10000 (Elasticsearch's hits a search), not ${size}`,
    );
  }
  return size;
}

function required(value: number | undefined, name: string): number {
  if (value === undefined) throw new UsageError(`train: --${name} is required; usage: ${USAGE}`);
  return value;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Row ids of vectors: the JSONL file's own ids, else `<file>.ids.json` (written by `steer embed`) when present, else
 * the row numbers.
 */
async function vectorIds(path: string, opened: OpenedVectors): Promise<string[]> {
  if (opened.ids) return opened.ids;
  const rows = opened.source.rows;
  const sidecar = `${path}.ids.json`;
  if (!(await exists(sidecar))) return Array.from({ length: rows }, (_, r) => String(r));
  const ids = JSON.parse(await readFile(sidecar, 'utf8')) as unknown;
  if (!Array.isArray(ids) || ids.length !== rows) {
    throw new UsageError(`train: ${sidecar} must be a JSON array of ${rows} ids (one per vector)`);
  }
  return ids.map(String);
}

/** The model `steer embed` recorded beside a vector file (`<file>.model.json`), when there is one. */
async function recordedModel(path: string): Promise<{ model: string; version?: string } | undefined> {
  const sidecar = `${path}.model.json`;
  if (!(await exists(sidecar))) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(sidecar, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `train: ${sidecar} is not valid JSON (${(error as Error).message}); fix or delete it`,
    );
  }
  const { model, version } = (parsed ?? {}) as { model?: unknown; version?: unknown };
  if (typeof model !== 'string' || (version !== undefined && typeof version !== 'string')) {
    throw new UsageError(
      `train: ${sidecar} must be {"model": "<id>", "version": "<version>"}; fix or delete it`,
    );
  }
  return { model, ...(typeof version === 'string' ? { version } : {}) };
}

/** Whether the first 1,000 rows have unit length (recorded in the SAE manifest). */
function isUnitNorm(source: VectorSource): boolean {
  const rows = Math.min(source.rows, 1000);
  const data = source.readRange(0, rows);
  for (let r = 0; r < rows; r++) {
    let norm = 0;
    for (let c = 0; c < source.dims; c++) norm += data[r * source.dims + c]! ** 2;
    if (Math.abs(Math.sqrt(norm) - 1) > 1e-3) return false;
  }
  return true;
}

interface Inputs {
  docs: Float32Array | VectorSource;
  queries?: Float32Array | VectorSource;
  relevant?: number[][];
  dims: number;
  embedding: TrainOptions['embedding'];
  note: string;
}

async function inputsFromEmbeddings(args: CommandArgs, io: CommandIO, path: string): Promise<Inputs> {
  const file = resolve(io.cwd, path);
  const docs = await openVectors(file, 'embeddings');
  const dims = docs.source.dims;
  let queries: OpenedVectors | undefined;
  const queriesPath = str(args, 'queries');
  const qFile = queriesPath !== undefined ? resolve(io.cwd, queriesPath) : undefined;
  if (qFile !== undefined) {
    queries = await openVectors(qFile, 'query embeddings');
    if (queries.source.dims !== dims) {
      throw new UsageError(
        `train: query embeddings have ${queries.source.dims} dims but the document embeddings have ${dims}; embed both with one model`,
      );
    }
  }
  // Ids are only needed to match judgments; a million of them are not read otherwise.
  const relevant =
    str(args, 'qrels') !== undefined
      ? await relevanceLists(
          args,
          io,
          await vectorIds(file, docs),
          queries && qFile ? await vectorIds(qFile, queries) : [],
        )
      : undefined;
  const recorded = await recordedModel(file);
  const model = str(args, 'embedding-model') ?? recorded?.model ?? 'unknown';
  const version = recorded?.model === model ? recorded.version : undefined;
  return {
    docs: docs.source,
    ...(queries ? { queries: queries.source } : {}),
    ...(relevant ? { relevant } : {}),
    dims,
    embedding: {
      model,
      ...(version !== undefined ? { version } : {}),
      dims,
      normalized: isUnitNorm(docs.source),
    },
    note: `${docs.source.rows} document vectors${queries ? `, ${queries.source.rows} query vectors` : ''} of ${dims} dims (${docs.source.description})`,
  };
}

/** What the embedding worker is asked to do. */
interface EmbedJob {
  spec: string;
  cacheDir: string;
  docs: string[];
  queries: string[];
}

/** Messages from the embedding worker. */
type EmbedMessage =
  | { type: 'progress'; done: number; total: number }
  | {
      type: 'done';
      id: string;
      version?: string;
      dims: number;
      normalized: boolean;
      docs: Float32Array;
      queries: Float32Array;
    }
  | { type: 'error'; name: string; message: string };

// NOTE: the default embedder bundles its own TF.js, which would claim the process-wide TF.js engine before the
// trainer's (the reason and the owner: packages/train/src/backend/tf-engine.ts). Embedding therefore runs in the
// worker thread isolatedTfWorker gives it; this module is that worker's entry too.
async function embedInWorker(job: EmbedJob): Promise<void> {
  const port = parentPort!;
  try {
    const embedder = await createEmbedder(job.spec, { cacheDir: job.cacheDir });
    try {
      const progress = {
        update: (done: number, total?: number) =>
          port.postMessage({ type: 'progress', done, total: total ?? done }),
        finish: () => {},
      };
      const docs = await embedAll(embedder, job.docs, 64, progress);
      const queries = new Float32Array(job.queries.length * embedder.dims);
      for (let start = 0; start < job.queries.length; start += 64) {
        const batch = job.queries.slice(start, start + 64);
        queries.set(await embedder.embed(batch, { kind: 'query' }), start * embedder.dims);
      }
      const message: EmbedMessage = {
        type: 'done',
        id: embedder.id,
        ...(embedder.version !== undefined ? { version: embedder.version } : {}),
        dims: embedder.dims,
        normalized: embedder.normalized,
        docs,
        queries,
      };
      port.postMessage(message, [docs.buffer as ArrayBuffer, queries.buffer as ArrayBuffer]);
    } finally {
      await embedder.dispose();
    }
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    port.postMessage({ type: 'error', name: e.name, message: e.message } satisfies EmbedMessage);
  }
}

if (!isMainThread && (workerData as { steerTrainEmbed?: EmbedJob } | null)?.steerTrainEmbed) {
  await embedInWorker((workerData as { steerTrainEmbed: EmbedJob }).steerTrainEmbed);
}

function embedTexts(
  job: EmbedJob,
  onProgress: (done: number, total: number) => void,
): Promise<Extract<EmbedMessage, { type: 'done' }>> {
  return new Promise((resolvePromise, reject) => {
    const worker = isolatedTfWorker(new URL(import.meta.url), { steerTrainEmbed: job });
    let settled = false;
    worker.on('message', (message: EmbedMessage) => {
      if (message.type === 'progress') onProgress(message.done, message.total);
      else {
        settled = true;
        if (message.type === 'done') resolvePromise(message);
        // Embedder errors are about the input or the environment (unknown spec, missing model files).
        else
          reject(
            message.name === 'EmbedError' ? new UsageError(message.message) : new Error(message.message),
          );
      }
    });
    worker.on('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`train: the embedding worker exited with code ${code}`));
    });
  });
}

/**
 * The stored vectors of an index, copied (resumably) into `<state dir>/index-copy/` and streamed from there: nothing
 * is re-embedded.
 */
async function inputsFromIndex(
  args: CommandArgs,
  io: CommandIO,
  index: string,
  stateDir: string,
  resume: boolean,
): Promise<Inputs> {
  // NOTE: --backend here is the compute backend; --index-backend picks the store (else the configuration's).
  const config = configFromArgs(
    { positionals: [], values: { ...args.values, backend: str(args, 'index-backend') } },
    io,
  );
  const vectorField = str(args, 'vector-field');
  const copy = await copyFromIndex(io, config, {
    index,
    ...(vectorField !== undefined ? { vectorField } : {}),
    dir: join(stateDir, 'index-copy'),
    pageSize: pageSize(args),
    resume,
    quiet: args.values.json === true,
  });
  const parts = [];
  for (const part of copy.parts) parts.push(await openVectorFiles(part, `index '${index}'`));
  const docs = concatSources(parts, `index '${index}' (${copy.dir})`);
  if (str(args, 'queries') !== undefined || str(args, 'qrels') !== undefined) {
    throw new UsageError(
      'train: --from-index trains on the documents of the index; --queries and --qrels go with --embeddings',
    );
  }
  const model = str(args, 'embedding-model') ?? copy.embeddingModel ?? 'unknown';
  return {
    docs,
    dims: copy.dims,
    embedding: { model, dims: copy.dims, normalized: isUnitNorm(docs) },
    note: `${copy.rows} stored vectors of ${copy.dims} dims from ${config.backend === 'elasticsearch' ? 'Elasticsearch' : 'the embedded store'} index '${index}'`,
  };
}

async function inputsFromCorpus(args: CommandArgs, io: CommandIO, path: string): Promise<Inputs> {
  // NOTE: --backend here is the compute backend, not the search backend that configFromArgs validates.
  const config = configFromArgs({ positionals: [], values: { ...args.values, backend: undefined } }, io);
  const corpus = await readCorpus(resolve(io.cwd, path));
  const queriesPath = str(args, 'queries');
  const queryDocs = queriesPath !== undefined ? await readCorpus(resolve(io.cwd, queriesPath)) : [];
  const progress = createProgress(io, 'embed', { quiet: args.values.json === true });
  const embedded = await embedTexts(
    {
      spec: config.embedder,
      cacheDir: join(config.dataDir, 'cache'),
      docs: corpus.map(documentText),
      queries: queryDocs.map((q) => q.text),
    },
    (done, total) => progress.update(done, total),
  );
  progress.finish(`${corpus.length} documents embedded with ${embedded.id}`);
  const relevant = await relevanceLists(
    args,
    io,
    corpus.map((d) => d.id),
    queryDocs.map((q) => q.id),
  );
  return {
    docs: embedded.docs,
    ...(queryDocs.length > 0 ? { queries: embedded.queries } : {}),
    ...(relevant ? { relevant } : {}),
    dims: embedded.dims,
    embedding: {
      model: embedded.id,
      ...(embedded.version !== undefined ? { version: embedded.version } : {}),
      dims: embedded.dims,
      normalized: embedded.normalized,
    },
    note: `${corpus.length} documents${queryDocs.length ? ` and ${queryDocs.length} queries` : ''} embedded with ${embedded.id}`,
  };
}

/** Judged relevant documents per query (grade > 0), by id; queries without judgments get an empty list. */
async function relevanceLists(
  args: CommandArgs,
  io: CommandIO,
  docIds: readonly string[],
  queryIds: readonly string[],
): Promise<number[][] | undefined> {
  const qrelsPath = str(args, 'qrels');
  if (qrelsPath === undefined) return undefined;
  if (queryIds.length === 0) throw new UsageError('train: --qrels needs --queries (the judged queries)');
  const docIndex = new Map(docIds.map((id, i) => [id, i]));
  const queryIndex = new Map(queryIds.map((id, i) => [id, i]));
  const lists: number[][] = queryIds.map(() => []);
  let used = 0;
  for (const qrel of await loadQrels(resolve(io.cwd, qrelsPath))) {
    const q = queryIndex.get(qrel.queryId);
    const doc = docIndex.get(qrel.docId);
    if (q === undefined || doc === undefined || qrel.grade <= 0) continue;
    lists[q]!.push(doc);
    used++;
  }
  if (used === 0) {
    throw new UsageError(
      `train: no judgment in ${qrelsPath} names both a known query and a known document; check that the ids match the files' ids`,
    );
  }
  return lists;
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a TopK sparse autoencoder on embeddings (MSE + retrieval KL) and export it',
  usage: USAGE,
  options: {
    embeddings: { type: 'string' },
    corpus: { type: 'string' },
    'from-index': { type: 'string' },
    'vector-field': { type: 'string' },
    'index-backend': { type: 'string' },
    'page-size': { type: 'string' },
    queries: { type: 'string' },
    qrels: { type: 'string' },
    embedder: { type: 'string' },
    'data-dir': { type: 'string' },
    'embedding-model': { type: 'string' },
    latents: { type: 'string' },
    loss: { type: 'string' },
    k: { type: 'string' },
    'kld-weight': { type: 'string' },
    neighbours: { type: 'string' },
    'query-weight': { type: 'string' },
    temperature: { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    'aux-k': { type: 'string' },
    'aux-coef': { type: 'string' },
    'dead-after': { type: 'string' },
    'unit-norm': { type: 'string' },
    'encoder-init': { type: 'string' },
    'bias-init': { type: 'string' },
    'pseudo-queries': { type: 'string' },
    'neighbour-search': { type: 'string' },
    'neighbour-recall': { type: 'string' },
    'checkpoint-every': { type: 'string' },
    'eval-rows': { type: 'string' },
    validation: { type: 'string' },
    patience: { type: 'string' },
    plateau: { type: 'string' },
    'anneal-epochs': { type: 'string' },
    'max-steps': { type: 'string' },
    seed: { type: 'string' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    out: { type: 'string', short: 'o' },
    'state-dir': { type: 'string' },
    resume: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(args, io) {
    const embeddingsPath = str(args, 'embeddings');
    const corpusPath = str(args, 'corpus');
    const fromIndex = str(args, 'from-index');
    if ([embeddingsPath, corpusPath, fromIndex].filter((v) => v !== undefined).length !== 1) {
      throw new UsageError(
        `train: give exactly one of --embeddings, --corpus or --from-index; usage: ${USAGE}`,
      );
    }
    const out = str(args, 'out');
    if (out === undefined) throw new UsageError(`train: --out <dir> is required; usage: ${USAGE}`);
    const json = args.values.json === true;
    const onOff = choice(args, 'unit-norm', ['on', 'off'] as const);
    const encoderInit = choice(args, 'encoder-init', ['decoder', 'random'] as const);
    const options: Omit<TrainOptions, 'embedding'> = {
      nLatents: integer(args, 'latents', 1),
      k: required(integer(args, 'k', 1), 'k'),
      epochs: integer(args, 'epochs', 1),
      loss: choice(args, 'loss', ['scale-free', 'paper'] as const),
      out: isAbsolute(out) ? out : resolve(io.cwd, out),
      batch: integer(args, 'batch', 1),
      lr: real(args, 'lr', Number.MIN_VALUE),
      kldWeight: real(args, 'kld-weight', 0),
      neighbours: integer(args, 'neighbours', 0),
      queryWeight: real(args, 'query-weight', Number.MIN_VALUE),
      temperature: real(args, 'temperature', Number.MIN_VALUE),
      auxK: integer(args, 'aux-k', 0),
      auxCoef: real(args, 'aux-coef', 0),
      deadAfterRows: integer(args, 'dead-after', 1),
      unitNormDecoder: onOff === undefined ? undefined : onOff === 'on',
      encoderFromDecoder: encoderInit === undefined ? undefined : encoderInit === 'decoder',
      biasInit: choice<BiasInit>(args, 'bias-init', ['geometric-median', 'mean', 'zero']),
      pseudoQueries: choice(args, 'pseudo-queries', ['auto', 'on', 'off'] as const),
      neighbourSearch: choice<NeighbourMethod>(args, 'neighbour-search', ['auto', 'exact', 'ivf']),
      neighbourRecall: real(args, 'neighbour-recall', Number.MIN_VALUE),
      checkpointEvery: integer(args, 'checkpoint-every', 1),
      evaluationRows: integer(args, 'eval-rows', 1),
      validationFraction: real(args, 'validation', 0),
      patience: integer(args, 'patience', 0),
      plateau: choice(args, 'plateau', ['anneal', 'stop'] as const),
      annealEpochs: integer(args, 'anneal-epochs', 1),
      maxSteps: integer(args, 'max-steps', 1),
      seed: integer(args, 'seed', 0),
      backend: choice<BackendName | 'auto'>(args, 'backend', ['auto', ...BACKEND_ORDER]),
      threads: integer(args, 'threads', 1),
      stateDir: str(args, 'state-dir') !== undefined ? resolve(io.cwd, str(args, 'state-dir')!) : undefined,
      resume: args.values.resume === true,
      ...(json ? {} : { onEvent: createProgressReporter(io.stderr, io.interactive) }),
    };
    let inputs: Inputs | undefined;
    try {
      inputs =
        embeddingsPath !== undefined
          ? await inputsFromEmbeddings(args, io, embeddingsPath)
          : fromIndex !== undefined
            ? await inputsFromIndex(
                args,
                io,
                fromIndex,
                options.stateDir ?? `${options.out}.train`,
                options.resume === true,
              )
            : await inputsFromCorpus(args, io, corpusPath!);
      if (!json) io.stderr.write(`train: ${inputs.note}\n`);
      const result = await train(
        {
          dModel: inputs.dims,
          docs: inputs.docs,
          ...(inputs.queries ? { queries: inputs.queries } : {}),
          ...(inputs.relevant ? { relevant: inputs.relevant } : {}),
        },
        { ...options, embedding: inputs.embedding, provenance: { machine: machineInfo() } },
      );
      if (json) {
        printJson(io, {
          sae: result.sae,
          nLatents: result.nLatents,
          mse: result.mse,
          deadFraction: result.deadFraction,
          stepsPerSecond: result.stepsPerSecond,
          backend: result.backend.name,
        });
      } else {
        io.stdout.write(
          `trained ${result.nLatents} latents for ${result.steps} steps on ${result.backend.name} (${result.stepsPerSecond.toFixed(2)} steps/s): ` +
            `mse ${result.mse.toPrecision(4)}, dead latents ${(100 * result.deadFraction).toFixed(1)}% -> ${result.sae}\n`,
        );
      }
      return 0;
    } catch (error) {
      if (error instanceof TrainError && USAGE_CODES.has(error.code))
        throw new UsageError(error.message, { cause: error });
      throw error;
    } finally {
      for (const vectors of [inputs?.docs, inputs?.queries]) {
        if (vectors !== undefined && !(vectors instanceof Float32Array)) vectors.close();
      }
    }
  },
};
