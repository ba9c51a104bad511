// The `parse()` API: lex, split into statements, parse each with the one recovering parser, build the AST.
// Never throws: every problem becomes a Diagnostic with a stable code and a range.
import type { ILexingError, IRecognitionException, IToken } from 'chevrotain';
import type { Diagnostic, Pragma, Range, Statement, SteerFile } from './ast.js';
import { AstBuilder, tokenRange } from './ast-builder.js';
import { UNEXPECTED_PREFIX, steerParser, type SteerParser } from './parser.js';
import { Newline, Semicolon, StringLiteral, UnterminatedString, steerLexer } from './tokens.js';

/** Result of `parse`: an AST (partial when there were errors) and the diagnostics, in document order. */
export interface ParseResult {
  ast: SteerFile;
  errors: Diagnostic[];
}

/** A header pragma comment: `# key: value`. */
export const PRAGMA_PATTERN = /^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*:\s*(.*?)\s*$/;

/** Diagnostic codes of parse(); see SPEC.md "Diagnostics". */
export const ParseErrorCode = {
  UnexpectedCharacter: 'unexpected-character',
  UnterminatedString: 'unterminated-string',
  MismatchedToken: 'mismatched-token',
  NoViableAlternative: 'no-viable-alternative',
  EarlyExit: 'early-exit',
  UnexpectedInput: 'unexpected-input',
  NestingTooDeep: 'nesting-too-deep',
  InternalError: 'internal-error',
} as const;

/** Deepest filter nesting parse() accepts (the parser is recursive descent; this keeps it off the stack limit). */
export const MAX_NESTING = 200;

/** The deepest nesting of `(` plus chained `not`s in a statement's tokens. */
function nestingDepth(tokens: IToken[]): number {
  let depth = 0;
  let nots = 0;
  let max = 0;
  for (const token of tokens) {
    const name = token.tokenType.name;
    if (name === 'LParen') depth++;
    else if (name === 'RParen') depth = Math.max(0, depth - 1);
    nots = name === 'Not' ? nots + 1 : 0;
    max = Math.max(max, depth + nots);
  }
  return max;
}

const exceptionCodes: Record<string, string> = {
  MismatchedTokenException: ParseErrorCode.MismatchedToken,
  NoViableAltException: ParseErrorCode.NoViableAlternative,
  EarlyExitException: ParseErrorCode.EarlyExit,
  NotAllInputParsedException: ParseErrorCode.UnexpectedInput,
};

/** Converts a 0-based offset to a Position with a precomputed table of line starts. */
export class LineIndex {
  private readonly lineStarts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch === 10) this.lineStarts.push(i + 1);
      else if (ch === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        this.lineStarts.push(i + 1);
      }
    }
  }
  position(offset: number): { line: number; character: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: offset - this.lineStarts[lo]! };
  }
  offset(position: { line: number; character: number }): number {
    const start = this.lineStarts[Math.max(0, Math.min(position.line, this.lineStarts.length - 1))]!;
    return Math.min(this.text.length, start + Math.max(0, position.character));
  }
  range(startOffset: number, endOffset: number): Range {
    return { start: this.position(startOffset), end: this.position(endOffset) };
  }
}

/** The tokens of a document split into statements, with the separator that ended each one. */
export interface LexedDocument {
  statements: Array<{ tokens: IToken[]; end: IToken | undefined }>;
  comments: IToken[];
  lexErrors: Diagnostic[];
  lines: LineIndex;
}

/** Lexes `text` and splits the tokens into statements on newlines and `;`. */
export function lexDocument(text: string): LexedDocument {
  const lines = new LineIndex(text);
  const lexed = steerLexer().tokenize(text);
  const lexErrors = lexed.errors.map((e: ILexingError) => lexError(text, e, lines));
  const statements: LexedDocument['statements'] = [];
  let current: IToken[] = [];
  for (const token of lexed.tokens) {
    if (token.tokenType === Newline || token.tokenType === Semicolon) {
      if (current.length > 0) statements.push({ tokens: current, end: token });
      current = [];
      continue;
    }
    if (token.tokenType === UnterminatedString) {
      lexErrors.push({
        code: ParseErrorCode.UnterminatedString,
        message: `expected a closing '"' before the end of the line, found ${token.image.endsWith('\\') ? 'a trailing backslash' : 'none'}`,
        range: tokenRange(token),
        severity: 'error',
      });
      token.tokenType = StringLiteral;
      token.tokenTypeIdx = StringLiteral.tokenTypeIdx!;
      token.payload = 'unterminated';
    }
    current.push(token);
  }
  if (current.length > 0) statements.push({ tokens: current, end: undefined });
  return { statements, comments: lexed.groups['comments'] ?? [], lexErrors, lines };
}

function lexError(text: string, error: ILexingError, lines: LineIndex): Diagnostic {
  // Chevrotain reports one error per run of unlexable characters; name them all.
  const found = text.slice(error.offset, error.offset + error.length);
  return {
    code: ParseErrorCode.UnexpectedCharacter,
    message: `unexpected character${found.length > 1 ? 's' : ''} ${JSON.stringify(found)}: expected a quoted text, a feature edit (+f12, -@alias, =~"concept"), a $preset, an option (k=10) or where`,
    range: lines.range(error.offset, error.offset + error.length),
    severity: 'error',
  };
}

function describeEnd(end: IToken | undefined): string {
  if (!end) return 'end of input';
  return end.tokenType === Semicolon ? "';'" : 'end of line';
}

function recognitionError(e: IRecognitionException, tokens: IToken[]): Diagnostic {
  const token = e.token;
  let range: Range;
  if (token && !Number.isNaN(token.startOffset) && token.tokenType.name !== 'EOF') range = tokenRange(token);
  else {
    // At the end of the statement: a zero-width range right after the last real token.
    const last = [...tokens].reverse().find((t) => !t.isInsertedInRecovery);
    const at = last ? tokenRange(last).end : { line: 0, character: 0 };
    range = { start: at, end: at };
  }
  const code = e.message.startsWith(UNEXPECTED_PREFIX)
    ? ParseErrorCode.UnexpectedInput
    : (exceptionCodes[e.name] ?? ParseErrorCode.MismatchedToken);
  return { code, message: e.message, range, severity: 'error' };
}

function header(comments: IToken[], firstStatement: IToken | undefined): Pragma[] {
  const pragmas: Pragma[] = [];
  for (const comment of comments) {
    if (firstStatement && comment.startOffset > firstStatement.startOffset) break;
    const match = PRAGMA_PATTERN.exec(comment.image);
    if (match) pragmas.push({ kind: 'pragma', key: match[1]!, value: match[2]!, range: tokenRange(comment) });
  }
  return pragmas;
}

function compareRanges(a: Diagnostic, b: Diagnostic): number {
  return a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character;
}

/**
 * Parses a Steer document (one statement per line or `;`). Never throws: on any input it returns an AST,
 * partial where the input had errors, and diagnostics with stable codes and 0-based ranges.
 */
export function parse(text: string): ParseResult {
  const lines = new LineIndex(String(text ?? ''));
  const fileRange = lines.range(0, lines.text.length);
  try {
    const doc = lexDocument(lines.text);
    const parser = steerParser();
    const errors: Diagnostic[] = [...doc.lexErrors];
    const statements: Statement[] = [];
    for (const { tokens, end } of doc.statements) {
      const nesting = nestingDepth(tokens);
      if (nesting > MAX_NESTING) {
        errors.push({
          code: ParseErrorCode.NestingTooDeep,
          message: `expected at most ${MAX_NESTING} nested parentheses or 'not's in a filter, found ${nesting}; simplify the filter`,
          range: span(tokenRange(tokens[0]!), tokenRange(tokens[tokens.length - 1]!)),
          severity: 'error',
        });
        continue;
      }
      const astBuilder = new AstBuilder(span(tokenRange(tokens[0]!), tokenRange(tokens[tokens.length - 1]!)));
      parser.statementEnd.description = describeEnd(end);
      parser.input = tokens;
      const statement = astBuilder.statement(parser.statement());
      let rest = collectErrors(parser, tokens, errors);
      // A token that cannot start an item ends the parse early; skip it and read the rest as more items.
      while (rest.length > 0) {
        parser.input = rest;
        const more = astBuilder.statement(parser.continuation());
        mergeInto(statement, more, astBuilder);
        rest = collectErrors(parser, rest, errors);
      }
      statement.range = span(statement.range, lastTokenRange(tokens));
      statements.push(statement);
      // A word the parser already rejected (e.g. `*abc`) needs no second, 'bare-word' diagnostic.
      const syntaxRanges = new Set(errors.map((e) => rangeKey(e.range)));
      errors.push(
        ...astBuilder.diagnostics.filter(
          (d) => d.code !== 'bare-word' || !syntaxRanges.has(rangeKey(d.range)),
        ),
      );
    }
    errors.sort(compareRanges);
    return {
      ast: {
        kind: 'file',
        header: header(doc.comments, doc.statements[0]?.tokens[0]),
        statements,
        range: fileRange,
      },
      errors,
    };
  } catch (cause) {
    // NOTE: a bug guard, not a user-input path: parse() promises never to throw to the editor.
    return {
      ast: { kind: 'file', header: [], statements: [], range: fileRange },
      errors: [
        {
          code: ParseErrorCode.InternalError,
          message: `grammar: internal parser error (${(cause as Error)?.message ?? String(cause)}); please report this input`,
          range: fileRange,
          severity: 'error',
        },
      ],
    };
  }
}

/** Records the parser's errors; returns the tokens after an unparsed token (empty when all was parsed). */
function collectErrors(parser: SteerParser, tokens: IToken[], errors: Diagnostic[]): IToken[] {
  let rest: IToken[] = [];
  for (const e of parser.errors) {
    errors.push(recognitionError(e, tokens));
    if (e.name === 'NotAllInputParsedException') {
      const index = tokens.indexOf(e.token);
      if (index >= 0) rest = tokens.slice(index + 1);
    }
  }
  return rest;
}

function mergeInto(statement: Statement, more: Statement, astBuilder: AstBuilder): void {
  if (more.kind !== 'query') return;
  if (statement.kind === 'preset-definition') {
    statement.steers.push(...more.steers);
    const stray = [...more.texts, ...more.options, ...(more.where ? [more.where] : [])];
    for (const item of stray) {
      astBuilder.diagnostics.push({
        code: 'invalid-preset-item',
        message:
          'a preset holds only feature edits and $presets; move this into the query that uses the preset',
        range: item.range,
        severity: 'error',
      });
    }
    return;
  }
  statement.texts.push(...more.texts);
  statement.steers.push(...more.steers);
  statement.options.push(...more.options);
  if (more.where) {
    statement.where = statement.where
      ? {
          kind: 'and',
          operands: [statement.where, more.where].flatMap((f) => (f.kind === 'and' ? f.operands : [f])),
          range: span(statement.where.range, more.where.range),
        }
      : more.where;
  }
}

function lastTokenRange(tokens: IToken[]): Range {
  const last = [...tokens].reverse().find((t) => !t.isInsertedInRecovery)!;
  return tokenRange(last);
}

function rangeKey(range: Range): string {
  return `${range.start.line}:${range.start.character}-${range.end.line}:${range.end.character}`;
}

function span(from: Range, to: Range): Range {
  return { start: from.start, end: to.end };
}
