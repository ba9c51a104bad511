// `steer embed`: embeds a corpus into a float32 .npy file (plus ids), through the embedding cache.
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '@steer/core';
import { createEmbedder, writeNpy } from '@steer/embed';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { documentText, readCorpus } from '../corpus.js';
import { configFromArgs, configOptions, intOption, jsonOption, printJson } from '../options.js';
import { createProgress } from '../progress.js';
import { embedAll } from '../embedding.js';

export const embedCommand: Command = {
  name: 'embed',
  summary: 'Embed a JSONL corpus into a float32 .npy file (and <out>.ids.json, <out>.model.json)',
  usage:
    'steer embed <corpus.jsonl> --out <vectors.npy> [--embedder default|onnx:<dir>] [--batch 64] [--json]',
  options: {
    ...jsonOption,
    ...configOptions,
    out: { type: 'string', short: 'o' },
    batch: { type: 'string' },
  },
  async run(args, io) {
    const [corpusPath] = args.positionals;
    const out = args.values.out as string | undefined;
    if (!corpusPath || !out) throw new UsageError('embed needs a corpus file and --out <vectors.npy>');
    const config = configFromArgs(args, io);
    const docs = await readCorpus(resolve(io.cwd, corpusPath));
    const embedder = await createEmbedder(config.embedder, { cacheDir: join(config.dataDir, 'cache') });
    try {
      const progress = createProgress(io, 'embed', { quiet: args.values.json === true });
      const vectors = await embedAll(
        embedder,
        docs.map(documentText),
        intOption(args, 'batch', 64),
        progress,
      );
      const outPath = resolve(io.cwd, out);
      await writeNpy(outPath, vectors, [docs.length, embedder.dims]);
      const idsPath = `${outPath}.ids.json`;
      await writeFileAtomic(idsPath, JSON.stringify(docs.map((d) => d.id)));
      // The model beside the vectors, so that `steer train --embeddings` records it (and its version) in the SAE.
      const modelPath = `${outPath}.model.json`;
      const model = {
        model: embedder.id,
        ...(embedder.version !== undefined ? { version: embedder.version } : {}),
        dims: embedder.dims,
        normalized: embedder.normalized,
      };
      await writeFileAtomic(modelPath, JSON.stringify(model));
      progress.finish(`${docs.length} documents, ${embedder.dims} dims -> ${out}`);
      if (args.values.json) {
        printJson(io, {
          out: outPath,
          ids: idsPath,
          count: docs.length,
          dims: embedder.dims,
          model: modelPath,
          embedder: embedder.id,
          ...(embedder.version !== undefined ? { embedderVersion: embedder.version } : {}),
        });
      } else {
        io.stdout.write(
          `wrote ${docs.length} x ${embedder.dims} vectors to ${out} (ids in ${out}.ids.json)\n`,
        );
      }
      return 0;
    } finally {
      await embedder.dispose();
    }
  },
};
