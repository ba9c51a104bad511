// Hover: a feature's label, keywords, statistics and top documents; the features a quoted text activates;
// the edits of a preset; what an option does.
import type { FeatureDescription } from '@steer/catalog';
import {
  format,
  nodeAt,
  STEER_VALUES,
  type AstNode,
  type Edit,
  type Position,
  type PresetDefinition,
  type Statement,
} from '@steer/grammar';
import { MarkupKind, type Hover } from 'vscode-languageserver';
import {
  QUERY_CODE_CHOICES,
  resolveQueryCoding,
  type QueryCodeChoice,
  type QueryCoding,
  type SteerMode,
} from '@steer/sae/files';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { percent, type DocumentContext, type LspCatalog } from './context.js';
import { contains, parsed, referenceAt, statementAt } from './document.js';
import { strengthMarkdown, strengthMeaning } from './strength.js';

/** Hover text for a position in a .steer document. */
export interface HoverProvider {
  hover(document: TextDocument, position: Position, context: DocumentContext): Promise<Hover | null>;
}

const OPTION_DOCS: Record<string, string> = {
  k: 'hits to return (1 to 10000)',
  mode: 'which vectors to search: `dense`, `sparse` or `hybrid`',
  index: 'the index to search',
  steer: '`residual` edits x + W_dec·Δh (keeps the reconstruction error); `reconstructed` uses the edited x̂',
  code: "how the query's latents h are found for steering: `auto` (the default: pursuit for `steer=reconstructed`, the encoder otherwise), `encoder` (the SAE's encoder) or `pursuit` (the k decoder atoms that fit the query best; closer to it, slower)",
  candidates: 'ANN candidates examined (at least k)',
};

function round(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 1000) / 1000) : String(value);
}

/** Markdown for everything the catalog knows about a feature (shared with `steer/explainFeature`). */
export function describeFeatureMarkdown(description: FeatureDescription, maxDocuments = 3): string {
  const title = `**f${description.id}**${description.label ? ` — ${description.label}` : ''}${description.weak ? ' *(weak evidence)*' : ''}${description.dead ? ' *(dead)*' : ''}`;
  const lines = [title];
  if (description.aliases.length)
    lines.push(`aliases: ${description.aliases.map((a) => `@${a}`).join(', ')}`);
  if (description.keywords.length) lines.push(`keywords: ${description.keywords.join(', ')}`);
  const stats = description.stats;
  if (stats) {
    lines.push(
      `active in ${stats.count} docs (${percent(stats.frequency)}) · mean ${round(stats.meanActivation)} · ` +
        `p99 ${round(stats.p99Activation)} · typical ${round(stats.typicalActivation)}`,
    );
  }
  const docs = description.topDocuments.slice(0, maxDocuments);
  if (docs.length) {
    lines.push('top documents:');
    lines.push(
      docs.map((d) => `- \`${d.id}\` (${round(d.activation)}) ${d.snippet.replace(/\s+/g, ' ')}`).join('\n'),
    );
  }
  return lines.join('\n\n');
}

async function featureHover(catalog: LspCatalog, id: number): Promise<string> {
  try {
    return describeFeatureMarkdown(await catalog.describe(id));
  } catch (cause) {
    return `**f${id}**: ${(cause as Error).message}`;
  }
}

function presetMarkdown(definition: PresetDefinition): string {
  const text = format({ kind: 'file', header: [], statements: [definition], range: definition.range }).trim();
  return `**$${definition.name}** (this file)\n\n\`\`\`steer\n${text}\n\`\`\``;
}

/** A feature id: its description, or why there is none. */
function featureIdMarkdown(id: number, context: DocumentContext): Promise<string> | string {
  const catalog = context.catalog;
  if (!catalog)
    return `**f${id}**: ${context.featuresUnavailable ?? 'no SAE is configured (set "sae" in steer.config.json)'}`;
  if (id >= catalog.nLatents) return `**f${id}**: SAE ${catalog.saeId} has only ${catalog.nLatents} features`;
  return featureHover(catalog, id);
}

/** An alias or label: the feature it names, or which features it names when there are several. */
function aliasMarkdown(name: string, context: DocumentContext): Promise<string> | string | undefined {
  const catalog = context.catalog;
  if (!catalog)
    return context.featuresUnavailable ? `**@${name}**: ${context.featuresUnavailable}` : undefined;
  const found = [...new Map(catalog.byAliasOrLabel(name).map((f) => [f.id, f])).values()];
  if (found.length === 0) return `**@${name}**: no feature of SAE ${catalog.saeId} has this alias or label`;
  if (found.length > 1) {
    return `**@${name}** names ${found.length} features: ${found.map((f) => `f${f.id}`).join(', ')}`;
  }
  return featureHover(catalog, found[0]!.id);
}

/** A concept (`~"text"`, `~3"text"`): the features concept search finds, marking the ones the edit steers. */
async function conceptMarkdown(
  text: string,
  count: number | undefined,
  catalog: LspCatalog,
): Promise<string> {
  let matches: Array<{ id: number; label?: string; score: number }>;
  let edited: Map<number, number>;
  try {
    matches = await catalog.searchFeatures(text, Math.max(count ?? 3, 5));
    const direction = await catalog.conceptDirection?.(text, count);
    edited = direction
      ? new Map(direction.features.map((f) => [f.id, f.weight]))
      : new Map(matches.slice(0, count ?? 1).map((m) => [m.id, 1]));
  } catch (cause) {
    return `concept search failed: ${(cause as Error).message}`;
  }
  if (matches.length === 0) return `**~"${text}"**: no matching feature`;
  const rows = matches.map((m) => {
    const weight = edited.get(m.id);
    return `${weight !== undefined ? '**→**' : '-'} f${m.id}${m.label ? ` ${m.label}` : ''} (score ${round(m.score)}${weight !== undefined ? `, weight ${round(weight)}` : ''})`;
  });
  const what =
    edited.size === 1
      ? 'the best match'
      : `a direction of ${edited.size} features (weights give its unit length)`;
  return `**~"${text}"** edits ${what}:\n\n${rows.join('\n\n')}`;
}

/**
 * How the query holding a text codes it: its last `code=` option, else the configuration's default, resolved
 * against its steering mode (`auto` pursues for `steer=reconstructed`), as the engine does.
 */
function queryCoding(statement: Statement | undefined, context: DocumentContext): QueryCoding {
  const options = statement?.kind === 'query' ? statement.options : [];
  const last = (key: string) => options.filter((o) => o.key === key).pop()?.value;
  // A value the grammar rejects is already a diagnostic; hover then codes the text by the configured default.
  const code = last('code') as QueryCodeChoice | undefined;
  const steer = last('steer') as SteerMode | undefined;
  return resolveQueryCoding(
    code !== undefined && QUERY_CODE_CHOICES.includes(code) ? code : context.queryCode,
    steer !== undefined && STEER_VALUES.includes(steer) ? steer : (context.steerMode ?? 'residual'),
  );
}

/** A quoted text: the features it activates most, as its query codes it (encoder or `code=pursuit`). */
async function textMarkdown(
  text: string,
  context: DocumentContext,
  textFeatures: number,
  coding: QueryCoding,
): Promise<string | undefined> {
  if (!context.analyzeText) return undefined;
  try {
    const active = await context.analyzeText(text, textFeatures, coding);
    const how = coding === 'pursuit' ? ' (coded by pursuit over the decoder)' : '';
    if (active.length === 0) return `**"${text}"**${how} activates no feature`;
    const rows = active.map((a) => `- f${a.feature}${a.label ? ` ${a.label}` : ''} (${round(a.activation)})`);
    return `**"${text}"**${how} activates most:\n\n${rows.join('\n')}`;
  } catch (cause) {
    return `cannot analyze the text: ${(cause as Error).message}`;
  }
}

/** A preset reference: its definition in this file, else the saved preset's edits. */
async function presetRefMarkdown(
  name: string,
  document: TextDocument,
  context: DocumentContext,
): Promise<string> {
  const local = parsed(document).ast.statements.find(
    (s): s is PresetDefinition => s.kind === 'preset-definition' && s.name === name,
  );
  if (local) return presetMarkdown(local);
  const saved = (await context.presets?.list().catch(() => []))?.find((p) => p.name === name);
  if (!saved) return `**$${name}**: no such preset in this file or the presets folder`;
  if (saved.problem) return `**$${name}** (${saved.path}) is invalid: ${saved.problem}`;
  return `**$${name}**${saved.saeId ? ` (SAE ${saved.saeId})` : ''}\n\n\`\`\`steer\n${saved.edits}\n\`\`\``;
}

/** The hover text of a reference, text or option; undefined where there is nothing to say. */
async function markdownFor(
  node: AstNode,
  document: TextDocument,
  context: DocumentContext,
  textFeatures: number,
  position: Position,
): Promise<string | undefined> {
  switch (node.kind) {
    case 'feature-id':
      return featureIdMarkdown(node.id, context);
    case 'alias':
      return aliasMarkdown(node.name, context);
    case 'concept':
      return context.catalog ? conceptMarkdown(node.text, node.count, context.catalog) : undefined;
    case 'text':
      return textMarkdown(
        node.text,
        context,
        textFeatures,
        queryCoding(statementAt(parsed(document), position), context),
      );
    case 'preset-ref':
      return presetRefMarkdown(node.name, document, context);
    case 'option':
      return OPTION_DOCS[node.key] ? `**${node.key}**: ${OPTION_DOCS[node.key]}` : undefined;
    default:
      return undefined;
  }
}

/** Hover on a strength (`*2x`, `*0.5`): what it means in latent units for this query. */
async function strengthHover(
  document: TextDocument,
  position: Position,
  context: DocumentContext,
): Promise<Hover | null> {
  const result = parsed(document);
  const statement = statementAt(result, position);
  if (!statement) return null;
  const edit = statement.steers.find(
    (s): s is Edit => s.kind === 'edit' && s.strength !== undefined && contains(s.strength.range, position),
  );
  if (!edit?.strength) return null;
  try {
    const meaning = await strengthMeaning(statement, edit, context);
    if (!meaning) return null;
    return {
      contents: { kind: MarkupKind.Markdown, value: strengthMarkdown(meaning) },
      range: edit.strength.range,
    };
  } catch (cause) {
    return {
      contents: {
        kind: MarkupKind.Markdown,
        value: `cannot work out this strength: ${(cause as Error).message}`,
      },
      range: edit.strength.range,
    };
  }
}

/** Creates the default hover provider. */
export function createHoverProvider(options: { textFeatures?: number } = {}): HoverProvider {
  const textFeatures = options.textFeatures ?? 8;
  return {
    async hover(document, position, context) {
      if (nodeAt(parsed(document).ast, position)?.kind === 'strength')
        return strengthHover(document, position, context);
      const node = referenceAt(parsed(document), position);
      if (!node) return null;
      const value = await markdownFor(node, document, context, textFeatures, position);
      if (!value) return null;
      return { contents: { kind: MarkupKind.Markdown, value }, range: node.range };
    },
  };
}
