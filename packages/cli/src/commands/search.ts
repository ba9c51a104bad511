// `steer search`: runs a steer query (text plus feature edits) against an index.
import { openEngine } from '@steer/engine';
import type { SearchHit } from '@steer/search';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { configFromArgs, configOptions, intOption, jsonOption, printJson } from '../options.js';
import { toSteerQuery } from '../query-text.js';

function printHits(io: { stdout: NodeJS.WritableStream }, title: string, hits: SearchHit[]): void {
  io.stdout.write(`${title}\n`);
  hits.forEach((hit, rank) => {
    const text = hit.text.length > 100 ? `${hit.text.slice(0, 97)}...` : hit.text;
    io.stdout.write(`  ${String(rank + 1).padStart(2)}. ${hit.score.toFixed(4)}  ${hit.id}  ${text}\n`);
  });
}

export const searchCommand: Command = {
  name: 'search',
  summary: 'Search an index with a steer query, e.g. \'"university focus" +f12*0.5 -@salary\'',
  usage:
    'steer search "<query>" [--k 10] [--edit f12=+0.5 ...] [--compare] [--explain] [--index <name>] [--sae <dir>] [--json]',
  options: {
    ...jsonOption,
    ...configOptions,
    k: { type: 'string', short: 'k' },
    edit: { type: 'string', multiple: true },
    compare: { type: 'boolean' },
    explain: { type: 'boolean' },
    text: { type: 'boolean' },
  },
  async run(args, io) {
    if (args.positionals.length !== 1) {
      throw new UsageError('search takes one query argument; quote it: steer search \'"jobs" +f12*0.5\'');
    }
    const config = configFromArgs(args, io);
    const { text: query, parsed } = toSteerQuery(
      args.positionals[0]!,
      (args.values.edit as string[] | undefined) ?? [],
      { plainText: args.values.text === true },
    );
    const engine = await openEngine(config);
    try {
      const k = args.values.k === undefined ? undefined : intOption(args, 'k', 10, 10_000);
      const result = await engine.search(parsed, {
        k,
        index: config.index,
        compare: args.values.compare === true,
      });
      // A sparse or hybrid score weighs each document's latents as `steer index --latents` stored them.
      const explained =
        args.values.explain === true && engine.sae
          ? await engine.explain(result.resolved.vector, result.hits, 5, {
              mode: result.resolved.mode,
              index: result.resolved.index ?? config.index,
            })
          : undefined;
      if (args.values.json) {
        printJson(io, {
          query,
          hits: (explained ?? result.hits).map((h) => ({ ...h })),
          ...(result.baseline ? { baseline: result.baseline } : {}),
          edits: result.resolved.plan.edits.map(({ feature, op, value, relative, unit }) => ({
            feature,
            op,
            value,
            ...(relative !== undefined ? { relative } : {}),
            ...(unit !== undefined ? { unit } : {}),
          })),
          ...(result.resolved.plan.strengthUnit ? { strengthUnit: result.resolved.plan.strengthUnit } : {}),
          ...(result.resolved.steering ? { steering: result.resolved.steering } : {}),
          diagnostics: result.resolved.diagnostics,
        });
        return 0;
      }
      for (const d of result.resolved.diagnostics)
        io.stderr.write(`${d.severity}: ${d.code}: ${d.message}\n`);
      if (result.baseline) printHits(io, 'without steering:', result.baseline);
      printHits(io, result.baseline ? 'with steering:' : `results for ${query}:`, result.hits);
      if (explained) {
        io.stdout.write('top features per hit:\n');
        for (const hit of explained) {
          const features = hit.features
            .map((f) => `f${f.feature}${f.label ? ` (${f.label})` : ''}`)
            .join(', ');
          io.stdout.write(`  ${hit.id}: ${features || '(none shared with the query)'}\n`);
        }
      }
      return 0;
    } finally {
      await engine.close();
    }
  },
};
