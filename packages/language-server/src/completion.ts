// Completion: features by name and by concept while typing (`+@lear`, `+~"career gro"`), raw feature ids,
// presets after `$`, option keys and values, and the filter keywords the grammar expects at the cursor.
import { expectedAt, tokenAt, type Position } from '@steer/grammar';
import { CompletionItemKind, MarkupKind, type CompletionItem, type Range } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import {
  aliasText,
  featureNames,
  namesWithPrefix,
  percent,
  type DocumentContext,
  type LspCatalog,
} from './context.js';
import { parsed } from './document.js';

/** Completion items for a position in a .steer document. */
export interface CompletionProvider {
  complete(document: TextDocument, position: Position, context: DocumentContext): Promise<CompletionItem[]>;
}

export interface CompletionOptions {
  /** Most features listed for one request (default 30). */
  maxFeatures?: number;
  /** Items that get a top-document snippet (default 10). */
  maxSnippets?: number;
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

interface FeatureCandidate {
  id: number;
  /** Name inserted after `@` (alias or label), if any. */
  name?: string;
  score: number;
}

function sortText(rank: number): string {
  return String(rank).padStart(5, '0');
}

/** Creates the default completion provider. */
export function createCompletionProvider(options: CompletionOptions = {}): CompletionProvider {
  const maxFeatures = options.maxFeatures ?? 30;
  const maxSnippets = options.maxSnippets ?? 10;

  async function describeItems(
    catalog: LspCatalog,
    items: Array<{ item: CompletionItem; id: number }>,
  ): Promise<void> {
    await Promise.all(
      items.slice(0, maxSnippets).map(async ({ item, id }) => {
        try {
          const description = await catalog.describe(id);
          const top = description.topDocuments[0];
          const lines = [`**f${id}**${description.label ? ` ${description.label}` : ''}`];
          if (description.keywords.length)
            lines.push(`keywords: ${description.keywords.slice(0, 8).join(', ')}`);
          if (top) lines.push(`> ${top.snippet.replace(/\s+/g, ' ')}`);
          item.documentation = { kind: MarkupKind.Markdown, value: lines.join('\n\n') };
        } catch {
          // NOTE: a catalog without details still completes; the item just has no snippet.
        }
      }),
    );
  }

  function detail(catalog: LspCatalog, id: number): string {
    const frequency = catalog.stats?.frequency[id];
    const info = catalog.get(id);
    const parts = [`f${id}`];
    if (frequency !== undefined) parts.push(info?.dead ? 'dead' : `${percent(frequency)} of docs`);
    return parts.join(' · ');
  }

  /** Features for a name being typed: names starting with it first, then the concept search's ranking. */
  async function featureCandidates(catalog: LspCatalog, typed: string): Promise<FeatureCandidate[]> {
    const out = new Map<string, FeatureCandidate>();
    const key = typed.toLowerCase();
    if (key !== '') {
      for (const entry of namesWithPrefix(featureNames(catalog), key, maxFeatures)) {
        out.set(`${entry.id}:${entry.name}`, { id: entry.id, name: entry.name, score: 2 });
      }
    }
    if (typed.trim() !== '' && out.size < maxFeatures) {
      let matches: Awaited<ReturnType<LspCatalog['searchFeatures']>> = [];
      try {
        matches = await catalog.searchFeatures(typed, maxFeatures);
      } catch {
        matches = []; // NOTE: completion degrades to names only; diagnostics report why search fails.
      }
      for (const match of matches) {
        if (out.size >= maxFeatures) break;
        const info = catalog.get(match.id);
        const name = info?.aliases?.[0] ?? match.label ?? info?.label;
        if ([...out.values()].some((c) => c.id === match.id)) continue;
        out.set(`${match.id}:${name ?? ''}`, { id: match.id, ...(name ? { name } : {}), score: match.score });
      }
    }
    return [...out.values()];
  }

  async function aliasItems(catalog: LspCatalog, typed: string, range: Range): Promise<CompletionItem[]> {
    const candidates = await featureCandidates(catalog, typed);
    const typedText = `@${typed}`;
    const items = candidates.map((candidate, rank) => {
      const insert = candidate.name ? aliasText(candidate.name) : `f${candidate.id}`;
      const item: CompletionItem = {
        label: candidate.name ?? `f${candidate.id}`,
        kind: CompletionItemKind.Field,
        detail: detail(catalog, candidate.id),
        sortText: sortText(rank),
        // Concept matches do not start with the typed text; let the client keep them.
        filterText: insert.toLowerCase().startsWith(typedText.toLowerCase()) ? insert : typedText,
        textEdit: { range, newText: insert },
        data: { feature: candidate.id },
      };
      return { item, id: candidate.id };
    });
    await describeItems(catalog, items);
    return items.map((i) => i.item);
  }

  async function quotedItems(
    catalog: LspCatalog,
    typed: string,
    range: Range,
    image: string,
    concept: boolean,
  ): Promise<CompletionItem[]> {
    const candidates = (await featureCandidates(catalog, typed)).filter((c) => c.name !== undefined);
    const items = candidates.map((candidate, rank) => {
      const name = concept ? (catalog.get(candidate.id)?.label ?? candidate.name!) : candidate.name!;
      const item: CompletionItem = {
        label: name,
        kind: concept ? CompletionItemKind.Text : CompletionItemKind.Field,
        detail: detail(catalog, candidate.id),
        sortText: sortText(rank),
        filterText: image,
        textEdit: { range, newText: JSON.stringify(name) },
        data: { feature: candidate.id },
      };
      return { item, id: candidate.id };
    });
    await describeItems(catalog, items);
    return items.map((i) => i.item);
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
    async complete(document, position, context) {
      const text = document.getText();
      const lineText = document.getText({ start: { line: position.line, character: 0 }, end: position });
      const lineEnd = document.getText({ start: position, end: { line: position.line + 1, character: 0 } });
      const wordAfter = /^[A-Za-z0-9_.-]*/.exec(lineEnd)![0].length;
      const catalog = context.catalog;

      // Inside a quoted text after `~` or `@`: a concept or a label being typed.
      const token = tokenAt(text, position);
      if (token && token.kind === 'StringLiteral' && token.range.start.line === position.line) {
        const offset = position.character - token.range.start.character;
        const closed = token.image.length > 1 && token.image.endsWith('"') && !token.image.endsWith('\\"');
        if (offset >= 1 && (!closed || offset < token.image.length)) {
          const sigil = /([~@])\s*$/.exec(lineText.slice(0, token.range.start.character))?.[1];
          if (!sigil || !catalog) return [];
          const typed = token.image.slice(1, offset).replace(/\\(.)/g, '$1');
          return quotedItems(catalog, typed, token.range, token.image, sigil === '~');
        }
      }

      const word = /([@$~]?)([A-Za-z0-9_.-]*)$/.exec(lineText)!;
      const sigil = word[1]!;
      const typed = word[2]!;
      const start = { line: position.line, character: position.character - word[0].length };
      const range: Range = { start, end: { line: position.line, character: position.character + wordAfter } };

      if (sigil === '@') return catalog ? aliasItems(catalog, typed, range) : [];
      if (sigil === '$') return presetItems(document, context, range);
      if (sigil === '~') {
        if (!catalog || typed === '') return [];
        const conceptRange = { start: { line: start.line, character: start.character + 1 }, end: range.end };
        return quotedItems(catalog, typed, conceptRange, typed, true);
      }

      const option = /(?:^|[\s;])([A-Za-z_][A-Za-z0-9_.-]*)=([A-Za-z0-9_.-]*)$/.exec(lineText);
      if (option) {
        const key = option[1]!;
        const valueRange: Range = {
          start: { line: position.line, character: position.character - option[2]!.length },
          end: range.end,
        };
        const values = key === 'index' ? ['default'] : (OPTION_VALUES[key] ?? []);
        return values.map((value) => ({
          label: value,
          kind: CompletionItemKind.EnumMember,
          textEdit: { range: valueRange, newText: value },
        }));
      }

      const precededByOperator = /[+\-=]$/.test(lineText.slice(0, start.character));
      if (catalog && /^f[0-9]*$/.test(typed) && (precededByOperator || typed.length > 1)) {
        return idItems(catalog, typed.slice(1), range);
      }
      if (precededByOperator) return [];

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
      return items.filter((item) => item.label.startsWith(typed));
    },
  };
}
