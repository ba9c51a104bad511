// Completion: features by name and by concept while typing (`+@lear`, `+~"career gro"`), raw feature ids,
// presets after `$`, option keys and values, and the filter keywords the grammar expects at the cursor.
// A picked feature inserts the reference that names exactly it (a unique alias, else its id).
import { expectedAt, tokenAt, type Position } from '@steer/grammar';
import {
  CompletionItemKind,
  MarkupKind,
  type CompletionItem,
  type CompletionList,
  type Range,
} from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import {
  exactReference,
  featureNames,
  featureWords,
  featuresWithWordPrefix,
  namesWithPrefix,
  percent,
  type DocumentContext,
  type LspCatalog,
} from './context.js';
import { parsed } from './document.js';
import { contentShare } from './stop-words.js';

/** Completion items for a position in a .steer document. */
export interface CompletionProvider {
  /**
   * The items at `position`. Feature lists are incomplete (the client asks again as the user types), so that
   * they re-rank and gain concept matches once the embedder has loaded.
   */
  complete(document: TextDocument, position: Position, context: DocumentContext): Promise<CompletionList>;
  /** Adds a feature item's documentation (keywords and its top document), which needs the catalog's details. */
  resolve(item: CompletionItem, context: DocumentContext): Promise<CompletionItem>;
}

export interface CompletionOptions {
  /** Most features listed for one request (default 30). */
  maxFeatures?: number;
}

/** What a feature item carries to `completionItem/resolve`. */
export interface FeatureItemData {
  feature: number;
  uri: string;
}

/** Characters after which a client should ask for completion. */
export const COMPLETION_TRIGGERS = ['@', '$', '~', '"', '='];

const OPTION_VALUES: Record<string, string[]> = {
  mode: ['dense', 'sparse', 'hybrid'],
  steer: ['residual', 'reconstructed'],
};

const OPTION_KEYS: Array<{ key: string; doc: string; example: string }> = [
  { key: 'k', doc: 'hits to return (1 to 10000)', example: 'k=10' },
  { key: 'mode', doc: 'which vectors to search: dense, sparse or hybrid', example: 'mode=dense' },
  { key: 'index', doc: 'the index to search (a name or a quoted text)', example: 'index=default' },
  {
    key: 'steer',
    doc: 'residual keeps the SAE reconstruction error (x + W_dec·Δh); reconstructed uses the edited x̂',
    example: 'steer=residual',
  },
  { key: 'candidates', doc: 'ANN candidates examined (1 to 10000, at least k)', example: 'candidates=200' },
];

const KEYWORDS: Record<string, string> = { Where: 'where', And: 'and', Or: 'or', Not: 'not' };

/** Words of a name or label, lower-cased (as the word index splits them). */
const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;

function sortText(rank: number): string {
  return String(rank).padStart(5, '0');
}

function list(items: CompletionItem[], isIncomplete = false): CompletionList {
  return { isIncomplete, items };
}

/** Creates the default completion provider. */
export function createCompletionProvider(options: CompletionOptions = {}): CompletionProvider {
  const maxFeatures = options.maxFeatures ?? 30;

  function detail(catalog: LspCatalog, id: number): string {
    const frequency = catalog.stats?.frequency[id];
    const info = catalog.get(id);
    const parts = [`f${id}`];
    if (frequency !== undefined) parts.push(info?.dead ? 'dead' : `${percent(frequency)} of docs`);
    return parts.join(' · ');
  }

  /**
   * Features for a name or concept being typed, best first: aliases and labels that start with it, labels with a
   * word that starts with it, then concept search (once ready). Labels made mostly of stop words (of any
   * language) go after the others; aliased features never do (a user named them).
   */
  async function featureCandidates(
    catalog: LspCatalog,
    typed: string,
    context: DocumentContext,
  ): Promise<number[]> {
    const found: number[] = [];
    const seen = new Set<number>();
    const add = (id: number): void => {
      if (seen.has(id) || id < 0 || id >= catalog.nLatents) return;
      seen.add(id);
      found.push(id);
    };
    const key = typed.trim().toLowerCase();
    if (key === '') {
      const aliases = featureNames(catalog).entries.filter((e) => e.alias);
      for (const entry of aliases.slice(0, maxFeatures)) add(entry.id);
      return found;
    }
    const names = namesWithPrefix(featureNames(catalog), key, maxFeatures);
    for (const entry of names) if (entry.alias) add(entry.id);
    for (const entry of names) add(entry.id);
    const words = key.match(WORD) ?? [];
    const last = words.at(-1);
    if (last !== undefined) {
      const others = words.slice(0, -1);
      for (const id of featuresWithWordPrefix(featureWords(catalog), last, maxFeatures * 4)) {
        if (found.length >= maxFeatures) break;
        const labelWords: string[] = catalog.get(id)?.label?.toLowerCase().match(WORD) ?? [];
        if (others.every((word) => labelWords.includes(word))) add(id);
      }
    }
    if (context.conceptSearchReady?.() !== false) {
      try {
        for (const match of await catalog.searchFeatures(typed, maxFeatures)) add(match.id);
      } catch {
        // NOTE: completion degrades to names only; diagnostics report why concept search fails.
      }
    }
    const tier = (id: number): number => {
      const info = catalog.get(id);
      if (info?.aliases?.length || !info?.label) return 0;
      return contentShare(info.label) < 0.5 ? 1 : 0;
    };
    return found
      .map((id, rank) => ({ id, rank, tier: tier(id) }))
      .sort((a, b) => a.tier - b.tier || a.rank - b.rank)
      .slice(0, maxFeatures)
      .map((c) => c.id);
  }

  /**
   * One item per feature: shown by its alias or label, inserting the reference that names exactly that feature,
   * replacing `range` (which starts at the `@` or `~`). `typed` is the text from the range start to the cursor.
   */
  async function featureItems(
    document: TextDocument,
    catalog: LspCatalog,
    query: string,
    range: Range,
    typed: string,
    context: DocumentContext,
  ): Promise<CompletionList> {
    const ids = await featureCandidates(catalog, query, context);
    const items = ids.map((id, rank): CompletionItem => {
      const info = catalog.get(id);
      const insert = exactReference(catalog, id);
      const alias = insert.startsWith('@') ? insert.slice(1) : undefined;
      const shown = alias ?? info?.label ?? `f${id}`;
      const description = alias ? info?.label : insert === shown ? undefined : insert;
      const data: FeatureItemData = { feature: id, uri: document.uri };
      return {
        label: shown,
        ...(description ? { labelDetails: { description } } : {}),
        kind: CompletionItemKind.Field,
        detail: detail(catalog, id),
        sortText: sortText(rank),
        // NOTE: the client filters by what was typed since the range start; every item here matched it already.
        filterText: typed,
        textEdit: { range, newText: insert },
        data,
      };
    });
    return list(items, true);
  }
  function idItems(catalog: LspCatalog, digits: string, range: Range): CompletionItem[] {
    const items: CompletionItem[] = [];
    if (digits === '') return items;
    let level = [Number(digits)];
    while (items.length < 20 && level.length > 0 && level[0]! < catalog.nLatents) {
      const next: number[] = [];
      for (const id of level) {
        if (id >= catalog.nLatents || items.length >= 20) break;
        const info = catalog.get(id);
        items.push({
          label: `f${id}`,
          kind: CompletionItemKind.Field,
          detail: detail(catalog, id),
          ...(info?.label ? { labelDetails: { description: info.label } } : {}),
          documentation: info?.label,
          sortText: sortText(items.length),
          textEdit: { range, newText: `f${id}` },
          data: { feature: id },
        });
        for (let d = 0; d <= 9; d++) next.push(id * 10 + d);
      }
      if (Number(digits) === 0) break; // f0 has no longer ids (f01 is not f1)
      level = next;
    }
    return items;
  }

  async function presetItems(
    document: TextDocument,
    context: DocumentContext,
    range: Range,
  ): Promise<CompletionItem[]> {
    const local = parsed(document).ast.statements.filter((s) => s.kind === 'preset-definition');
    const items = new Map<string, CompletionItem>();
    for (const definition of local) {
      items.set(definition.name, {
        label: `$${definition.name}`,
        kind: CompletionItemKind.Function,
        detail: 'preset in this file',
        textEdit: { range, newText: `$${definition.name}` },
      });
    }
    let saved: Awaited<ReturnType<NonNullable<DocumentContext['presets']>['list']>> = [];
    try {
      saved = (await context.presets?.list()) ?? [];
    } catch {
      saved = [];
    }
    for (const preset of saved) {
      if (items.has(preset.name)) continue;
      items.set(preset.name, {
        label: `$${preset.name}`,
        kind: CompletionItemKind.Function,
        detail: preset.problem ? `invalid: ${preset.problem}` : preset.edits,
        documentation: preset.saeId ? `saved preset for SAE ${preset.saeId}` : 'saved preset',
        textEdit: { range, newText: `$${preset.name}` },
      });
    }
    return [...items.values()];
  }

  return {
    async resolve(item, context) {
      const data = item.data as Partial<FeatureItemData> | undefined;
      const catalog = context.catalog;
      if (!catalog || typeof data?.feature !== 'number' || item.documentation) return item;
      try {
        const description = await catalog.describe(data.feature);
        const top = description.topDocuments[0];
        const lines = [`**f${data.feature}**${description.label ? ` ${description.label}` : ''}`];
        if (description.keywords.length)
          lines.push(`keywords: ${description.keywords.slice(0, 8).join(', ')}`);
        if (top) lines.push(`> ${top.snippet.replace(/\s+/g, ' ')}`);
        return { ...item, documentation: { kind: MarkupKind.Markdown, value: lines.join('\n\n') } };
      } catch {
        return item; // NOTE: a catalog without details still completes; the item just has no snippet.
      }
    },

    async complete(document, position, context) {
      const text = document.getText();
      const lineText = document.getText({ start: { line: position.line, character: 0 }, end: position });
      const lineEnd = document.getText({ start: position, end: { line: position.line + 1, character: 0 } });
      const wordAfter = /^[A-Za-z0-9_.-]*/.exec(lineEnd)![0].length;
      const catalog = context.catalog;

      // Inside a quoted text after `~` or `@`: a concept or a label being typed; the pick replaces sigil and text.
      const token = tokenAt(text, position);
      if (token && token.kind === 'StringLiteral' && token.range.start.line === position.line) {
        const offset = position.character - token.range.start.character;
        const closed = token.image.length > 1 && token.image.endsWith('"') && !token.image.endsWith('\\"');
        if (offset >= 1 && (!closed || offset < token.image.length)) {
          const sigil = /([~@])\s*$/.exec(lineText.slice(0, token.range.start.character));
          if (!sigil || !catalog) return list([]);
          const sigilAt = token.range.start.character - sigil[0].length;
          const query = token.image.slice(1, offset).replace(/\\(.)/g, '$1');
          const range: Range = { start: { line: position.line, character: sigilAt }, end: token.range.end };
          return featureItems(document, catalog, query, range, lineText.slice(sigilAt), context);
        }
      }

      const word = /([@$~]?)([A-Za-z0-9_.-]*)$/.exec(lineText)!;
      const sigil = word[1]!;
      const typed = word[2]!;
      const start = { line: position.line, character: position.character - word[0].length };
      const range: Range = { start, end: { line: position.line, character: position.character + wordAfter } };

      if (sigil === '@')
        return catalog ? featureItems(document, catalog, typed, range, word[0], context) : list([]);
      if (sigil === '$') return list(await presetItems(document, context, range));
      if (sigil === '~') {
        if (!catalog || typed === '') return list([]);
        return featureItems(document, catalog, typed, range, word[0], context);
      }

      const option = /(?:^|[\s;])([A-Za-z_][A-Za-z0-9_.-]*)=([A-Za-z0-9_.-]*)$/.exec(lineText);
      if (option) {
        const key = option[1]!;
        const valueRange: Range = {
          start: { line: position.line, character: position.character - option[2]!.length },
          end: range.end,
        };
        const values = key === 'index' ? ['default'] : (OPTION_VALUES[key] ?? []);
        return list(
          values.map((value) => ({
            label: value,
            kind: CompletionItemKind.EnumMember,
            textEdit: { range: valueRange, newText: value },
          })),
        );
      }

      const precededByOperator = /[+\-=]$/.test(lineText.slice(0, start.character));
      if (catalog && /^f[0-9]*$/.test(typed) && (precededByOperator || typed.length > 1)) {
        return list(idItems(catalog, typed.slice(1), range));
      }
      if (precededByOperator) return list([]);

      const expected = expectedAt(text, position).tokenKinds;
      const items: CompletionItem[] = [];
      if (expected.includes('Identifier') && expected.includes('StringLiteral')) {
        for (const { key, doc, example } of OPTION_KEYS) {
          items.push({
            label: `${key}=`,
            kind: CompletionItemKind.Property,
            detail: example,
            documentation: doc,
            textEdit: { range, newText: `${key}=` },
            command: OPTION_VALUES[key]
              ? { title: 'values', command: 'editor.action.triggerSuggest' }
              : undefined,
          });
        }
      }
      for (const kind of expected) {
        const keyword = KEYWORDS[kind];
        if (keyword)
          items.push({
            label: keyword,
            kind: CompletionItemKind.Keyword,
            textEdit: { range, newText: keyword },
          });
      }
      return list(items.filter((item) => item.label.startsWith(typed)));
    },
  };
}
