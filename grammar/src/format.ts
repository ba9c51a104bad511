// Canonical printer: `format(ast)` prints one statement per line with items in a fixed order
// (texts, edits and presets, options, where). `parse(format(ast))` gives back the same AST, positions aside.
import type {
  Edit,
  FeatureReference,
  FilterExpression,
  FilterValue,
  OptionSetting,
  Pragma,
  Query,
  Statement,
  Steer,
  SteerFile,
  TextTerm,
} from './ast.js';
import { keywordWords } from './tokens.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const FEATURE_ID = /^f[0-9]+$/;
const KEYWORDS = new Set(keywordWords);

/** A number as the lexer reads it back (keeps -0 distinct). */
export function formatNumber(value: number): string {
  return Object.is(value, -0) ? '-0' : String(value);
}

/** A string literal with `\\`, `"`, newline, carriage return and tab escaped. */
export function quote(text: string): string {
  return `"${text.replace(/[\\"\n\r\t]/g, (ch) => (ch === '\n' ? '\\n' : ch === '\r' ? '\\r' : ch === '\t' ? '\\t' : `\\${ch}`))}"`;
}

/** A name printed bare when it lexes back as a plain identifier, quoted otherwise. */
function nameOrQuoted(text: string, allowFeatureId: boolean): string {
  if (NAME.test(text) && !KEYWORDS.has(text.toLowerCase()) && (allowFeatureId || !FEATURE_ID.test(text)))
    return text;
  return quote(text);
}

function formatText(term: TextTerm): string {
  return term.weight === undefined ? quote(term.text) : `${quote(term.text)}^${formatNumber(term.weight)}`;
}

function formatTarget(target: FeatureReference): string {
  switch (target.kind) {
    case 'feature-id':
      return `f${target.id}`;
    case 'alias':
      return NAME.test(target.name) ? `@${target.name}` : `@${quote(target.name)}`;
    case 'concept':
      return target.count === undefined
        ? `~${quote(target.text)}`
        : `~${quote(target.text)}/${formatNumber(target.count)}`;
  }
}

const OPERATOR_SIGIL: Record<Edit['op'], string> = { amplify: '+', suppress: '-', set: '=' };

function formatSteer(steer: Steer): string {
  if (steer.kind === 'preset-ref') return `$${steer.name}`;
  let out = OPERATOR_SIGIL[steer.op] + formatTarget(steer.target);
  if (steer.strength) {
    out += `*${formatNumber(steer.strength.value)}${steer.strength.unit === 'relative' ? 'x' : ''}`;
  }
  return out;
}

function formatOption(option: OptionSetting): string {
  const value =
    typeof option.value === 'number' ? formatNumber(option.value) : nameOrQuoted(option.value, false);
  return `${option.key}=${value}`;
}

function formatValue(value: FilterValue): string {
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'boolean') return String(value);
  return nameOrQuoted(value, true);
}

const PRECEDENCE: Record<FilterExpression['kind'], number> = {
  or: 1,
  and: 2,
  not: 3,
  compare: 4,
  in: 4,
  between: 4,
};

/** Prints a filter expression with the parentheses its structure needs and no others. */
export function formatFilter(filter: FilterExpression, minPrecedence = 0): string {
  let out: string;
  switch (filter.kind) {
    case 'or':
      out = filter.operands.map((f) => formatFilter(f, 2)).join(' or ');
      break;
    case 'and':
      out = filter.operands.map((f) => formatFilter(f, 3)).join(' and ');
      break;
    case 'not':
      out = `not ${formatFilter(filter.operand, 3)}`;
      break;
    case 'compare':
      out = `${nameOrQuoted(filter.field, true)}${filter.op}${formatValue(filter.value)}`;
      break;
    case 'in':
      out = `${nameOrQuoted(filter.field, true)}:(${filter.values.map(formatValue).join(',')})`;
      break;
    case 'between':
      out = `${nameOrQuoted(filter.field, true)}:${formatNumber(filter.from)}..${formatNumber(filter.to)}`;
      break;
  }
  return PRECEDENCE[filter.kind] < minPrecedence ? `(${out})` : out;
}

function formatQuery(query: Query): string {
  const parts = [
    ...query.texts.map(formatText),
    ...query.steers.map(formatSteer),
    ...query.options.map(formatOption),
  ];
  if (query.where) parts.push(`where ${formatFilter(query.where)}`);
  return parts.join(' ');
}

/** Prints one statement on one line. */
export function formatStatement(statement: Statement): string {
  if (statement.kind === 'query') return formatQuery(statement);
  const body = statement.steers.map(formatSteer).join(' ');
  return body ? `preset ${statement.name} = ${body}` : `preset ${statement.name} =`;
}

function formatPragma(pragma: Pragma): string {
  return `# ${pragma.key}: ${pragma.value}`;
}

/**
 * Prints the canonical form of a document: header pragmas, then one statement per line, a final newline.
 * Comments other than header pragmas are not part of the AST and are not printed.
 */
export function format(ast: SteerFile): string {
  const lines = [
    ...ast.header.map(formatPragma),
    ...ast.statements.map(formatStatement).filter((l) => l !== ''),
  ];
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}
