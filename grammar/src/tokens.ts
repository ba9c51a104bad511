// Token definitions of the Steer query language: one ordered `allTokens` list for the lexer, with keywords
// before identifiers (`longer_alt`). The TextMate grammar is generated from `tokenScopes` below.
import { createToken, Lexer, type TokenType } from 'chevrotain';

/** Identifier characters: a letter or `_` first, then letters, digits, `_`, `.` and `-`. */
export const IDENTIFIER_PATTERN = /[A-Za-z_][A-Za-z0-9_.-]*/;

export const Identifier = createToken({ name: 'Identifier', pattern: IDENTIFIER_PATTERN, label: 'a name' });

/** Keywords match in any letter case (`where`, `AND`, `Not`); the formatter prints them in lower case. */
function keyword(word: string): TokenType {
  // NOTE: spelled as character classes rather than the `i` flag so the TextMate grammar (Oniguruma) and
  // JavaScript read the same pattern.
  const anyCase = [...word].map((ch) => `[${ch}${ch.toUpperCase()}]`).join('');
  return createToken({
    name: word[0]!.toUpperCase() + word.slice(1),
    pattern: new RegExp(anyCase),
    longer_alt: Identifier,
    label: `'${word}'`,
  });
}

export const Where = keyword('where');
export const And = keyword('and');
export const Or = keyword('or');
export const Not = keyword('not');
export const Preset = keyword('preset');
export const True = keyword('true');
export const False = keyword('false');
export const keywords = [Where, And, Or, Not, Preset, True, False];
/** The keywords in lower case; a name equal to one of them in any case must be quoted. */
export const keywordWords = ['where', 'and', 'or', 'not', 'preset', 'true', 'false'];

/** `f179723`: a feature (latent) by index. `f12abc` stays an identifier. */
export const FeatureId = createToken({
  name: 'FeatureId',
  pattern: /f[0-9]+/,
  longer_alt: Identifier,
  label: 'a feature id (f123)',
});

/** `@learning`: a feature by alias or label; `@"learning strategy"` is `At` followed by a string. */
export const AliasRef = createToken({
  name: 'AliasRef',
  pattern: /@[A-Za-z_][A-Za-z0-9_.-]*/,
  label: 'an alias (@name)',
});
export const At = createToken({ name: 'At', pattern: /@/, label: "'@'" });
/** `$career`: a preset reference. */
export const PresetRef = createToken({
  name: 'PresetRef',
  pattern: /\$[A-Za-z_][A-Za-z0-9_.-]*/,
  label: 'a preset ($name)',
});

export const StringLiteral = createToken({
  name: 'StringLiteral',
  pattern: /"(?:[^"\\\r\n]|\\.)*"/,
  label: 'a quoted text',
});
/** A string cut off by the end of the line; the lexer wrapper turns it into a StringLiteral plus a diagnostic. */
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /"(?:[^"\\\r\n]|\\.)*\\?/,
  label: 'a quoted text',
});

/** `2x`, `0.5x`: a strength relative to the feature's typical activation. */
export const RelativeNumber = createToken({
  name: 'RelativeNumber',
  pattern: /(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?x(?![A-Za-z0-9_])/,
  label: 'a relative strength (2x)',
});
export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: /(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/,
  label: 'a number',
});

export const GreaterEquals = createToken({ name: 'GreaterEquals', pattern: />=/, label: "'>='" });
export const LessEquals = createToken({ name: 'LessEquals', pattern: /<=/, label: "'<='" });
export const NotEquals = createToken({ name: 'NotEquals', pattern: /!=/, label: "'!='" });
export const Greater = createToken({ name: 'Greater', pattern: />/, label: "'>'" });
export const Less = createToken({ name: 'Less', pattern: /</, label: "'<'" });
export const Equals = createToken({ name: 'Equals', pattern: /=/, label: "'='" });
export const Plus = createToken({ name: 'Plus', pattern: /\+/, label: "'+'" });
export const Minus = createToken({ name: 'Minus', pattern: /-/, label: "'-'" });
export const Star = createToken({ name: 'Star', pattern: /\*/, label: "'*'" });
export const Caret = createToken({ name: 'Caret', pattern: /\^/, label: "'^'" });
export const Tilde = createToken({ name: 'Tilde', pattern: /~/, label: "'~'" });
export const Slash = createToken({ name: 'Slash', pattern: /\//, label: "'/'" });
export const DotDot = createToken({ name: 'DotDot', pattern: /\.\./, label: "'..'" });
export const Colon = createToken({ name: 'Colon', pattern: /:/, label: "':'" });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: "','" });
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: "')'" });

/** Statement separators: a newline or `;`. The parse API splits statements on these; the parser never sees them. */
export const Newline = createToken({
  name: 'Newline',
  pattern: /\r?\n|\r/,
  label: 'end of line',
  line_breaks: true,
});
export const Semicolon = createToken({ name: 'Semicolon', pattern: /;/, label: "';'" });

export const Comment = createToken({ name: 'Comment', pattern: /#[^\r\n]*/, group: 'comments' });
/** A backslash at the end of a line continues the statement on the next line. */
export const LineContinuation = createToken({
  name: 'LineContinuation',
  pattern: /\\[ \t]*(?:\r?\n|\r)/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
export const Whitespace = createToken({
  name: 'Whitespace',
  pattern: /[ \t\f\v\u00a0\ufeff]+/,
  group: Lexer.SKIPPED,
});

/** Every token type, in lexing priority order. */
export const allTokens: TokenType[] = [
  Whitespace,
  LineContinuation,
  Newline,
  Comment,
  StringLiteral,
  UnterminatedString,
  ...keywords,
  FeatureId,
  Identifier,
  AliasRef,
  At,
  PresetRef,
  RelativeNumber,
  NumberLiteral,
  DotDot,
  GreaterEquals,
  LessEquals,
  NotEquals,
  Greater,
  Less,
  Equals,
  Plus,
  Minus,
  Star,
  Caret,
  Tilde,
  Slash,
  Colon,
  Comma,
  LParen,
  RParen,
  Semicolon,
];

/**
 * TextMate scope of each highlighted token (by token name); the generator walks `allTokens` in order and
 * emits one pattern per token listed here.
 */
export const tokenScopes: Readonly<Record<string, string>> = {
  Comment: 'comment.line.number-sign.steer',
  StringLiteral: 'string.quoted.double.steer',
  UnterminatedString: 'string.quoted.double.steer',
  Where: 'keyword.control.where.steer',
  And: 'keyword.operator.logical.steer',
  Or: 'keyword.operator.logical.steer',
  Not: 'keyword.operator.logical.steer',
  Preset: 'storage.type.preset.steer',
  True: 'constant.language.boolean.steer',
  False: 'constant.language.boolean.steer',
  FeatureId: 'variable.other.feature.steer',
  AliasRef: 'variable.other.alias.steer',
  At: 'variable.other.alias.steer',
  PresetRef: 'entity.name.function.preset.steer',
  RelativeNumber: 'constant.numeric.relative.steer',
  NumberLiteral: 'constant.numeric.steer',
  Identifier: 'variable.parameter.steer',
  DotDot: 'keyword.operator.range.steer',
  GreaterEquals: 'keyword.operator.comparison.steer',
  LessEquals: 'keyword.operator.comparison.steer',
  NotEquals: 'keyword.operator.comparison.steer',
  Greater: 'keyword.operator.comparison.steer',
  Less: 'keyword.operator.comparison.steer',
  Equals: 'keyword.operator.steer',
  Plus: 'keyword.operator.amplify.steer',
  Minus: 'keyword.operator.suppress.steer',
  Star: 'keyword.operator.strength.steer',
  Caret: 'keyword.operator.weight.steer',
  Tilde: 'keyword.operator.concept.steer',
  Slash: 'keyword.operator.count.steer',
  Colon: 'punctuation.separator.key-value.steer',
  Comma: 'punctuation.separator.comma.steer',
  Semicolon: 'punctuation.terminator.statement.steer',
};

let lexer: Lexer | undefined;

/**
 * Builds a lexer for the Steer tokens. `validate` runs Chevrotain's token-definition checks (they throw on a
 * broken token list); off by default because they cost most of building the lexer and the token list is fixed
 * at build time; the grammar tests build one with them on.
 */
export function createSteerLexer(options: { validate?: boolean } = {}): Lexer {
  return new Lexer(allTokens, {
    positionTracking: 'full',
    ensureOptimizations: false,
    skipValidations: options.validate !== true,
  });
}

/** The lexer that `parse()` reuses (lexers are stateless between `tokenize` calls), built on the first call. */
export function steerLexer(): Lexer {
  lexer ??= createSteerLexer();
  return lexer;
}
