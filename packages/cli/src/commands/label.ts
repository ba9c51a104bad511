// `steer label`: builds the feature catalog of an SAE over a corpus (statistics, keyword labels, token
// evidence, optional LLM labels) and stores it in `<sae dir>/catalog/`.
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  buildCatalog,
  llmConfigFromEnv,
  type BuildStage,
  type CorpusDocument,
  type LlmConfig,
} from '@steer/catalog';
import type { SteerConfig } from '@steer/engine';
import { createEmbedder, readNpy } from '@steer/embed';
import { loadSae, type SaeRuntime } from '@steer/sae';
import type { Command, CommandArgs, CommandIO } from '../command.js';
import { UsageError } from '../command.js';
import { readCorpus } from '../corpus.js';
import { copyFromIndex } from '../index-source.js';
import { configFromArgs, configOptions, intOption, jsonOption, printJson } from '../options.js';
import { createProgress, type Progress } from '../progress.js';

/** The documents to label: from a corpus file, or the ids, texts and stored vectors of an index. */
interface LabelInput {
  documents: CorpusDocument[];
  vectors?: Float32Array;
  corpus: { path: string; sha256?: string };
  /** Removes what reading the input left behind once the catalog is written. */
  cleanup(): Promise<void>;
}

async function inputFromCorpus(args: CommandArgs, io: CommandIO, corpusArg: string): Promise<LabelInput> {
  const corpusPath = resolve(io.cwd, corpusArg);
  let documents = await readCorpus(corpusPath);
  if (args.values.limit !== undefined)
    documents = documents.slice(0, intOption(args, 'limit', documents.length));
  const sha256 = createHash('sha256')
    .update(await readFile(corpusPath))
    .digest('hex');
  return { documents, corpus: { path: corpusPath, sha256 }, cleanup: async () => {} };
}

/**
 * Reads an index's ids, texts (`--text-field`) and stored vectors through a resumable local copy in the data folder;
 * an index whose vectors do not fit the SAE is refused before anything is copied.
 */
async function inputFromIndex(
  args: CommandArgs,
  io: CommandIO,
  config: SteerConfig,
  sae: SaeRuntime,
  index: string,
): Promise<LabelInput> {
  const textField = args.values['text-field'] as string | undefined;
  if (textField === undefined) {
    throw new UsageError(
      `label: --from-index ${index} needs --text-field <field>, the field holding each document's text`,
    );
  }
  const vectorField = args.values['vector-field'] as string | undefined;
  const key = [config.backend, index, vectorField ?? 'vector', textField]
    .join('-')
    .replace(/[^A-Za-z0-9_.-]/g, '_');
  const dir = join(config.dataDir, 'index-copies', key);
  const { manifest } = sae;
  const copy = await copyFromIndex(io, config, {
    index,
    textField,
    ...(vectorField !== undefined ? { vectorField } : {}),
    dir,
    pageSize: intOption(args, 'page-size', 1000, 10_000),
    // A killed label run left its copy here; it continues from there.
    resume: true,
    quiet: args.values.json === true,
    check: (reader) => {
      if (reader.dims !== manifest.dModel) {
        throw new UsageError(
          `label: index '${index}' field '${reader.vectorField}' holds ${reader.dims}-dim vectors but SAE ${manifest.id} expects ${manifest.dModel} (${manifest.embedding.model}); label with the SAE trained on this index's embeddings`,
        );
      }
    },
  });
  const [ids, texts] = [await copy.ids(), await copy.texts()];
  let documents: CorpusDocument[] = ids.map((id, i) => ({ id, text: texts[i]! }));
  let vectors = new Float32Array(copy.rows * copy.dims);
  let offset = 0;
  for (const part of copy.parts) {
    const { data } = await readNpy(part);
    vectors.set(data, offset);
    offset += data.length;
  }
  if (args.values.limit !== undefined) {
    const limit = intOption(args, 'limit', documents.length);
    documents = documents.slice(0, limit);
    vectors = vectors.subarray(0, documents.length * copy.dims);
  }
  return {
    documents,
    vectors,
    corpus: {
      path: `${config.backend === 'elasticsearch' ? 'elasticsearch' : 'lancedb'}:${index}/${textField}`,
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export const labelCommand: Command = {
  name: 'label',
  summary:
    'Build the feature catalog of an SAE over a corpus: statistics, labels, evidence (stored beside the SAE)',
  usage:
    'steer label --sae <dir> (--corpus <corpus.jsonl> | --from-index <name> --text-field <field> [--vector-field <field>] [--page-size 1000]) [--top-docs 10] [--feedback-docs 20000 | --no-feedback] [--evidence-features 10] [--evidence-docs 2] ' +
    '[--no-evidence] [--limit <docs>] [--llm-url <base url> --llm-model <model>] [--llm-features <n>] [--force] [--batch 64] [--json]',
  options: {
    ...jsonOption,
    ...configOptions,
    corpus: { type: 'string', short: 'c' },
    'from-index': { type: 'string' },
    'text-field': { type: 'string' },
    'vector-field': { type: 'string' },
    'page-size': { type: 'string' },
    'top-docs': { type: 'string' },
    'feedback-docs': { type: 'string' },
    'no-feedback': { type: 'boolean' },
    'evidence-features': { type: 'string' },
    'evidence-docs': { type: 'string' },
    'no-evidence': { type: 'boolean' },
    limit: { type: 'string' },
    'llm-url': { type: 'string' },
    'llm-model': { type: 'string' },
    'llm-features': { type: 'string' },
    force: { type: 'boolean' },
    batch: { type: 'string' },
  },
  async run(args, io) {
    const config = configFromArgs(args, io);
    if (!config.sae)
      throw new UsageError('label needs --sae <dir> (or "sae" in steer.config.json, or STEER_SAE)');
    const corpusArg = args.values.corpus as string | undefined;
    const fromIndex = args.values['from-index'] as string | undefined;
    if ((corpusArg === undefined) === (fromIndex === undefined))
      throw new UsageError(
        'label needs --corpus <corpus.jsonl> (BEIR JSONL: {"_id", "title", "text"} per line) or --from-index <name> --text-field <field>',
      );
    const cacheDir = join(config.dataDir, 'cache');

    const llmUrl = args.values['llm-url'] as string | undefined;
    const llmModel = args.values['llm-model'] as string | undefined;
    let llm: (LlmConfig & { maxFeatures?: number }) | undefined = llmConfigFromEnv(
      {
        ...io.env,
        ...(llmUrl ? { STEER_LLM_BASE_URL: llmUrl } : {}),
        ...(llmModel ? { STEER_LLM_MODEL: llmModel } : {}),
      },
      join(cacheDir, 'llm-labels.json'),
    );
    if (llm && args.values['llm-features'] !== undefined)
      llm = { ...llm, maxFeatures: intOption(args, 'llm-features', 0) };

    const sae = await loadSae(config.sae);
    let input: LabelInput;
    try {
      input =
        fromIndex !== undefined
          ? await inputFromIndex(args, io, config, sae, fromIndex)
          : await inputFromCorpus(args, io, corpusArg!);
    } catch (error) {
      await sae.dispose();
      throw error;
    }
    const evidenceOn = args.values['no-evidence'] !== true;
    // Stored vectors need no embedder, except for token evidence, which embeds masked texts.
    const embedder =
      input.vectors === undefined || evidenceOn
        ? await createEmbedder(config.embedder, { cacheDir })
        : undefined;
    const quiet = args.values.json === true;
    const progressOf = new Map<BuildStage, Progress>();
    const stageNames: Record<BuildStage, string> = {
      embed: 'embed documents',
      encode: 'encode with SAE',
      label: 'label features',
      evidence: 'token evidence',
      llm: 'LLM labels',
      write: 'write catalog',
    };
    try {
      const summary = await buildCatalog({
        saeDir: config.sae,
        sae,
        ...(embedder ? { embedder } : {}),
        documents: input.documents,
        ...(input.vectors ? { vectors: input.vectors } : {}),
        corpus: input.corpus,
        topDocuments: intOption(args, 'top-docs', 10, 1000),
        feedbackDocuments: args.values['no-feedback']
          ? 0
          : intOption(args, 'feedback-docs', 20000, 10_000_000),
        evidence: !evidenceOn
          ? false
          : {
              features: intOption(args, 'evidence-features', 10, 100_000),
              documents: intOption(args, 'evidence-docs', 2, 100),
            },
        llm,
        batchSize: intOption(args, 'batch', 64, 4096),
        force: args.values.force === true,
        onProgress(stage, done, total) {
          for (const [other, progress] of progressOf) {
            if (other !== stage) {
              progress.finish();
              progressOf.delete(other);
            }
          }
          let progress = progressOf.get(stage);
          if (!progress) progressOf.set(stage, (progress = createProgress(io, stageNames[stage], { quiet })));
          progress.update(done, total);
        },
      });
      for (const progress of progressOf.values()) progress.finish();
      await input.cleanup();
      const seconds = (ms = 0): number => Math.round(ms) / 1000;
      if (args.values.json) {
        printJson(io, {
          catalog: summary.dir,
          saeId: summary.header.saeId,
          documents: summary.documents,
          alive: summary.alive,
          dead: summary.dead,
          llmLabels: summary.llmLabels,
          evidenceDocuments: summary.evidenceDocuments,
          seconds: Object.fromEntries(Object.entries(summary.timings).map(([k, v]) => [k, seconds(v)])),
        });
      } else {
        io.stdout.write(
          `catalog of SAE ${summary.header.saeId} written to ${summary.dir}\n` +
            `  ${summary.documents} documents; ${summary.alive} features fired, ${summary.dead} dead\n` +
            `  labels: ${summary.header.labeler}${summary.llmLabels ? ` (${summary.llmLabels} from the LLM)` : ''}; evidence for ${summary.evidenceDocuments} documents\n`,
        );
      }
      return 0;
    } finally {
      await embedder?.dispose();
      await sae.dispose();
    }
  },
};
