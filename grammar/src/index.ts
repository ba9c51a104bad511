// Public door of @steer/grammar: parse, format, compile and editor helpers for the Steer query language.
export type * from './ast.js';
export { parse, type ParseResult, ParseErrorCode, MAX_NESTING } from './parse.js';
export { OPTION_KEYS, MODE_VALUES, STEER_VALUES, CODE_VALUES, MAX_RESULTS } from './ast-builder.js';
export { format, formatStatement, formatFilter } from './format.js';
export { compile, compilePreset, compileText } from './compile.js';
export { compileFilter } from './compile/filters.js';
export { resolveAmplifyUnit, resolveStrengthUnit } from './compile/strength.js';
export {
  CompileCode,
  STRENGTH_DEFAULTS,
  type CompileContext,
  type FeatureCatalog,
  type FeatureInfo,
  type Filter,
  type PlannedEdit,
  type PresetStore,
  type SearchOptions,
  type SteeringPlan,
  type StrengthCalibration,
  type StrengthUnit,
} from './compile/types.js';
export { tokenAt, nodeAt, expectedAt, type TokenInfo, type Expectation } from './editor.js';
export { allTokens, tokenScopes, keywordWords } from './tokens.js';
export { buildTextMateGrammar, type TextMateGrammar } from './textmate.js';
