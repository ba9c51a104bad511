// CST -> AST visitor. Tolerates the partial CSTs that error recovery produces (missing children, tokens
// inserted by recovery) and reports the semantic checks that need no catalog (options, filter value types).
import type { CstElement, CstNode, IToken } from 'chevrotain';
import type {
  Diagnostic,
  Edit,
  EditOperator,
  FeatureReference,
  FilterExpression,
  FilterValue,
  OptionSetting,
  PresetDefinition,
  Query,
  Range,
  Steer,
  Strength,
  TextTerm,
} from './ast.js';

type Children = Record<string, CstElement[] | undefined>;

/** Option keys and the values they accept; see SPEC.md "Options". */
export const OPTION_KEYS = ['k', 'mode', 'index', 'steer', 'code', 'candidates'] as const;
export const MODE_VALUES = ['dense', 'sparse', 'hybrid'] as const;
export const STEER_VALUES = ['residual', 'reconstructed'] as const;
export const CODE_VALUES = ['auto', 'encoder', 'pursuit'] as const;
/** The values of each option that takes one of a fixed set. */
const CHOICE_VALUES: Record<'mode' | 'steer' | 'code', readonly string[]> = {
  mode: MODE_VALUES,
  steer: STEER_VALUES,
  code: CODE_VALUES,
};
/** Largest accepted `k` and `candidates`. */
export const MAX_RESULTS = 10_000;

/** Range of a real (not recovery-inserted) token. */
export function tokenRange(token: IToken): Range {
  return {
    start: { line: token.startLine! - 1, character: token.startColumn! - 1 },
    end: { line: token.endLine! - 1, character: token.endColumn! },
  };
}

function isReal(token: IToken | undefined): token is IToken {
  return token !== undefined && !token.isInsertedInRecovery && !Number.isNaN(token.startOffset);
}

/** The span from the first to the last of the given ranges that exist (they are in source order). */
function spanOf(...ranges: Array<Range | undefined>): Range | undefined {
  const present = ranges.filter((r): r is Range => r !== undefined);
  return present.length === 0 ? undefined : span(present[0]!, present[present.length - 1]!);
}

function rangeOf(token: IToken | undefined): Range | undefined {
  return token ? tokenRange(token) : undefined;
}

function span(from: Range, to: Range): Range {
  return { start: from.start, end: to.end };
}

function tok(children: Children, name: string, index = 0): IToken | undefined {
  const element = children[name]?.[index] as IToken | undefined;
  return isReal(element) ? element : undefined;
}

function sub(children: Children, name: string, index = 0): CstNode | undefined {
  return children[name]?.[index] as CstNode | undefined;
}

/** The text of a string literal token, escapes resolved (`\n`, `\t`, `\r`; `\x` is `x` otherwise). */
export function unquote(token: IToken): string {
  const image = token.image;
  const body = token.payload === 'unterminated' ? image.slice(1) : image.slice(1, -1);
  if (!body.includes('\\')) return body;
  return body.replace(/\\(.)?/g, (_, ch: string | undefined) =>
    ch === undefined ? '' : ch === 'n' ? '\n' : ch === 't' ? '\t' : ch === 'r' ? '\r' : ch,
  );
}

/**
 * Builds the AST of one statement from its CST (one builder per statement); collects the semantic diagnostics.
 * NOTE: plain methods over `children` rather than Chevrotain's BaseCstVisitor, because recovered CST nodes may
 * miss any child and explicit accessors make those cases visible.
 */
export class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];

  /** `fallback`: the range for nodes whose every token was inserted by recovery (the statement's range). */
  constructor(private readonly fallback: Range) {}

  private error(
    code: string,
    message: string,
    range: Range,
    severity: Diagnostic['severity'] = 'error',
  ): void {
    this.diagnostics.push({ code, message, range, severity });
  }

  statement(node: CstNode): Query | PresetDefinition {
    const definition = sub(node.children, 'presetDefinition');
    if (definition) return this.presetDefinition(definition);
    const query = sub(node.children, 'query');
    return this.query(query ?? node); // `continuation` nodes hold items directly
  }

  private presetDefinition(node: CstNode): PresetDefinition {
    const c = node.children;
    const range = this.fallback;
    const nameToken = tok(c, 'name');
    const steers: Steer[] = [];
    for (const element of c.item ?? []) {
      const itemNode = element as CstNode;
      const item = this.item(itemNode);
      if (item && (item.kind === 'edit' || item.kind === 'preset-ref')) steers.push(item);
      else if (item) {
        const what =
          item.kind === 'text' ? 'a quoted text' : item.kind === 'option' ? 'an option' : 'a where filter';
        this.error(
          'invalid-preset-item',
          `a preset holds only feature edits and $presets, found ${what}; move it into the query that uses the preset`,
          item.range,
        );
      }
    }
    return {
      kind: 'preset-definition',
      name: nameToken?.image ?? '',
      nameRange: nameToken ? tokenRange(nameToken) : range,
      steers,
      range,
    };
  }

  private query(node: CstNode): Query {
    const query: Query = {
      kind: 'query',
      texts: [],
      steers: [],
      options: [],
      range: this.fallback,
    };
    for (const element of node.children.item ?? []) {
      const item = this.item(element as CstNode);
      if (!item) continue;
      if (item.kind === 'text') query.texts.push(item);
      else if (item.kind === 'edit' || item.kind === 'preset-ref') query.steers.push(item);
      else if (item.kind === 'option') query.options.push(item);
      else query.where = query.where ? andOf([query.where, item], span(query.where.range, item.range)) : item;
    }
    return query;
  }

  private item(node: CstNode): TextTerm | Steer | OptionSetting | FilterExpression | undefined {
    const c = node.children;
    const text = sub(c, 'textTerm');
    if (text) return this.textTerm(text);
    const edit = sub(c, 'edit');
    if (edit) return this.edit(edit);
    const option = sub(c, 'optionSetting');
    if (option) return this.option(option);
    const where = sub(c, 'whereClause');
    if (where) {
      const filter = sub(where.children, 'filterOr');
      return filter ? this.filterOr(filter) : undefined;
    }
    const preset = tok(c, 'PresetRef');
    if (preset) return { kind: 'preset-ref', name: preset.image.slice(1), range: tokenRange(preset) };
    const bare = tok(c, 'bareWord');
    if (bare) {
      this.error(
        'bare-word',
        `expected a quoted text, found the unquoted word '${bare.image}'; write "${bare.image}" (or key=value for an option)`,
        tokenRange(bare),
      );
      return { kind: 'text', text: bare.image, range: tokenRange(bare) };
    }
    return undefined;
  }

  private textTerm(node: CstNode): TextTerm | undefined {
    const c = node.children;
    const literal = tok(c, 'StringLiteral');
    if (!literal) return undefined;
    const term: TextTerm = {
      kind: 'text',
      text: unquote(literal),
      range: spanOf(
        tokenRange(literal),
        rangeOf(tok(c, 'Caret')),
        this.signedNumberRange(sub(c, 'signedNumber')),
      )!,
    };
    const number = sub(c, 'signedNumber');
    const weight = number ? this.signedNumber(number) : undefined;
    if (weight !== undefined) term.weight = weight;
    return term;
  }

  private signedNumberRange(node: CstNode | undefined): Range | undefined {
    return node
      ? spanOf(rangeOf(tok(node.children, 'Minus')), rangeOf(tok(node.children, 'NumberLiteral')))
      : undefined;
  }

  private signedNumber(node: CstNode): number | undefined {
    const number = tok(node.children, 'NumberLiteral');
    if (!number) return undefined;
    const value = Number(number.image);
    return tok(node.children, 'Minus') ? -value : value;
  }

  private edit(node: CstNode): Edit | undefined {
    const c = node.children;
    const refNode = sub(c, 'featureRef');
    const target = refNode ? this.featureRef(refNode) : undefined;
    if (!target) return undefined;
    const op: EditOperator = tok(c, 'Minus') ? 'suppress' : tok(c, 'Equals') ? 'set' : 'amplify';
    const opToken = tok(c, 'Plus') ?? tok(c, 'Minus') ?? tok(c, 'Equals');
    const edit: Edit = {
      kind: 'edit',
      op,
      target,
      range: spanOf(rangeOf(opToken), target.range, rangeOf(tok(c, 'Star')))!,
    };
    const absolute = tok(c, 'NumberLiteral');
    const relative = tok(c, 'RelativeNumber');
    let strength: Strength | undefined;
    if (absolute)
      strength = {
        kind: 'strength',
        value: Number(absolute.image),
        unit: 'absolute',
        range: tokenRange(absolute),
      };
    else if (relative)
      strength = {
        kind: 'strength',
        value: Number(relative.image.slice(0, -1)),
        unit: 'relative',
        range: tokenRange(relative),
      };
    if (strength) {
      edit.strength = strength;
      edit.range = span(edit.range, strength.range);
    }
    return edit;
  }

  private featureRef(node: CstNode): FeatureReference | undefined {
    const c = node.children;
    const id = tok(c, 'FeatureId');
    if (id) return { kind: 'feature-id', id: Number(id.image.slice(1)), range: tokenRange(id) };
    const alias = tok(c, 'AliasRef');
    if (alias) return { kind: 'alias', name: alias.image.slice(1), range: tokenRange(alias) };
    const label = tok(c, 'label');
    const at = tok(c, 'At');
    if (label && at) {
      const name = unquote(label);
      if (name.trim() === '')
        this.error('empty-name', 'expected a label inside @"...", found an empty text', tokenRange(label));
      return { kind: 'alias', name, range: span(tokenRange(at), tokenRange(label)) };
    }
    const concept = sub(c, 'concept');
    if (concept) return this.concept(concept);
    return undefined;
  }

  private concept(node: CstNode): FeatureReference | undefined {
    const c = node.children;
    const literal = tok(c, 'StringLiteral');
    const word = tok(c, 'Identifier');
    const tilde = tok(c, 'Tilde');
    if (!tilde || (!literal && !word)) return undefined;
    const text = literal ? unquote(literal) : word!.image;
    const textRange = tokenRange((literal ?? word)!);
    if (text.trim() === '')
      this.error('empty-name', 'expected a concept inside ~"...", found an empty text', textRange);
    const count = tok(c, 'count');
    const ref: FeatureReference = { kind: 'concept', text, range: span(tokenRange(tilde), textRange) };
    if (count) {
      const value = Number(count.image);
      if (!Number.isInteger(value) || value < 1) {
        this.error(
          'invalid-count',
          `expected a whole number of features (1 or more) after '/', found ${count.image}`,
          tokenRange(count),
        );
      }
      ref.count = value;
      ref.range = span(ref.range, tokenRange(count));
    }
    return ref;
  }

  private option(node: CstNode): OptionSetting | undefined {
    const c = node.children;
    const key = tok(c, 'key');
    const valueToken = tok(c, 'value');
    if (!key) return undefined;
    if (!valueToken) return undefined; // the syntax error already says a value is missing
    const range = span(tokenRange(key), tokenRange(valueToken));
    const value: string | number =
      valueToken.tokenType.name === 'NumberLiteral'
        ? Number(valueToken.image)
        : valueToken.tokenType.name === 'StringLiteral'
          ? unquote(valueToken)
          : valueToken.image;
    this.checkOption(key.image, value, tokenRange(key), tokenRange(valueToken));
    return { kind: 'option', key: key.image, value, range };
  }

  private checkOption(key: string, value: string | number, keyRange: Range, valueRange: Range): void {
    const oneOf = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');
    switch (key) {
      case 'k':
      case 'candidates':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_RESULTS) {
          this.error(
            'invalid-option-value',
            `expected ${key} to be a whole number from 1 to ${MAX_RESULTS}, found ${JSON.stringify(value)}`,
            valueRange,
          );
        }
        return;
      case 'mode':
      case 'steer':
      case 'code': {
        const allowed = CHOICE_VALUES[key];
        if (typeof value !== 'string' || !allowed.includes(value)) {
          this.error(
            'invalid-option-value',
            `expected ${key} to be one of ${oneOf(allowed)}, found ${JSON.stringify(value)}`,
            valueRange,
          );
        }
        return;
      }
      case 'index':
        if (typeof value !== 'string' || value === '') {
          this.error(
            'invalid-option-value',
            `expected index to be an index name, found ${JSON.stringify(value)}`,
            valueRange,
          );
        }
        return;
      default:
        this.error(
          'unknown-option',
          `unknown option '${key}': expected one of ${oneOf(OPTION_KEYS)}`,
          keyRange,
        );
    }
  }

  private filterOr(node: CstNode): FilterExpression | undefined {
    const operands = (node.children.filterAnd ?? [])
      .map((n) => this.filterAnd(n as CstNode))
      .filter((f): f is FilterExpression => f !== undefined);
    if (operands.length <= 1) return operands[0];
    return orOf(operands, span(operands[0]!.range, operands[operands.length - 1]!.range));
  }

  private filterAnd(node: CstNode): FilterExpression | undefined {
    const operands = (node.children.filterNot ?? [])
      .map((n) => this.filterNot(n as CstNode))
      .filter((f): f is FilterExpression => f !== undefined);
    if (operands.length <= 1) return operands[0];
    return andOf(operands, span(operands[0]!.range, operands[operands.length - 1]!.range));
  }

  private filterNot(node: CstNode): FilterExpression | undefined {
    const c = node.children;
    const inner = sub(c, 'filterNot');
    if (inner && tok(c, 'Not')) {
      const operand = this.filterNot(inner);
      return operand
        ? { kind: 'not', operand, range: span(tokenRange(tok(c, 'Not')!), operand.range) }
        : undefined;
    }
    const group = sub(c, 'filterOr');
    if (group) {
      const inner = this.filterOr(group);
      // A parenthesised group's node spans its parentheses.
      if (inner) inner.range = spanOf(rangeOf(tok(c, 'LParen')), inner.range, rangeOf(tok(c, 'RParen')))!;
      return inner;
    }
    const comparison = sub(c, 'comparison');
    return comparison ? this.comparison(comparison) : undefined;
  }

  private filterValue(node: CstNode | undefined): { value: FilterValue; range: Range } | undefined {
    if (!node) return undefined;
    const c = node.children;
    const number = sub(c, 'signedNumber');
    if (number) {
      const value = this.signedNumber(number);
      return value === undefined ? undefined : { value, range: this.signedNumberRange(number)! };
    }
    const string = tok(c, 'StringLiteral');
    if (string) return { value: unquote(string), range: tokenRange(string) };
    const other = tok(c, 'Identifier') ?? tok(c, 'FeatureId');
    if (other) return { value: other.image, range: tokenRange(other) };
    const bool = tok(c, 'True') ?? tok(c, 'False');
    if (bool) return { value: bool.image.toLowerCase() === 'true', range: tokenRange(bool) };
    return undefined;
  }

  private comparison(node: CstNode): FilterExpression | undefined {
    const c = node.children;
    const fieldToken = tok(c, 'field');
    if (!fieldToken) return undefined;
    const field = fieldToken.tokenType.name === 'StringLiteral' ? unquote(fieldToken) : fieldToken.image;
    const fieldRange = tokenRange(fieldToken);
    if (c.listValue) {
      const values: Array<string | number> = [];
      let last = spanOf(fieldRange, rangeOf(tok(c, 'LParen')))!;
      for (const element of c.listValue) {
        const item = this.filterValue(element as CstNode);
        if (!item) continue;
        last = item.range;
        if (typeof item.value === 'boolean') {
          this.error(
            'invalid-filter-value',
            `expected a text or a number in the list of ${field}, found ${item.value}; write ${field}:${item.value} instead`,
            item.range,
          );
          continue;
        }
        values.push(item.value);
      }
      return { kind: 'in', field, values, range: spanOf(fieldRange, last, rangeOf(tok(c, 'RParen')))! };
    }
    const opToken = tok(c, 'op');
    const value = this.filterValue(sub(c, 'filterValue'));
    if (!value) return undefined;
    const upperNode = sub(c, 'upper');
    if (upperNode) {
      const upper = this.filterValue(upperNode);
      if (!upper) return undefined;
      for (const bound of [value, upper]) {
        if (typeof bound.value !== 'number') {
          this.error(
            'invalid-filter-value',
            `expected a number as a bound of ${field}:from..to, found ${JSON.stringify(bound.value)}`,
            bound.range,
          );
        }
      }
      if (typeof value.value !== 'number' || typeof upper.value !== 'number') return undefined;
      return {
        kind: 'between',
        field,
        from: value.value,
        to: upper.value,
        range: span(fieldRange, upper.range),
      };
    }
    const op = (opToken?.image ?? ':') as ':' | '!=' | '>' | '>=' | '<' | '<=';
    if (op !== ':' && op !== '!=' && typeof value.value !== 'number') {
      this.error(
        'invalid-filter-value',
        `expected a number after '${op}' (ordering compares numbers), found ${JSON.stringify(value.value)}`,
        value.range,
      );
      return undefined;
    }
    return { kind: 'compare', field, op, value: value.value, range: span(fieldRange, value.range) };
  }
}

function andOf(operands: FilterExpression[], range: Range): FilterExpression {
  return { kind: 'and', operands: operands.flatMap((f) => (f.kind === 'and' ? f.operands : [f])), range };
}

function orOf(operands: FilterExpression[], range: Range): FilterExpression {
  return { kind: 'or', operands: operands.flatMap((f) => (f.kind === 'or' ? f.operands : [f])), range };
}
