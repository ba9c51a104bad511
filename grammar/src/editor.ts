// Editor helpers for the language server: the token and AST node under the cursor, and which token kinds
// can come next (completion), computed from the token stream with Chevrotain's content assist.
import type { IToken } from 'chevrotain';
import type { AstNode, Position, Range, SteerFile } from './ast.js';
import { tokenRange } from './ast-builder.js';
import { lexDocument } from './parse.js';
import { steerParser } from './parser.js';

/** A token of the document: its kind (token type name, e.g. 'FeatureId'), text and range. */
export interface TokenInfo {
  kind: string;
  image: string;
  range: Range;
}

function before(a: Position, b: Position): boolean {
  return a.line < b.line || (a.line === b.line && a.character < b.character);
}

function contains(range: Range, position: Position): boolean {
  return !before(position, range.start) && !before(range.end, position);
}

function info(token: IToken): TokenInfo {
  return { kind: token.tokenType.name, image: token.image, range: tokenRange(token) };
}

/**
 * The token at `position` (0-based). At a boundary between two tokens the one ending at the cursor wins,
 * which is the word being typed. Returns undefined in whitespace, comments and separators.
 */
export function tokenAt(text: string, position: Position): TokenInfo | undefined {
  const doc = lexDocument(text);
  let found: IToken | undefined;
  for (const statement of doc.statements) {
    for (const token of statement.tokens) {
      if (contains(tokenRange(token), position)) {
        found ??= token;
      }
    }
  }
  return found ? info(found) : undefined;
}

/** The innermost AST node whose range contains `position`, or undefined outside every statement. */
export function nodeAt(ast: SteerFile, position: Position): AstNode | undefined {
  let best: AstNode | undefined;
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (!value || typeof value !== 'object') return;
    const node = value as { kind?: unknown; range?: Range };
    if (typeof node.kind === 'string' && node.range) {
      if (!contains(node.range, position)) return;
      best = value as AstNode;
    }
    for (const [key, inner] of Object.entries(value))
      if (key !== 'range' && key !== 'nameRange') visit(inner);
  };
  visit(ast);
  return best;
}

/** What may be typed at the cursor: the partial word before it and the token kinds that can come next. */
export interface Expectation {
  /** The part of the token being typed that lies before the cursor ('' between tokens). */
  prefix: string;
  /** Range of that partial token (empty at the cursor when there is none); completions replace it. */
  prefixRange: Range;
  /** Token type names that can follow, e.g. ['StringLiteral', 'FeatureId', 'AliasRef', 'Where', ...]. */
  tokenKinds: string[];
}

/** Tokens that a user types character by character (names, ids, numbers); punctuation is complete at once. */
const WORD = /^[@$]?[A-Za-z0-9_.-]+$/;

/** Computes the token kinds that can follow the text before `position` in its statement. */
export function expectedAt(text: string, position: Position): Expectation {
  const doc = lexDocument(text);
  const cursor = doc.lines.offset(position);
  const preceding: IToken[] = [];
  let prefix = '';
  let prefixRange: Range = { start: position, end: position };
  for (const statement of doc.statements) {
    const first = statement.tokens[0]!;
    if (first.startOffset >= cursor) break;
    const endOffset = statement.end ? statement.end.startOffset : text.length;
    if (endOffset < cursor) continue; // the cursor is in a later statement
    for (const token of statement.tokens) {
      const tokenEnd = token.endOffset! + 1;
      if (tokenEnd < cursor) preceding.push(token);
      else if (token.startOffset < cursor && !WORD.test(token.image)) preceding.push(token);
      else if (token.startOffset < cursor) {
        // The cursor is inside or right after this token: it is the word being typed.
        prefix = token.image.slice(0, cursor - token.startOffset);
        prefixRange = { start: tokenRange(token).start, end: position };
      }
    }
  }
  let kinds: string[];
  try {
    const paths = steerParser().computeContentAssist('statement', preceding);
    kinds = [...new Set(paths.map((p) => p.nextTokenType.name))];
  } catch {
    kinds = [];
  }
  return { prefix, prefixRange, tokenKinds: kinds };
}
