// Semantic tokens from the AST: texts, feature ids and aliases (dead features marked deprecated), concepts,
// strengths, presets, option keys and values, and filter fields.
import type { AstNode, FeatureCatalog, FilterExpression, Range, Statement } from '@steer/grammar';
import type { SemanticTokens, SemanticTokensLegend } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { DocumentContext } from './context.js';
import { parsed } from './document.js';

/** Semantic tokens of a whole .steer document. */
export interface SemanticTokensProvider {
  readonly legend: SemanticTokensLegend;
  tokens(document: TextDocument, context: DocumentContext): SemanticTokens;
}

const TOKEN_TYPES = ['string', 'number', 'variable', 'function', 'property', 'enumMember'] as const;
const TOKEN_MODIFIERS = ['declaration', 'deprecated', 'readonly'] as const;
type TokenType = (typeof TOKEN_TYPES)[number];
type TokenModifier = (typeof TOKEN_MODIFIERS)[number];

/** The token legend the server announces. */
export const SEMANTIC_TOKENS_LEGEND: SemanticTokensLegend = {
  tokenTypes: [...TOKEN_TYPES],
  tokenModifiers: [...TOKEN_MODIFIERS],
};

interface Token {
  range: Range;
  type: TokenType;
  modifiers: TokenModifier[];
}

function collect(statement: Statement, catalog: FeatureCatalog | undefined, out: Token[]): void {
  const push = (range: Range, type: TokenType, modifiers: TokenModifier[] = []) => {
    if (range.start.line === range.end.line && range.end.character > range.start.character)
      out.push({ range, type, modifiers });
  };
  const steer = (node: AstNode): void => {
    if (node.kind === 'preset-ref') return push(node.range, 'function');
    if (node.kind !== 'edit') return;
    const target = node.target;
    if (target.kind === 'feature-id') {
      const info = catalog?.get(target.id);
      push(target.range, 'variable', info?.dead ? ['deprecated'] : []);
    } else if (target.kind === 'alias') push(target.range, 'variable', ['readonly']);
    else push(target.range, 'string');
    if (node.strength) push(node.strength.range, 'number');
  };
  const filter = (node: FilterExpression): void => {
    if (node.kind === 'and' || node.kind === 'or') node.operands.forEach(filter);
    else if (node.kind === 'not') filter(node.operand);
    else {
      const field = node.field;
      const start = node.range.start;
      push({ start, end: { line: start.line, character: start.character + field.length } }, 'property');
    }
  };
  if (statement.kind === 'preset-definition') {
    push(statement.nameRange, 'function', ['declaration']);
    statement.steers.forEach(steer);
    return;
  }
  for (const text of statement.texts) push(text.range, 'string');
  statement.steers.forEach(steer);
  for (const option of statement.options) {
    const { start, end } = option.range;
    const keyEnd = { line: start.line, character: start.character + option.key.length };
    push({ start, end: keyEnd }, 'property');
    push(
      { start: { line: start.line, character: keyEnd.character + 1 }, end },
      typeof option.value === 'number' ? 'number' : 'enumMember',
    );
  }
  if (statement.where) filter(statement.where);
}

/** Creates the default semantic tokens provider. */
export function createSemanticTokensProvider(): SemanticTokensProvider {
  return {
    legend: SEMANTIC_TOKENS_LEGEND,
    tokens(document, context) {
      const tokens: Token[] = [];
      for (const statement of parsed(document).ast.statements) collect(statement, context.catalog, tokens);
      tokens.sort(
        (a, b) =>
          a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character,
      );
      const data: number[] = [];
      let line = 0;
      let character = 0;
      let lastEnd = { line: -1, character: 0 };
      for (const token of tokens) {
        const { start, end } = token.range;
        if (start.line === lastEnd.line && start.character < lastEnd.character) continue; // no overlaps
        const deltaLine = start.line - line;
        data.push(
          deltaLine,
          deltaLine === 0 ? start.character - character : start.character,
          end.character - start.character,
          TOKEN_TYPES.indexOf(token.type),
          token.modifiers.reduce((bits, m) => bits | (1 << TOKEN_MODIFIERS.indexOf(m)), 0),
        );
        line = start.line;
        character = start.character;
        lastEnd = end;
      }
      return { data };
    },
  };
}
