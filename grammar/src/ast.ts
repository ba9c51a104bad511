// AST of the Steer query language, as built from the CST by `ast-builder.ts` and printed by `format.ts`.
// Every node carries an LSP-style `range` (0-based line and UTF-16 character, end exclusive).

/** A 0-based position in a document (LSP convention: `character` counts UTF-16 code units). */
export interface Position {
  line: number;
  character: number;
}

/** A half-open span `[start, end)` in a document. */
export interface Range {
  start: Position;
  end: Position;
}

/** A problem found while parsing or compiling, with a stable `code` clients can match on. */
export interface Diagnostic {
  code: string;
  message: string;
  range: Range;
  severity: 'error' | 'warning' | 'info';
}

/** A whole `.steer` document: header pragmas (`# sae: ...`) and statements, one per line or `;`. */
export interface SteerFile {
  kind: 'file';
  header: Pragma[];
  statements: Statement[];
  range: Range;
}

/** `# key: value` in the leading comment block of a file (e.g. `# sae: sae-0123`). */
export interface Pragma {
  kind: 'pragma';
  key: string;
  value: string;
  range: Range;
}

export type Statement = Query | PresetDefinition;

/** One search: texts, steering edits and preset references, options and at most one filter. */
export interface Query {
  kind: 'query';
  texts: TextTerm[];
  steers: Steer[];
  options: OptionSetting[];
  where?: FilterExpression;
  range: Range;
}

/** `preset career = +@salary*0.5 +@jobs*0.3` */
export interface PresetDefinition {
  kind: 'preset-definition';
  name: string;
  nameRange: Range;
  steers: Steer[];
  range: Range;
}

/** `"jobs"` or `"skills"^0.5` */
export interface TextTerm {
  kind: 'text';
  text: string;
  weight?: number;
  range: Range;
}

export type Steer = Edit | PresetReference;

/** `+` amplify, `-` suppress, `=` set. */
export type EditOperator = 'amplify' | 'suppress' | 'set';

/** `+f12*0.5`, `-@jobs`, `=~"career growth"/3*2x`; a bare reference (`@jobs`) is an amplify. */
export interface Edit {
  kind: 'edit';
  op: EditOperator;
  target: FeatureReference;
  strength?: Strength;
  range: Range;
}

export type FeatureReference = FeatureIdReference | AliasReference | ConceptReference;

/** `f179723` */
export interface FeatureIdReference {
  kind: 'feature-id';
  id: number;
  range: Range;
}

/** `@learning` or `@"learning strategy"`: resolved by alias or label. */
export interface AliasReference {
  kind: 'alias';
  name: string;
  range: Range;
}

/** `~"career growth"` or `~"career growth"/3`: the best-matching features, found at compile time. */
export interface ConceptReference {
  kind: 'concept';
  text: string;
  count?: number;
  range: Range;
}

/** `*0.5` (absolute latent units) or `*2x` (relative to the query's own code; see SPEC.md "Strengths"). */
export interface Strength {
  kind: 'strength';
  value: number;
  unit: 'absolute' | 'relative';
  range: Range;
}

/** `$career` */
export interface PresetReference {
  kind: 'preset-ref';
  name: string;
  range: Range;
}

/** `k=10`, `mode=hybrid`, `index=docs`, `steer=residual`, `code=pursuit`, `candidates=200` */
export interface OptionSetting {
  kind: 'option';
  key: string;
  value: string | number;
  range: Range;
}

export type FilterValue = string | number | boolean;

export type FilterExpression = AndFilter | OrFilter | NotFilter | CompareFilter | InFilter | BetweenFilter;

export interface AndFilter {
  kind: 'and';
  operands: FilterExpression[];
  range: Range;
}

export interface OrFilter {
  kind: 'or';
  operands: FilterExpression[];
  range: Range;
}

export interface NotFilter {
  kind: 'not';
  operand: FilterExpression;
  range: Range;
}

/** `lang:en`, `lang!=en`, `year>=2020` (ordering operators take numbers only). */
export interface CompareFilter {
  kind: 'compare';
  field: string;
  op: ':' | '!=' | '>' | '>=' | '<' | '<=';
  value: FilterValue;
  range: Range;
}

/** `lang:(en,de)` */
export interface InFilter {
  kind: 'in';
  field: string;
  values: Array<string | number>;
  range: Range;
}

/** `year:2020..2023` (inclusive on both ends) */
export interface BetweenFilter {
  kind: 'between';
  field: string;
  from: number;
  to: number;
  range: Range;
}

/** Any AST node (for `nodeAt`). */
export type AstNode =
  | SteerFile
  | Pragma
  | Statement
  | TextTerm
  | Steer
  | FeatureReference
  | Strength
  | OptionSetting
  | FilterExpression;
