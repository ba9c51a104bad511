// Parsed .steer documents, cached per document version, and lookups by position shared by the providers.
import {
  nodeAt,
  parse,
  type AstNode,
  type FeatureCatalog,
  type ParseResult,
  type Position,
  type Range,
  type Statement,
} from '@steer/grammar';
import type { TextDocument } from 'vscode-languageserver-textdocument';

const cache = new WeakMap<TextDocument, { version: number; result: ParseResult }>();

/** The parse of a document's current text (parsed once per version). */
export function parsed(document: TextDocument): ParseResult {
  const hit = cache.get(document);
  if (hit && hit.version === document.version) return hit.result;
  const result = parse(document.getText());
  cache.set(document, { version: document.version, result });
  return result;
}

export function before(a: Position, b: Position): boolean {
  return a.line < b.line || (a.line === b.line && a.character < b.character);
}

/** True when `position` lies in `range`, its end included (the cursor right after a word is "on" it). */
export function contains(range: Range, position: Position): boolean {
  return !before(position, range.start) && !before(range.end, position);
}

/** The statement whose lines include `position`'s line (the nearest one on that line). */
export function statementAt(result: ParseResult, position: Position): Statement | undefined {
  const onLine = result.ast.statements.filter(
    (s) => s.range.start.line <= position.line && position.line <= s.range.end.line,
  );
  return onLine.find((s) => contains(s.range, position)) ?? onLine[0];
}

/** The feature reference (`f12`, `@alias`, `~concept`), preset reference or text at `position`, if any. */
export function referenceAt(result: ParseResult, position: Position): AstNode | undefined {
  const node = nodeAt(result.ast, position);
  if (!node) return undefined;
  if (node.kind === 'edit') return node.target;
  if (node.kind === 'strength') return undefined;
  return node;
}

/** Feature ids a reference resolves to without searching: an id, or a unique alias/label. */
export function resolveDirect(node: AstNode, catalog: FeatureCatalog): number | undefined {
  if (node.kind === 'feature-id') return node.id >= 0 && node.id < catalog.nLatents ? node.id : undefined;
  if (node.kind === 'alias') {
    const found = [...new Set(catalog.byAliasOrLabel(node.name).map((f) => f.id))];
    return found.length === 1 ? found[0] : undefined;
  }
  return undefined;
}

/** The source text of `range` in `text`. */
export function textOf(document: TextDocument, range: Range): string {
  return document.getText(range);
}
