// Shared pieces of the paper's experiments: embedding a dataset once, training (or reusing) a cached SAE on
// a dataset's documents only, and writing report files atomically with their provenance.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Embedder } from '@steer/embed';
import { machineInfo } from '@steer/onnx';
import type { SaeManifest } from '@steer/sae';
import type { EvalDataset } from '../datasets.js';
import { EvalError } from '../errors.js';
import { contentHash, embedderLabel } from '../provenance.js';
import { embedTexts } from '../run-eval.js';

/** Vectors of a dataset as evaluateSae embeds them: documents as `title. text`, judged queries only. */
export interface DatasetVectors {
  /** [documents, dims] */
  documents: Float32Array;
  /** [judgedQueries.length, dims] */
  queries: Float32Array;
  /** Every query of the dataset, judged or not, in `dataset.queries` order: [dataset.queries.length, dims]. */
  allQueries: Float32Array;
  judgedQueries: EvalDataset['queries'];
  dims: number;
  /**
   * Lead sentences (title, else first sentence) of the documents embedded as queries, for corpora under
   * {@link LEAD_QUERY_MAX_DOCUMENTS} documents: query-like text taken from the corpus itself (no test query, no
   * judgment), used as extra pseudo-queries in training. `docIndex[i]` is the document of row i of `vectors`.
   */
  leadQueries?: { vectors: Float32Array; docIndex: number[] };
}

/** Progress of a long experiment step, for a progress line on stderr. */
export interface ExperimentProgress {
  stage: string;
  done: number;
  total: number;
}

export type ProgressSink = (progress: ExperimentProgress) => void;

/** Text embedded for a document (`title. text`, as BEIR does): the catalog's definition. */
import { documentText } from '@steer/catalog';
export { documentText };

/**
 * Corpora smaller than this get lead-sentence pseudo-queries in training: with only documents, a small corpus gives
 * the SAE too little query-like text (Cranfield's queries were reconstructed with 82% of their variance unexplained).
 */
export const LEAD_QUERY_MAX_DOCUMENTS = 4000;

/** A document's title, else its first sentence (to the first period), at most 24 words; '' when empty. */
export function leadText(doc: { title?: string; text: string }): string {
  const source = doc.title?.trim() || doc.text.trim().split(/\s*\.(?:\s|$)/u)[0]!;
  return source.split(/\s+/u).filter(Boolean).slice(0, 24).join(' ');
}

/** Embeds a dataset's documents and judged queries (cache hits when the embedder is cached). */
export async function embedDataset(
  dataset: EvalDataset,
  embedder: Embedder,
  onProgress?: ProgressSink,
): Promise<DatasetVectors> {
  const judgedQueries = dataset.queries.filter((q) => dataset.qrels.has(q.id));
  const documents = await embedTexts(
    embedder,
    dataset.documents.map(documentText),
    'document',
    64,
    (done, total) => onProgress?.({ stage: `embed ${dataset.name} documents`, done, total }),
  );
  const allQueries = await embedTexts(
    embedder,
    dataset.queries.map((q) => q.text),
    'query',
    64,
    (done, total) => onProgress?.({ stage: `embed ${dataset.name} queries`, done, total }),
  );
  const dims = embedder.dims;
  const queries = new Float32Array(judgedQueries.length * dims);
  let row = 0;
  dataset.queries.forEach((q, i) => {
    if (dataset.qrels.has(q.id)) queries.set(allQueries.subarray(i * dims, (i + 1) * dims), row++ * dims);
  });
  if (dataset.documents.length >= LEAD_QUERY_MAX_DOCUMENTS) {
    return { documents, queries, allQueries, judgedQueries, dims };
  }
  const leads = dataset.documents.map(leadText);
  const docIndex = leads.flatMap((lead, i) => (lead ? [i] : []));
  const vectors = await embedTexts(
    embedder,
    docIndex.map((i) => leads[i]!),
    'query',
    64,
    (done, total) => onProgress?.({ stage: `embed ${dataset.name} lead sentences`, done, total }),
  );
  return { documents, queries, allQueries, judgedQueries, dims, leadQueries: { vectors, docIndex } };
}

/** How an experiment trains its SAEs: every choice that changes the weights (the rest are the trainer's defaults). */
export interface SaeTrainingPlan {
  nLatents: number;
  k: number;
  epochs: number;
  /** How the losses are scaled (the trainer's `loss`). */
  loss: 'scale-free' | 'paper';
  /** Weight of the KL loss in the plan's loss scale (0 = MSE-only ablation). */
  kldWeight: number;
  /** Candidate documents per pseudo-query (the paper's M). */
  neighbours: number;
  seed: number;
  /** Add the documents' lead sentences (embedded as queries) as pseudo-queries, each with its own document as relevant. */
  leadQueries: boolean;
}

/** The training seeds of every cell (mean ± sd over them). */
export const DEFAULT_SEEDS: readonly number[] = [0, 1, 2];

/**
 * The default plan for a corpus of `documents` vectors (plus `extraRows` lead-sentence pseudo-queries) of `dims`
 * dimensions: the trainer's defaults (latents and epochs from the data, the scale-free loss and its KL weight), M = 8.
 */
export async function defaultPlan(
  documents: number,
  extraRows: number,
  dims: number,
  k: number,
  seed: number,
  nLatents?: number,
): Promise<SaeTrainingPlan> {
  // NOTE: @steer/train loads TensorFlow.js on first use; importing it lazily keeps `steer` start-up fast.
  const { defaultLatents, defaultEpochs, DEFAULT_RELATIVE_KLD_WEIGHT } = await import('@steer/train');
  const latents = nLatents ?? defaultLatents(documents + extraRows, dims);
  const neighbours = 8;
  return {
    nLatents: latents,
    k,
    epochs: defaultEpochs(documents + extraRows, neighbours, { nLatents: latents, dModel: dims }),
    loss: 'scale-free',
    kldWeight: DEFAULT_RELATIVE_KLD_WEIGHT,
    neighbours,
    seed,
    leadQueries: extraRows > 0,
  };
}

/** What an SAE in the cache was made from: the plan, the vectors and the code. Its hash names the cache folder. */
export interface SaeCacheKey {
  dataset: string;
  plan: SaeTrainingPlan;
  /** The embedder's id and version. */
  embedder: string;
  /** Content hash of the document vectors (and of the lead-sentence vectors and their documents). */
  vectors: string;
  /** Hash of the trainer's compiled code (@steer/train codeVersion().trainer). */
  trainerCode: string;
  /** The compute backend that trained it (its numerics differ from the other backends'). */
  backend: ExperimentBackend;
}

/** Folder of the cached SAE for a key under `cacheDir`: readable choices, then a hash of the whole key. */
export function saeCacheDir(cacheDir: string, key: SaeCacheKey): string {
  const safe = key.dataset.replace(/[^\w.-]+/g, '_');
  const { plan } = key;
  const digest = contentHash(JSON.stringify(key));
  return join(
    cacheDir,
    'sae',
    `${safe}-k${plan.k}-n${plan.nLatents}-${plan.loss}-kld${plan.kldWeight}-seed${plan.seed}-${digest}`,
  );
}

/** A trained (or reused) SAE: its folder, manifest, and whether this call trained it. */
export interface CachedSae {
  dir: string;
  manifest: SaeManifest;
  trained: boolean;
  /** Seconds of training recorded by the trainer (summed over its epochs; 0 when unknown). */
  seconds: number;
  key: SaeCacheKey;
}

/**
 * Trains an SAE on the corpus only: the DOCUMENT vectors (documents stand in as pseudo-queries for the KL loss)
 * plus, when `plan.leadQueries`, the documents' lead sentences as extra pseudo-queries. No test query or judgment is
 * seen. Reuses the SAE cached for the same key (dataset, plan, embedder, vectors, trainer code); an entry whose
 * manifest records another key is trained again, never reused. Training runs on the backend {@link prepareTrainer}
 * started (onnx unless told otherwise) and resumes an
 * interrupted run from its checkpoint.
 * @throws TrainError from the trainer; EvalError `experiment_cache` when the cache folder cannot be written, or
 * `experiment_input` when the plan wants lead-sentence queries and none are given.
 */
export async function trainOrReuseSae(
  cacheDir: string,
  datasetName: string,
  documents: Float32Array,
  embedding: { model: string; version?: string; dims: number; normalized: boolean },
  plan: SaeTrainingPlan,
  onProgress?: ProgressSink,
  leadQueries?: DatasetVectors['leadQueries'],
): Promise<CachedSae> {
  if (plan.leadQueries && !leadQueries) {
    throw new EvalError(
      `experiment: the SAE plan for ${datasetName} uses lead-sentence pseudo-queries but none were given; pass the vectors embedDataset returns`,
      'experiment_input',
    );
  }
  // NOTE: @steer/train loads TensorFlow.js on first use; importing it lazily keeps `steer` start-up fast.
  const { train, codeVersion } = await import('@steer/train');
  const code = codeVersion();
  const leads = plan.leadQueries && leadQueries ? leadQueries : undefined;
  const key: SaeCacheKey = {
    dataset: datasetName,
    plan,
    embedder: embedderLabel({ id: embedding.model, version: embedding.version }),
    vectors: leads ? contentHash(documents, leads.vectors, leads.docIndex.join(',')) : contentHash(documents),
    trainerCode: code.trainer,
    backend: trainerSetup.backend,
  };
  const dir = saeCacheDir(cacheDir, key);
  const manifestPath = join(dir, 'manifest.json');
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as SaeManifest;
    if (JSON.stringify(manifest.training?.cacheKey) === JSON.stringify(key)) {
      return { dir, manifest, trained: false, seconds: await recordedTrainingSeconds(dir), key };
    }
    // Made from something else (a copied folder, an edited manifest): never reuse it.
    await rm(dir, { recursive: true, force: true });
    await rm(`${dir}.train`, { recursive: true, force: true });
  }
  try {
    await mkdir(dirname(dir), { recursive: true });
  } catch (error) {
    throw new EvalError(
      `experiment: cannot create the SAE cache ${dirname(dir)} (${(error as Error).message}); pass a writable --cache folder`,
      'experiment_cache',
    );
  }
  await train(
    {
      dModel: embedding.dims,
      docs: documents,
      ...(leads ? { queries: leads.vectors, relevant: leads.docIndex.map((d) => [d]) } : {}),
    },
    {
      nLatents: plan.nLatents,
      k: plan.k,
      epochs: plan.epochs,
      loss: plan.loss,
      kldWeight: plan.kldWeight,
      neighbours: plan.neighbours,
      seed: plan.seed,
      pseudoQueries: 'on',
      backend: trainerSetup.backend,
      ...(trainerSetup.threads !== undefined ? { threads: trainerSetup.threads } : {}),
      resume: true,
      out: dir,
      embedding: {
        model: embedding.model,
        dims: embedding.dims,
        normalized: embedding.normalized,
        ...(embedding.version !== undefined ? { version: embedding.version } : {}),
      },
      provenance: { cacheKey: key, machine: machineInfo() },
      onEvent: (event) => {
        if (event.type === 'progress' && event.phase === 'train') {
          onProgress?.({
            stage: `train ${datasetName} K=${plan.k} kld=${plan.kldWeight} seed=${plan.seed}`,
            done: event.done,
            total: event.total,
          });
        }
      },
    },
  );
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as SaeManifest;
  return { dir, manifest, trained: true, seconds: await recordedTrainingSeconds(dir), key };
}

/** Seconds of training recorded in the trainer's metrics.jsonl beside an SAE (0 when absent). */
async function recordedTrainingSeconds(dir: string): Promise<number> {
  try {
    const lines = (await readFile(`${dir}.train/metrics.jsonl`, 'utf8'))
      .split('\n')
      .filter((l) => l.trim() !== '');
    return lines.reduce((sum, line) => sum + ((JSON.parse(line) as { seconds?: number }).seconds ?? 0), 0);
  } catch {
    return 0;
  }
}

/** The compute backends experiments train on: onnxruntime on the CPU (default, several times faster), or TF.js wasm. */
export type ExperimentBackend = 'onnx' | 'wasm';

/** How experiments train: backend (part of the SAE cache key) and onnx threads (results do not depend on them). */
const trainerSetup: { backend: ExperimentBackend; threads: number | undefined } = {
  backend: 'onnx',
  threads: undefined,
};

/**
 * Starts the trainer's backend for the experiments of this process: `onnx` (default) on `threads` threads (default
 * every core), or `wasm`. Call it before creating the default (USE lite) embedder in a process that will train: the
 * embedder bundles its own TF.js, so the trainer's backend must claim the process-wide TF.js engine first (the
 * reason and the one owner of that engine: packages/train/src/backend/tf-engine.ts). @throws TrainError
 * `backend_unavailable`.
 */
export async function prepareTrainer(
  options: { backend?: ExperimentBackend; threads?: number } = {},
): Promise<void> {
  const { useBackend } = await import('@steer/train');
  trainerSetup.backend = options.backend ?? 'onnx';
  trainerSetup.threads = options.threads;
  await useBackend(trainerSetup.backend);
}

/**
 * The code behind a report: git commit (with `dirty` when tracked files differed) and the trainer's code hash; and
 * the machine that ran it (@steer/onnx formatMachine), since the same code can round differently on another CPU.
 */
export interface ReportCode {
  commit: string;
  dirty: boolean;
  trainer: string;
  machine?: string;
}

/** The provenance line every report starts with; with `code`, the commit and trainer code that produced it. */
export function provenance(command: string, date: Date, code?: ReportCode): string {
  const when = date.toISOString().slice(0, 16).replace('T', ' ');
  if (!code) return `Produced by \`${command}\` on ${when} UTC.`;
  const commit = `${code.commit.slice(0, 12)}${code.dirty ? ' (with uncommitted changes)' : ''}`;
  const machine = code.machine !== undefined ? ` Machine: ${code.machine}.` : '';
  return `Produced by \`${command}\` on ${when} UTC, at commit ${commit} (trainer code ${code.trainer}).${machine}`;
}
