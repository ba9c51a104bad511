// `steer index`: embeds a corpus and adds it to an index of the configured backend.
import { join, resolve } from 'node:path';
import { createEmbedder } from '@steer/embed';
import { openEngine } from '@steer/engine';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { documentText, readCorpus } from '../corpus.js';
import { configFromArgs, configOptions, intOption, jsonOption, printJson } from '../options.js';
import { createProgress } from '../progress.js';
import { embedAll } from '../embedding.js';

export const indexCommand: Command = {
  name: 'index',
  summary: 'Embed a JSONL corpus and add it to an index (embedded LanceDB store by default)',
  usage: 'steer index <corpus.jsonl> [--index <name>] [--overwrite] [--embedder ...] [--json]',
  options: {
    ...jsonOption,
    ...configOptions,
    overwrite: { type: 'boolean' },
    batch: { type: 'string' },
    similarity: { type: 'string' },
  },
  async run(args, io) {
    const [corpusPath] = args.positionals;
    if (!corpusPath) throw new UsageError('index needs a corpus file: steer index <corpus.jsonl>');
    const config = configFromArgs(args, io);
    const quiet = args.values.json === true;
    const docs = await readCorpus(resolve(io.cwd, corpusPath));
    const embedder = await createEmbedder(config.embedder, { cacheDir: join(config.dataDir, 'cache') });
    const engine = await openEngine({ ...config, sae: undefined }, { embedder });
    try {
      const similarity = (args.values.similarity as string | undefined) ?? (embedder.normalized ? 'dot_product' : 'cosine');
      if (!['cosine', 'dot_product', 'l2_norm'].includes(similarity)) {
        throw new UsageError(`--similarity must be cosine, dot_product or l2_norm, not '${similarity}'`);
      }
      const embedProgress = createProgress(io, 'embed', { quiet });
      const vectors = await embedAll(embedder, docs.map(documentText), intOption(args, 'batch', 64), embedProgress);
      embedProgress.finish(`${docs.length} documents`);
      await engine.backend.createIndex(config.index, {
        dims: embedder.dims,
        similarity: similarity as 'cosine' | 'dot_product' | 'l2_norm',
        embeddingModel: embedder.id,
        overwrite: args.values.overwrite === true,
      });
      const addProgress = createProgress(io, 'index', { quiet });
      const { added } = await engine.backend.addDocuments(
        config.index,
        docs.map((doc, i) => ({
          id: doc.id,
          text: documentText(doc),
          metadata: doc.metadata,
          vector: vectors.subarray(i * embedder.dims, (i + 1) * embedder.dims),
        })),
        { total: docs.length, onProgress: (p) => addProgress.update(p.done, p.total) },
      );
      addProgress.finish(`${added} documents into '${config.index}'`);
      if (quiet) printJson(io, { index: config.index, added, dims: embedder.dims, embedder: embedder.id });
      else io.stdout.write(`indexed ${added} documents into '${config.index}' (${config.backend})\n`);
      return 0;
    } finally {
      await engine.close();
    }
  },
};
