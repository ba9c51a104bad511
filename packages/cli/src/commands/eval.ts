// `steer eval`: retrieval quality of an SAE's methods (original, sparse, reconstructed, residual) on a dataset.
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '@steer/core';
import { createEmbedder } from '@steer/embed';
import { evaluateSae, loadDataset, renderMarkdownTable, renderReport } from '@steer/eval';
import { loadSae } from '@steer/sae';
import { openEngine } from '@steer/engine';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { configFromArgs, configOptions, jsonOption, printJson } from '../options.js';
import { createProgress } from '../progress.js';

export const evalCommand: Command = {
  name: 'eval',
  summary:
    'Evaluate an SAE on a dataset: original, sparse, reconstructed and residual retrieval (MRR@10, P@10, R@10, nDCG@10)',
  usage:
    'steer eval --dataset <dir> --sae <dir> [--report <dir>] [--embedder ...] [--backend embedded|elasticsearch] [--json]',
  options: { ...jsonOption, ...configOptions, dataset: { type: 'string' }, report: { type: 'string' } },
  async run(args, io) {
    const datasetDir = args.values.dataset as string | undefined;
    if (!datasetDir) throw new UsageError('eval needs --dataset <dir> (BEIR layout or Cranfield)');
    const config = configFromArgs(args, io);
    if (!config.sae) throw new UsageError('eval needs --sae <dir> (or "sae" in steer.config.json)');
    const quiet = args.values.json === true;
    const dataset = await loadDataset(resolve(io.cwd, datasetDir));
    const embedder = await createEmbedder(config.embedder, { cacheDir: join(config.dataDir, 'cache') });
    const sae = await loadSae(config.sae);
    const engine = await openEngine({ ...config, sae: undefined }, { embedder });
    try {
      const progress = createProgress(io, 'eval', { quiet: true });
      let stage = '';
      const result = await evaluateSae({
        dataset,
        sae,
        embedder,
        backend: engine.backend,
        onProgress: (p) => {
          if (p.stage !== stage && !quiet && io.interactive) io.stderr.write(`\r\x1b[K${p.stage}\n`);
          stage = p.stage;
          progress.update(p.done, p.total);
        },
      });
      progress.finish();
      if (args.values.report) {
        const dir = resolve(io.cwd, args.values.report as string);
        const command = `steer eval --dataset ${datasetDir} --sae ${config.sae}`;
        await writeFileAtomic(
          join(dir, 'eval.md'),
          renderReport(`Evaluation on ${dataset.name}`, command, [result]),
          { mkdir: true },
        );
      }
      if (quiet) printJson(io, result);
      else
        io.stdout.write(
          `${renderMarkdownTable([result])}\n\n${result.queries} judged queries; ${result.relevanceNote}\n`,
        );
      return 0;
    } finally {
      await sae.dispose();
      await engine.close();
    }
  },
};
