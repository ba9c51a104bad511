// The Steer CstParser: rules as class properties, self-analysis in the constructor, one reused instance built on
// first use. It parses ONE statement; `parse.ts` splits a document into statements on newlines and `;` first.
import {
  CstParser,
  EOF,
  tokenLabel,
  type IOrAlt,
  type IParserErrorMessageProvider,
  type IToken,
  type TokenType,
} from 'chevrotain';
import * as t from './tokens.js';

/** How the end of the statement being parsed is described in messages ("end of line", "';'", "end of input"). */
interface StatementEnd {
  description: string;
}

function describeToken(token: IToken | undefined, end: StatementEnd): string {
  if (!token || token.tokenType === EOF) return end.description;
  return `'${token.image}'`;
}

function after(previous: IToken | undefined): string {
  return previous && previous.tokenType !== EOF && previous.image ? ` after '${previous.image}'` : '';
}

function labelsOf(paths: TokenType[][]): string {
  const labels = [...new Set(paths.filter((path) => path.length > 0).map((path) => tokenLabel(path[0]!)))];
  if (labels.length === 0) return 'more input';
  if (labels.length === 1) return labels[0]!;
  return `${labels.slice(0, -1).join(', ')} or ${labels[labels.length - 1]}`;
}

const ruleDescriptions: Record<string, string> = {
  statement: 'a query item (a quoted text, a feature edit, a $preset, an option or where)',
  query: 'a query item (a quoted text, a feature edit, a $preset, an option or where)',
  continuation: 'a query item (a quoted text, a feature edit, a $preset, an option or where)',
};

/** The message for a token that cannot continue the statement; `parse.ts` keys code 'unexpected-input' on it. */
export const UNEXPECTED_PREFIX = 'unexpected ';

function unexpectedMessage(actual: IToken, ruleName: string, end: StatementEnd): string {
  const expected = ruleDescriptions[ruleName] ?? ruleDescriptions['statement'];
  return `${UNEXPECTED_PREFIX}${describeToken(actual, end)}: expected ${expected} or the end of the statement`;
}

/** Messages that say what was expected and what was found (the codes come from the exception names). */
function messageProvider(end: StatementEnd): IParserErrorMessageProvider {
  return {
    buildMismatchTokenMessage({ expected, actual, previous, ruleName }) {
      if (expected === EOF) return unexpectedMessage(actual, ruleName, end);
      return `expected ${tokenLabel(expected)}${after(previous)}, found ${describeToken(actual, end)}`;
    },
    buildNotAllInputParsedMessage({ firstRedundant, ruleName }) {
      return unexpectedMessage(firstRedundant, ruleName, end);
    },
    buildNoViableAltMessage({ expectedPathsPerAlt, actual, previous }) {
      const message = `expected ${labelsOf(expectedPathsPerAlt.flat())}${after(previous)}, found ${describeToken(actual[0], end)}`;
      if (previous?.image === '*' && actual[0]?.image === '-') {
        return `${message}: strengths are not signed, the operator gives the sign (-f12*0.5 subtracts 0.5)`;
      }
      return message;
    },
    buildEarlyExitMessage({ expectedIterationPaths, actual, previous }) {
      return `expected ${labelsOf(expectedIterationPaths)}${after(previous)}, found ${describeToken(actual[0], end)}`;
    },
  };
}

export interface SteerParserOptions {
  /**
   * Run Chevrotain's grammar validations (ambiguities, left recursion, ...) in the constructor; they throw on a
   * broken grammar. Default false: they cost a third of building the parser, which every server start pays, and
   * the grammar does not change at run time; the grammar tests build the parser with them on.
   */
  validate?: boolean;
}

/** Grammar of one statement; see SPEC.md for the EBNF. */
export class SteerParser extends CstParser {
  // NOTE: OR alternatives are built once and cached (Chevrotain's performance advice): building the arrays
  // of closures on every call was most of the parser's allocation, and GC pauses showed in editor latency.
  private readonly alternatives: Record<string, IOrAlt<unknown>[]> = {};

  /** How syntax errors describe the end of the statement being parsed; set by `parse.ts` per statement. */
  readonly statementEnd: StatementEnd;

  constructor(options: SteerParserOptions = {}) {
    const statementEnd: StatementEnd = { description: 'end of input' };
    super(t.allTokens, {
      recoveryEnabled: true,
      maxLookahead: 3,
      nodeLocationTracking: 'none',
      errorMessageProvider: messageProvider(statementEnd),
      skipValidations: options.validate !== true,
    });
    this.statementEnd = statementEnd;
    this.performSelfAnalysis();
  }

  public statement = this.RULE('statement', () => {
    this.OR(
      (this.alternatives.statementOR ??= [
        { ALT: () => this.SUBRULE(this.presetDefinition) },
        { ALT: () => this.SUBRULE(this.query) },
      ]),
    );
  });

  public presetDefinition = this.RULE('presetDefinition', () => {
    this.CONSUME(t.Preset);
    this.CONSUME(t.Identifier, { LABEL: 'name' });
    this.CONSUME(t.Equals);
    this.MANY(() => this.SUBRULE(this.item));
  });

  public query = this.RULE('query', () => {
    this.MANY(() => this.SUBRULE(this.item));
  });

  /** Entry rule for the items after a token the parser had to skip (never used as a subrule). */
  public continuation = this.RULE('continuation', () => {
    this.MANY(() => this.SUBRULE(this.item));
  });

  public item = this.RULE('item', () => {
    this.OR(
      (this.alternatives.itemOR ??= [
        { ALT: () => this.SUBRULE(this.textTerm) },
        { ALT: () => this.SUBRULE(this.edit) },
        { ALT: () => this.CONSUME(t.PresetRef) },
        { ALT: () => this.SUBRULE(this.optionSetting) },
        { ALT: () => this.CONSUME(t.Identifier, { LABEL: 'bareWord' }) },
        { ALT: () => this.SUBRULE(this.whereClause) },
      ]),
    );
  });

  public textTerm = this.RULE('textTerm', () => {
    this.CONSUME(t.StringLiteral);
    this.OPTION(() => {
      this.CONSUME(t.Caret);
      this.SUBRULE(this.signedNumber);
    });
  });

  public edit = this.RULE('edit', () => {
    this.OPTION(() =>
      this.OR(
        (this.alternatives.editOR ??= [
          { ALT: () => this.CONSUME(t.Plus) },
          { ALT: () => this.CONSUME(t.Minus) },
          { ALT: () => this.CONSUME(t.Equals) },
        ]),
      ),
    );
    this.SUBRULE(this.featureRef);
    this.OPTION2(() => {
      this.CONSUME(t.Star);
      this.OR2(
        (this.alternatives.editOR2 ??= [
          { ALT: () => this.CONSUME(t.NumberLiteral) },
          { ALT: () => this.CONSUME(t.RelativeNumber) },
        ]),
      );
    });
  });

  public featureRef = this.RULE('featureRef', () => {
    this.OR(
      (this.alternatives.featureRefOR ??= [
        { ALT: () => this.CONSUME(t.FeatureId) },
        { ALT: () => this.CONSUME(t.AliasRef) },
        {
          ALT: () => {
            this.CONSUME(t.At);
            this.CONSUME(t.StringLiteral, { LABEL: 'label' });
          },
        },
        { ALT: () => this.SUBRULE(this.concept) },
      ]),
    );
  });

  public concept = this.RULE('concept', () => {
    this.CONSUME(t.Tilde);
    this.OR(
      (this.alternatives.conceptOR ??= [
        { ALT: () => this.CONSUME(t.StringLiteral) },
        { ALT: () => this.CONSUME(t.Identifier) },
      ]),
    );
    this.OPTION(() => {
      this.CONSUME(t.Slash);
      this.CONSUME(t.NumberLiteral, { LABEL: 'count' });
    });
  });

  public optionSetting = this.RULE('optionSetting', () => {
    this.CONSUME(t.Identifier, { LABEL: 'key' });
    this.CONSUME(t.Equals);
    this.OR(
      (this.alternatives.optionSettingOR ??= [
        { ALT: () => this.CONSUME2(t.Identifier, { LABEL: 'value' }) },
        { ALT: () => this.CONSUME(t.NumberLiteral, { LABEL: 'value' }) },
        { ALT: () => this.CONSUME(t.StringLiteral, { LABEL: 'value' }) },
      ]),
    );
  });

  public whereClause = this.RULE('whereClause', () => {
    this.CONSUME(t.Where);
    this.SUBRULE(this.filterOr);
  });

  public filterOr = this.RULE('filterOr', () => {
    this.SUBRULE(this.filterAnd);
    this.MANY(() => {
      this.CONSUME(t.Or);
      this.SUBRULE2(this.filterAnd);
    });
  });

  public filterAnd = this.RULE('filterAnd', () => {
    this.SUBRULE(this.filterNot);
    this.MANY(() => {
      this.CONSUME(t.And);
      this.SUBRULE2(this.filterNot);
    });
  });

  public filterNot = this.RULE('filterNot', () => {
    this.OR(
      (this.alternatives.filterNotOR ??= [
        {
          ALT: () => {
            this.CONSUME(t.Not);
            this.SUBRULE(this.filterNot);
          },
        },
        {
          ALT: () => {
            this.CONSUME(t.LParen);
            this.SUBRULE(this.filterOr);
            this.CONSUME(t.RParen);
          },
        },
        { ALT: () => this.SUBRULE(this.comparison) },
      ]),
    );
  });

  public comparison = this.RULE('comparison', () => {
    this.OR(
      (this.alternatives.comparisonOR ??= [
        { ALT: () => this.CONSUME(t.Identifier, { LABEL: 'field' }) },
        { ALT: () => this.CONSUME(t.StringLiteral, { LABEL: 'field' }) },
        { ALT: () => this.CONSUME(t.FeatureId, { LABEL: 'field' }) },
      ]),
    );
    this.OR2(
      (this.alternatives.comparisonOR2 ??= [
        {
          ALT: () => {
            // `lang=en` is accepted as a synonym of `lang:en`; the formatter prints `:`.
            this.OR5(
              (this.alternatives.comparisonOR5 ??= [
                { ALT: () => this.CONSUME(t.Colon) },
                { ALT: () => this.CONSUME(t.Equals) },
              ]),
            );
            this.OR3(
              (this.alternatives.comparisonOR3 ??= [
                {
                  ALT: () => {
                    this.CONSUME(t.LParen);
                    this.SUBRULE(this.filterValue, { LABEL: 'listValue' });
                    this.MANY(() => {
                      this.CONSUME(t.Comma);
                      this.SUBRULE2(this.filterValue, { LABEL: 'listValue' });
                    });
                    this.CONSUME(t.RParen);
                  },
                },
                {
                  ALT: () => {
                    this.SUBRULE3(this.filterValue);
                    this.OPTION(() => {
                      this.CONSUME(t.DotDot);
                      this.SUBRULE4(this.filterValue, { LABEL: 'upper' });
                    });
                  },
                },
              ]),
            );
          },
        },
        {
          ALT: () => {
            this.OR4(
              (this.alternatives.comparisonOR4 ??= [
                { ALT: () => this.CONSUME(t.GreaterEquals, { LABEL: 'op' }) },
                { ALT: () => this.CONSUME(t.LessEquals, { LABEL: 'op' }) },
                { ALT: () => this.CONSUME(t.Greater, { LABEL: 'op' }) },
                { ALT: () => this.CONSUME(t.Less, { LABEL: 'op' }) },
                { ALT: () => this.CONSUME(t.NotEquals, { LABEL: 'op' }) },
              ]),
            );
            this.SUBRULE5(this.filterValue);
          },
        },
      ]),
    );
  });

  public filterValue = this.RULE('filterValue', () => {
    this.OR(
      (this.alternatives.filterValueOR ??= [
        { ALT: () => this.CONSUME(t.Identifier) },
        { ALT: () => this.CONSUME(t.StringLiteral) },
        { ALT: () => this.SUBRULE(this.signedNumber) },
        { ALT: () => this.CONSUME(t.True) },
        { ALT: () => this.CONSUME(t.False) },
        { ALT: () => this.CONSUME(t.FeatureId) },
      ]),
    );
  });

  public signedNumber = this.RULE('signedNumber', () => {
    this.OPTION(() => this.CONSUME(t.Minus));
    this.CONSUME(t.NumberLiteral);
  });
}

let parser: SteerParser | undefined;

/**
 * The parser that `parse()` and content assist reuse, built on the first call (~40 ms: not at import, so that a
 * language server answers `initialize` first). Callers set `input` and call one rule; Chevrotain parsers are
 * reusable but not re-entrant, which is fine for synchronous callers.
 */
export function steerParser(): SteerParser {
  parser ??= new SteerParser();
  return parser;
}
