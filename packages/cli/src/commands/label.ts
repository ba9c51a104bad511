// `steer label`: builds the feature catalog of an SAE over a corpus (statistics, keyword labels, token
// evidence, optional LLM labels) and stores it in `<sae dir>/catalog/`.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildCatalog, llmConfigFromEnv, type BuildStage, type LlmConfig } from '@steer/catalog';
import { createEmbedder } from '@steer/embed';
import { loadSae } from '@steer/sae';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { readCorpus } from '../corpus.js';
import { configFromArgs, configOptions, intOption, jsonOption, printJson } from '../options.js';
import { createProgress, type Progress } from '../progress.js';

export const labelCommand: Command = {
  name: 'label',
  summary:
    'Build the feature catalog of an SAE over a corpus: statistics, labels, evidence (stored beside the SAE)',
  usage:
    'steer label --sae <dir> --corpus <corpus.jsonl> [--top-docs 10] [--evidence-features 10] [--evidence-docs 2] ' +
    '[--no-evidence] [--limit <docs>] [--llm-url <base url> --llm-model <model>] [--llm-features <n>] [--force] [--batch 64] [--json]',
  options: {
    ...jsonOption,
    ...configOptions,
    corpus: { type: 'string', short: 'c' },
    'top-docs': { type: 'string' },
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
    if (!corpusArg)
      throw new UsageError(
        'label needs --corpus <corpus.jsonl> (BEIR JSONL: {"_id", "title", "text"} per line)',
      );
    const corpusPath = resolve(io.cwd, corpusArg);
    let documents = await readCorpus(corpusPath);
    if (args.values.limit !== undefined)
      documents = documents.slice(0, intOption(args, 'limit', documents.length));
    const sha256 = createHash('sha256')
      .update(await readFile(corpusPath))
      .digest('hex');
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
    const embedder = await createEmbedder(config.embedder, { cacheDir });
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
        embedder,
        documents,
        corpus: { path: corpusPath, sha256 },
        topDocuments: intOption(args, 'top-docs', 10, 1000),
        evidence:
          args.values['no-evidence'] === true
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
      await embedder.dispose();
      await sae.dispose();
    }
  },
};
