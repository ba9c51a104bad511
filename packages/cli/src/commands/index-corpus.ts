// `steer index`: embeds a corpus and adds it to an index of the configured backend.
import { join, resolve } from 'node:path';
import { createEmbedder } from '@steer/embed';
import { openEngine } from '@steer/engine';
import { checkLatentWrite, ElasticsearchBackend, LATENT_NORMS, writeLatents } from '@steer/elasticsearch';
import type { LatentNorm } from '@steer/elasticsearch';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { documentText, readCorpus } from '../corpus.js';
import { configFromArgs, configOptions, intOption, jsonOption, printJson } from '../options.js';
import { createProgress } from '../progress.js';
import { embedAll } from '../embedding.js';

export const indexCommand: Command = {
  name: 'index',
  summary: 'Embed a JSONL corpus and add it to an index (embedded LanceDB store by default)',
  usage:
    'steer index <corpus.jsonl> [--index <name>] [--overwrite] [--embedder ...] [--latents --sae <dir> [--latent-norm l2|none] [--resume]] [--backend elasticsearch] [--json]',
  options: {
    ...jsonOption,
    ...configOptions,
    overwrite: { type: 'boolean' },
    batch: { type: 'string' },
    similarity: { type: 'string' },
    latents: { type: 'boolean' },
    'latent-norm': { type: 'string' },
    resume: { type: 'boolean' },
  },
  async run(args, io) {
    const [corpusPath] = args.positionals;
    if (!corpusPath) throw new UsageError('index needs a corpus file: steer index <corpus.jsonl>');
    const config = configFromArgs(args, io);
    const quiet = args.values.json === true;
    const docs = await readCorpus(resolve(io.cwd, corpusPath));
    const embedder = await createEmbedder(config.embedder, { cacheDir: join(config.dataDir, 'cache') });
    const { withLatents, latentNorm } = latentOptions(args, config);
    const engine = await openEngine(withLatents ? config : { ...config, sae: undefined }, { embedder });
    try {
      const resume = withLatents && args.values.resume === true;
      if (resume && engine.backend instanceof ElasticsearchBackend && args.values.overwrite !== true) {
        // NOTE: before the documents are re-added (which clears their latents): a resume that would mix
        // normalisations fails here, with nothing written.
        if ((await engine.backend.listIndexes()).includes(config.index)) {
          await checkLatentWrite(engine.backend.client, config.index, {
            norm: latentNorm,
            resume: 'skip-existing',
          });
        }
      }
      const similarity =
        (args.values.similarity as string | undefined) ?? (embedder.normalized ? 'dot_product' : 'cosine');
      if (!['cosine', 'dot_product', 'l2_norm'].includes(similarity)) {
        throw new UsageError(`--similarity must be cosine, dot_product or l2_norm, not '${similarity}'`);
      }
      const embedProgress = createProgress(io, 'embed', { quiet });
      const vectors = await embedAll(
        embedder,
        docs.map(documentText),
        intOption(args, 'batch', 64),
        embedProgress,
      );
      embedProgress.finish(`${docs.length} documents`);
      const exists = (await engine.backend.listIndexes()).includes(config.index);
      if (exists && args.values.overwrite !== true) {
        const info = await engine.backend.describeIndex(config.index);
        if (info.dims !== embedder.dims) {
          throw new UsageError(
            `index '${config.index}' holds ${info.dims}-d vectors but ${embedder.id} gives ${embedder.dims}; use another --index, the embedder it was built with, or --overwrite`,
          );
        }
      } else {
        await engine.backend.createIndex(config.index, {
          dims: embedder.dims,
          similarity: similarity as 'cosine' | 'dot_product' | 'l2_norm',
          embeddingModel: embedder.id,
          overwrite: args.values.overwrite === true,
        });
      }
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
      let latents: { written: number; skipped: number; failed: number; norm: LatentNorm } | undefined;
      if (withLatents && engine.sae && engine.backend instanceof ElasticsearchBackend) {
        const sae = engine.sae;
        const encoded = await sae.encodeBatches(vectors, docs.length, { batchSize: 256 });
        const latentProgress = createProgress(io, 'latents', { quiet });
        const result = await writeLatents(
          engine.backend.client,
          config.index,
          docs.map((doc, i) => ({
            id: doc.id,
            latents: {
              indices: encoded.indices.subarray(i * encoded.k, (i + 1) * encoded.k),
              values: encoded.values.subarray(i * encoded.k, (i + 1) * encoded.k),
            },
          })),
          {
            total: docs.length,
            resume: resume ? 'skip-existing' : undefined,
            norm: latentNorm,
            onProgress: (p) => latentProgress.update(p.done, p.total),
          },
        );
        latentProgress.finish(
          `${result.written} written, ${result.skipped} skipped, ${result.failed} failed`,
        );
        latents = {
          written: result.written,
          skipped: result.skipped,
          failed: result.failed,
          norm: latentNorm,
        };
      }
      if (quiet)
        printJson(io, { index: config.index, added, dims: embedder.dims, embedder: embedder.id, latents });
      else io.stdout.write(`indexed ${added} documents into '${config.index}' (${config.backend})\n`);
      return 0;
    } finally {
      await engine.close();
    }
  },
};

/** The --latents, --latent-norm and --resume options, checked together: each of the latter two needs --latents. */
function latentOptions(
  args: Parameters<Command['run']>[0],
  config: ReturnType<typeof configFromArgs>,
): { withLatents: boolean; latentNorm: LatentNorm } {
  const withLatents = args.values.latents === true;
  if (withLatents && config.backend !== 'elasticsearch') {
    throw new UsageError(
      '--latents writes a sparse_vector field, which needs the Elasticsearch backend: add --backend elasticsearch (and STEER_ES_URL)',
    );
  }
  if (withLatents && !config.sae)
    throw new UsageError('--latents needs --sae <dir>: the SAE whose latents are written');
  const latentNorm = (args.values['latent-norm'] as string | undefined) ?? 'l2';
  if (!LATENT_NORMS.includes(latentNorm as LatentNorm)) {
    throw new UsageError(
      `--latent-norm must be l2 (unit-normalised document latents, the default) or none (raw activations), not '${latentNorm}'`,
    );
  }
  if (args.values.resume === true && !withLatents)
    throw new UsageError(
      '--resume resumes the latents --latents writes (the dense index is rewritten whole each run); add --latents --sae <dir>, or drop --resume',
    );
  if (args.values['latent-norm'] !== undefined && !withLatents)
    throw new UsageError('--latent-norm applies to the latents --latents writes; add --latents --sae <dir>');
  return { withLatents, latentNorm: latentNorm as LatentNorm };
}
