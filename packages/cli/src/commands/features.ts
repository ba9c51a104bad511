// `steer features search|alias|stats|show`: concept search over the catalog, user aliases, the feature
// frequency distribution (SVG plot, head/torso/tail examples) and one feature's description.
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '@steer/core';
import {
  featureFrequencies,
  frequencyBuckets,
  openCatalog,
  rankFrequencySvg,
  type Catalog,
} from '@steer/catalog';
import { createEmbedder } from '@steer/embed';
import type { Command, CommandArgs, CommandIO } from '../command.js';
import { UsageError } from '../command.js';
import { configFromArgs, configOptions, intOption, jsonOption, printJson } from '../options.js';

const USAGE = [
  'steer features search "<concept>" [--limit 10] [--sae <dir>] [--json]',
  '       steer features alias <name> <id>   |   steer features alias --remove <name>   |   steer features alias',
  '       steer features stats [--plot <file.svg>] [--examples 3] [--json]',
  '       steer features show <id> [--json]',
].join('\n');

function parseFeatureId(text: string | undefined): number {
  const match = /^f?(\d+)$/i.exec(text ?? '');
  if (!match) throw new UsageError(`'${text ?? ''}' is not a feature id; write it as 179723 or f179723`);
  return Number(match[1]);
}

async function open(args: CommandArgs, io: CommandIO, missing: 'error' | 'empty'): Promise<Catalog> {
  const config = configFromArgs(args, io);
  if (!config.sae)
    throw new UsageError('features needs --sae <dir> (or "sae" in steer.config.json, or STEER_SAE)');
  const cacheDir = join(config.dataDir, 'cache');
  return openCatalog(config.sae, {
    missing,
    loadEmbedder: () => createEmbedder(config.embedder, { cacheDir }),
  });
}

async function search(args: CommandArgs, io: CommandIO, rest: string[]): Promise<number> {
  const concept = rest.join(' ').trim();
  if (concept === '')
    throw new UsageError('features search needs a concept, e.g. steer features search "machine learning"');
  const catalog = await open(args, io, 'empty');
  try {
    const started = performance.now();
    const matches = await catalog.searchFeatures(concept, intOption(args, 'limit', 10, 1000));
    const ms = performance.now() - started;
    if (args.values.json) {
      printJson(io, {
        features: matches.map((m) => ({
          id: m.id,
          label: m.label ?? null,
          score: Math.round(m.score * 1e4) / 1e4,
          ...(m.aliases ? { aliases: m.aliases } : {}),
          ...(m.weak ? { weak: true } : {}),
          components: m.components,
        })),
      });
    } else {
      if (!catalog.header)
        io.stderr.write(
          `note: SAE ${catalog.saeId} has no catalog yet; results carry no labels (run steer label)\n`,
        );
      for (const m of matches) {
        const alias = m.aliases ? ` @${m.aliases.join(' @')}` : '';
        const weak = m.weak ? ' (weak evidence)' : '';
        io.stdout.write(`f${m.id}\t${m.score.toFixed(3)}\t${m.label ?? '(no label)'}${weak}${alias}\n`);
      }
      if (matches.length === 0) io.stdout.write('no feature matches\n');
      io.stderr.write(`${matches.length} features in ${ms.toFixed(1)} ms\n`);
    }
    return 0;
  } finally {
    await catalog.dispose();
  }
}

async function alias(args: CommandArgs, io: CommandIO, rest: string[]): Promise<number> {
  const catalog = await open(args, io, 'empty');
  try {
    const removing = args.values.remove as string | undefined;
    if (removing !== undefined) {
      const removed = await catalog.removeAlias(removing);
      if (!removed)
        throw new UsageError(`there is no alias '${removing}'; list them with steer features alias`);
      if (args.values.json) printJson(io, { removed: removing });
      else io.stdout.write(`removed alias @${removing.replace(/^@/, '')}\n`);
      return 0;
    }
    if (rest.length === 0) {
      const aliases = [...catalog.aliases()].sort(([a], [b]) => (a < b ? -1 : 1));
      if (args.values.json) printJson(io, { aliases: Object.fromEntries(aliases) });
      else
        for (const [name, id] of aliases)
          io.stdout.write(`@${name}\tf${id}\t${catalog.get(id)?.label ?? ''}\n`);
      return 0;
    }
    if (rest.length !== 2)
      throw new UsageError(
        'features alias takes a name and a feature id: steer features alias learning f179723',
      );
    const id = parseFeatureId(rest[1]);
    await catalog.setAlias(rest[0]!, id);
    const name = rest[0]!.replace(/^@/, '');
    if (args.values.json) printJson(io, { alias: name, id });
    else
      io.stdout.write(`@${name} -> f${id}${catalog.get(id)?.label ? ` (${catalog.get(id)!.label})` : ''}\n`);
    return 0;
  } finally {
    await catalog.dispose();
  }
}

async function stats(args: CommandArgs, io: CommandIO): Promise<number> {
  const catalog = await open(args, io, 'error');
  try {
    const featureStats = catalog.stats!;
    const terms = (await catalog.terms())!;
    const perBucket = intOption(args, 'examples', 3, 100);
    const buckets = frequencyBuckets(featureStats, perBucket);
    const alive = featureFrequencies(featureStats).length;
    const describe = (id: number) => ({
      id,
      label: catalog.get(id)?.label ?? null,
      frequency: featureStats.frequency[id]!,
      count: featureStats.count[id]!,
    });
    const plotArg = args.values.plot as string | undefined;
    let plotPath: string | undefined;
    if (plotArg) {
      plotPath = resolve(io.cwd, plotArg);
      const svg = rankFrequencySvg(
        [
          { name: `SAE features (${alive} live)`, values: featureFrequencies(featureStats) },
          {
            name: `bag-of-words terms (${terms.documentFrequency.length})`,
            values: terms.documentFrequency.map((df) => df / terms.documents),
          },
        ],
        {
          title: `Feature vs term frequency, ${terms.documents} documents`,
          xLabel: 'rank (log scale)',
          yLabel: 'fraction of documents (log scale)',
        },
      );
      await writeFileAtomic(plotPath, svg, { mkdir: true });
    }
    const summary = {
      saeId: catalog.saeId,
      documents: featureStats.documents,
      features: featureStats.nLatents,
      alive,
      dead: featureStats.nLatents - alive,
      head: buckets.head.map(describe),
      torso: buckets.torso.map(describe),
      tail: buckets.tail.map(describe),
      ...(plotPath ? { plot: plotPath } : {}),
    };
    if (args.values.json) {
      printJson(io, summary);
      return 0;
    }
    io.stdout.write(
      `SAE ${summary.saeId}: ${summary.features} features, ${summary.alive} fired on ${summary.documents} documents, ${summary.dead} dead\n`,
    );
    for (const bucket of ['head', 'torso', 'tail'] as const) {
      io.stdout.write(`${bucket}:\n`);
      for (const f of summary[bucket]) {
        io.stdout.write(
          `  f${f.id}\t${(100 * f.frequency).toFixed(2)}% (${f.count} docs)\t${f.label ?? '(no label)'}\n`,
        );
      }
    }
    if (plotPath) io.stdout.write(`plot written to ${plotPath}\n`);
    return 0;
  } finally {
    await catalog.dispose();
  }
}

async function show(args: CommandArgs, io: CommandIO, rest: string[]): Promise<number> {
  const id = parseFeatureId(rest[0]);
  const catalog = await open(args, io, 'error');
  try {
    const d = await catalog.describe(id);
    if (args.values.json) {
      printJson(io, d);
      return 0;
    }
    const lines = [
      `f${d.id}${d.aliases.length ? ` @${d.aliases.join(' @')}` : ''}: ${d.label ?? '(no label)'}${d.weak ? ' (weak evidence: few documents, or nothing sets them apart)' : ''}${d.dead ? ' [dead]' : ''}`,
    ];
    if (d.keywords.length) lines.push(`  keywords: ${d.keywords.join(', ')}`);
    if (d.stats) {
      const s = d.stats;
      lines.push(
        `  fires on ${s.count} docs (${(100 * s.frequency).toFixed(2)}%); mean ${s.meanActivation.toFixed(4)}, p99 ${s.p99Activation.toFixed(4)}, typical ${s.typicalActivation.toFixed(4)}`,
      );
    }
    for (const top of d.topDocuments) lines.push(`  ${top.activation.toFixed(4)}  ${top.id}  ${top.snippet}`);
    for (const e of d.evidence) {
      const words = e.ablations.map((a) => `${a.word} (-${a.drop.toFixed(3)})`).join(', ');
      lines.push(`  evidence ${e.id}: trigger '${e.trigger ?? '-'}'; ablation drops: ${words || 'none'}`);
    }
    io.stdout.write(lines.join('\n') + '\n');
    return 0;
  } finally {
    await catalog.dispose();
  }
}

export const featuresCommand: Command = {
  name: 'features',
  summary: 'Search features by concept, name them (aliases), show one, and plot frequency statistics',
  usage: USAGE,
  options: {
    ...jsonOption,
    ...configOptions,
    limit: { type: 'string', short: 'n' },
    remove: { type: 'string' },
    plot: { type: 'string' },
    examples: { type: 'string' },
  },
  async run(args, io) {
    const [sub, ...rest] = args.positionals;
    switch (sub) {
      case 'search':
        return search(args, io, rest);
      case 'alias':
        return alias(args, io, rest);
      case 'stats':
        return stats(args, io);
      case 'show':
        return show(args, io, rest);
      default:
        throw new UsageError(
          `features needs a sub-command (search, alias, stats or show), not '${sub ?? ''}'\nUsage: ${USAGE}`,
        );
    }
  },
};
