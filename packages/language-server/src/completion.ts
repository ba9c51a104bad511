// Completion: features by name and by concept while typing (`+@lear`, `+~"career gro"`), raw feature ids,
// presets after `$`, option keys and values, and the filter keywords the grammar expects at the cursor.
// A picked feature inserts the reference that names exactly it (a unique alias, else its id).
import { expectedAt, tokenAt, type Position } from '@steer/grammar';
import type { CompletionItem, CompletionList, Range } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { DocumentContext } from './context.js';
import { featureItems, idItems, resolveFeatureItem } from './completion/features.js';
import { presetItems } from './completion/presets.js';
import { optionValueItems, syntaxItems } from './completion/syntax.js';

export type { FeatureItemData } from './completion/features.js';

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

/** Characters after which a client should ask for completion. */
export const COMPLETION_TRIGGERS = ['@', '$', '~', '"', '='];

function list(items: CompletionItem[], isIncomplete = false): CompletionList {
  return { isIncomplete, items };
}

/** What completion knows at the cursor: the document, its line up to and after it, and the project. */
interface Cursor {
  document: TextDocument;
  position: Position;
  /** The line up to the cursor. */
  lineText: string;
  context: DocumentContext;
  maxFeatures: number;
}

/**
 * Inside a quoted text after `~` or `@`: a concept or a label being typed, whose pick replaces sigil and text.
 * Undefined when the cursor is not inside such a text.
 */
async function completeInText(cursor: Cursor): Promise<CompletionList | undefined> {
  const { document, position, lineText, context } = cursor;
  const token = tokenAt(document.getText(), position);
  if (!token || token.kind !== 'StringLiteral' || token.range.start.line !== position.line) return undefined;
  const offset = position.character - token.range.start.character;
  const closed = token.image.length > 1 && token.image.endsWith('"') && !token.image.endsWith('\\"');
  if (offset < 1 || (closed && offset >= token.image.length)) return undefined;
  const sigil = /([~@])\s*$/.exec(lineText.slice(0, token.range.start.character));
  const catalog = context.catalog;
  if (!sigil || !catalog) return list([]);
  const sigilAt = token.range.start.character - sigil[0].length;
  return featureItems({
    document,
    catalog,
    query: token.image.slice(1, offset).replace(/\\(.)/g, '$1'),
    range: { start: { line: position.line, character: sigilAt }, end: token.range.end },
    typed: lineText.slice(sigilAt),
    context,
    maxFeatures: cursor.maxFeatures,
  });
}

/** After `@`, `$` or `~`: features by name or concept, or presets. */
async function completeAfterSigil(
  cursor: Cursor,
  sigil: string,
  typed: string,
  word: string,
  range: Range,
): Promise<CompletionList> {
  const { document, context } = cursor;
  const catalog = context.catalog;
  if (sigil === '$') return list(await presetItems(document, context, range));
  if (!catalog || (sigil === '~' && typed === '')) return list([]);
  return featureItems({
    document,
    catalog,
    query: typed,
    range,
    typed: word,
    context,
    maxFeatures: cursor.maxFeatures,
  });
}

/** The items at a cursor outside a quoted text: by the sigil before the word, else option values, ids, syntax. */
async function completeWord(cursor: Cursor): Promise<CompletionList> {
  const { document, position, lineText, context } = cursor;
  const lineEnd = document.getText({ start: position, end: { line: position.line + 1, character: 0 } });
  const wordAfter = /^[A-Za-z0-9_.-]*/.exec(lineEnd)![0].length;
  const word = /([@$~]?)([A-Za-z0-9_.-]*)$/.exec(lineText)!;
  const sigil = word[1]!;
  const typed = word[2]!;
  const start = { line: position.line, character: position.character - word[0].length };
  const range: Range = { start, end: { line: position.line, character: position.character + wordAfter } };
  if (sigil !== '') return completeAfterSigil(cursor, sigil, typed, word[0], range);

  const option = /(?:^|[\s;])([A-Za-z_][A-Za-z0-9_.-]*)=([A-Za-z0-9_.-]*)$/.exec(lineText);
  if (option) {
    const valueStart = { line: position.line, character: position.character - option[2]!.length };
    return list(optionValueItems(option[1]!, { start: valueStart, end: range.end }));
  }

  const catalog = context.catalog;
  const precededByOperator = /[+\-=]$/.test(lineText.slice(0, start.character));
  if (catalog && /^f[0-9]*$/.test(typed) && (precededByOperator || typed.length > 1)) {
    return list(idItems(catalog, typed.slice(1), range));
  }
  if (precededByOperator) return list([]);
  const expected = expectedAt(document.getText(), position).tokenKinds;
  return list(syntaxItems(expected, range).filter((item) => item.label.startsWith(typed)));
}

/** Creates the default completion provider. */
export function createCompletionProvider(options: CompletionOptions = {}): CompletionProvider {
  const maxFeatures = options.maxFeatures ?? 30;
  return {
    resolve: resolveFeatureItem,
    async complete(document, position, context) {
      const lineText = document.getText({ start: { line: position.line, character: 0 }, end: position });
      const cursor: Cursor = { document, position, lineText, context, maxFeatures };
      return (await completeInText(cursor)) ?? completeWord(cursor);
    },
  };
}
