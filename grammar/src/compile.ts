// Compiles one query of the AST into a SteeringPlan against a feature catalog and a preset store:
// resolves feature references, inlines presets, turns strengths into latent units, builds the filter.
// Every problem is a Diagnostic with a range; compile never throws for bad queries or failing lookups.
import type {
  Diagnostic,
  Edit,
  FilterExpression,
  OptionSetting,
  PresetDefinition,
  PresetReference,
  Query,
  Range,
  Steer,
} from './ast.js';
import { MAX_RESULTS, MODE_VALUES, STEER_VALUES } from './ast-builder.js';
import { formatStatement } from './format.js';
import { parse } from './parse.js';

/** What the catalog knows about one feature (latent). */
export interface FeatureInfo {
  id: number;
  label?: string;
  aliases?: string[];
  /** Typical (median non-zero) activation in latent units, for information (relative strengths use the query). */
  typicalActivation?: number;
  /** True when the feature never fired on the catalog's data. */
  dead?: boolean;
}

/** Feature lookups the compiler needs; implemented by @steer/catalog (and by tests in memory). */
export interface FeatureCatalog {
  nLatents: number;
  saeId: string;
  get(id: number): FeatureInfo | undefined;
  byAliasOrLabel(name: string): FeatureInfo[];
  searchConcept(text: string, limit: number): Promise<Array<{ feature: FeatureInfo; score: number }>>;
  /**
   * Resolves a concept to a direction: at most `count` features (the catalog's choice when undefined) with
   * weights such that the weighted sum of their decoder columns has unit length. Optional: without it, the
   * `count` best matches of searchConcept (default {@link STRENGTH_DEFAULTS}.defaultConceptCount) share the
   * direction equally.
   */
  resolveConcept?(text: string, count?: number): Promise<Array<{ feature: FeatureInfo; weight: number }>>;
  /** What `1x` means for this SAE; absent: {@link STRENGTH_DEFAULTS}.defaultCalibration. */
  strengthCalibration?(): StrengthCalibration | undefined;
}

/** What `1x` means for an SAE: `1x` adds `scale x |h|` latent units, |h| being the L2 norm of the query's code. */
export interface StrengthCalibration {
  scale: number;
  /** |h| of a typical query of the SAE's corpus, used when no query is at hand (presets, editors). */
  typicalQueryNorm?: number;
}

/** The latent units of `1x` for one query, and where they came from. */
export interface StrengthUnit {
  /** Latent units per `1x`: `scale x queryNorm` (1 for the fallback). */
  unit: number;
  scale: number;
  /** The |h| the unit was computed from. */
  queryNorm: number;
  /**
   * `query`: the query's own code; `typical-query`: a typical query of the SAE's corpus (no query at hand);
   * `fallback`: neither is known, and `1x` is 1 latent unit.
   */
  basis: 'query' | 'typical-query' | 'fallback';
}

/** Saved presets by name: the text of a .steer file holding `preset <name> = ...` and the SAE it was made for. */
export interface PresetStore {
  get(name: string): Promise<{ text: string; saeId?: string } | undefined>;
}

/** Backend-neutral metadata filter (structurally identical to @steer/search's `Filter`). */
export type Filter =
  | { op: 'eq'; field: string; value: string | number | boolean }
  | { op: 'in'; field: string; values: Array<string | number> }
  | { op: 'range'; field: string; gt?: number; gte?: number; lt?: number; lte?: number }
  | { op: 'and'; filters: Filter[] }
  | { op: 'or'; filters: Filter[] }
  | { op: 'not'; filter: Filter };

/** One resolved latent edit: `add` value to the latent, `set` it to value, or `zero` it (value 0). */
export interface PlannedEdit {
  feature: number;
  op: 'add' | 'set' | 'zero';
  value: number;
  source: Range;
  /** The strength as written when it was relative (`2x` is 2), times the feature's weight in a concept direction. */
  relative?: number;
}

/** Search options of a plan; absent keys mean "backend default". */
export interface SearchOptions {
  k?: number;
  mode?: 'dense' | 'sparse' | 'hybrid';
  index?: string;
  steer?: 'residual' | 'reconstructed';
  numCandidates?: number;
}

/** Everything the engine needs to run one query. */
export interface SteeringPlan {
  texts: Array<{ text: string; weight: number }>;
  edits: PlannedEdit[];
  options: SearchOptions;
  filter?: Filter;
  /** The unit of the plan's relative strengths, when it has any. */
  strengthUnit?: StrengthUnit;
}

export interface CompileContext {
  catalog: FeatureCatalog;
  presets?: PresetStore;
  /** Presets defined in the same document; they shadow the store. */
  definitions?: readonly PresetDefinition[];
  /**
   * The L2 norm |h| of the SAE code of a query's mixed texts (embedded as a query, encoded by the SAE): the base
   * of relative strengths. Without it, a typical query's norm from the catalog's calibration is used.
   */
  queryNorm?(texts: ReadonlyArray<{ text: string; weight: number }>): Promise<number>;
}

/** Sane ranges and defaults; see SPEC.md "Strengths". */
export const STRENGTH_DEFAULTS = {
  /** `+f12` means `+f12*1x`; `=f12` means `=f12*1x`. */
  defaultRelativeStrength: 1,
  /** The calibration of an SAE whose catalog has none (`1x` = 2 |h|, about the measured value of trained SAEs). */
  defaultCalibration: { scale: 2 } as StrengthCalibration,
  /** Latent units per `1x` when neither the query's code nor a typical query's is known. */
  fallbackUnit: 1,
  /** Beyond about 4x the results no longer depend on the query (docs/results/controllability.md). */
  maxRelativeStrength: 10,
  maxAbsoluteStrength: 100,
  maxTextWeight: 10,
  /** Features of a concept direction when neither the query nor the catalog says how many. */
  defaultConceptCount: 3,
  maxConceptCount: 20,
  maxPresetDepth: 8,
} as const;

/** Diagnostic codes of compile(); see SPEC.md "Diagnostics". */
export const CompileCode = {
  NoText: 'no-text',
  UnknownFeature: 'unknown-feature',
  DeadFeature: 'dead-feature',
  UnknownAlias: 'unknown-alias',
  AmbiguousAlias: 'ambiguous-alias',
  ConceptNoMatch: 'concept-no-match',
  ConceptSearchFailed: 'concept-search-failed',
  InvalidCount: 'invalid-count',
  UncalibratedStrength: 'uncalibrated-strength',
  StrengthOutOfRange: 'strength-out-of-range',
  ZeroStrength: 'zero-strength',
  WeightOutOfRange: 'weight-out-of-range',
  ZeroWeight: 'zero-weight',
  ConflictingEdit: 'conflicting-edit',
  DuplicateEdit: 'duplicate-edit',
  OverriddenEdit: 'overridden-edit',
  UnknownPreset: 'unknown-preset',
  InvalidPreset: 'invalid-preset',
  PresetCycle: 'preset-cycle',
  PresetStoreFailed: 'preset-store-failed',
  PresetSaeMismatch: 'preset-sae-mismatch',
  PresetReresolved: 'preset-reresolved',
  DuplicatePreset: 'duplicate-preset',
  InvalidOption: 'invalid-option-value',
  UnknownOption: 'unknown-option',
  DuplicateOption: 'duplicate-option',
  EmptyRange: 'empty-range',
} as const;

/** Where an edit came from; explicit edits beat concept matches, which beat preset edits. */
type EditLevel = 'explicit' | 'concept' | 'preset';
const LEVEL_RANK: Record<EditLevel, number> = { explicit: 0, concept: 1, preset: 2 };

interface ResolvedEdit extends PlannedEdit {
  level: EditLevel;
  /** How the edit was written, for messages (`+@jobs*0.5`, `$career`). */
  origin: string;
}

/** Per-compile state: diagnostics, the query's strength unit, and the texts it is computed from. */
class Resolution {
  readonly diagnostics: Diagnostic[] = [];
  private unit: Promise<StrengthUnit> | undefined;
  /** The unit once some relative strength asked for it. */
  resolvedUnit: StrengthUnit | undefined;
  constructor(
    readonly context: CompileContext,
    private readonly texts: ReadonlyArray<{ text: string; weight: number }> = [],
  ) {}

  report(code: string, message: string, range: Range, severity: Diagnostic['severity'] = 'error'): void {
    this.diagnostics.push({ code, message, range, severity });
  }

  /** The latent units of `1x` for this query (computed once); warns at `range` when it falls back. */
  strengthUnit(range: Range): Promise<StrengthUnit> {
    this.unit ??= resolveStrengthUnit(this.context, this.texts).then(({ unit, problem }) => {
      if (problem) this.report(CompileCode.UncalibratedStrength, problem, range, 'warning');
      return unit;
    });
    return this.unit.then((unit) => (this.resolvedUnit = unit));
  }
}

/**
 * The latent units of `1x` for a query of `texts`: the catalog's calibration scale (or the default) times |h|
 * of the query's code (`context.queryNorm`), else of a typical query, else 1 latent unit. `problem` says why
 * the query's own code was not used, when that matters (for a warning).
 */
export async function resolveStrengthUnit(
  context: Pick<CompileContext, 'catalog' | 'queryNorm'>,
  texts: ReadonlyArray<{ text: string; weight: number }>,
): Promise<{ unit: StrengthUnit; problem?: string }> {
  const calibration = context.catalog.strengthCalibration?.() ?? STRENGTH_DEFAULTS.defaultCalibration;
  const scale = Number.isFinite(calibration.scale) && calibration.scale > 0 ? calibration.scale : 1;
  let problem = '';
  if (context.queryNorm && texts.length > 0) {
    try {
      const norm = await context.queryNorm(texts);
      if (Number.isFinite(norm) && norm > 0)
        return { unit: { unit: scale * norm, scale, queryNorm: norm, basis: 'query' } };
      problem = `the query's code is empty (|h| = ${norm})`;
    } catch (cause) {
      problem = `the query could not be encoded (${(cause as Error)?.message ?? String(cause)})`;
    }
  }
  const typical = calibration.typicalQueryNorm;
  if (typical !== undefined && Number.isFinite(typical) && typical > 0) {
    const unit: StrengthUnit = { unit: scale * typical, scale, queryNorm: typical, basis: 'typical-query' };
    if (!problem) return { unit };
    return {
      unit,
      problem: `${problem}, so 1x is taken for a typical query (${round(unit.unit)} latent units); give an absolute strength (*0.5) to be exact`,
    };
  }
  return {
    unit: { unit: STRENGTH_DEFAULTS.fallbackUnit, scale, queryNorm: 0, basis: 'fallback' },
    problem: `${problem || "the query's code is not known here"} and SAE ${context.catalog.saeId} has no strength calibration (build its catalog with \`steer label\`), so 1x is taken as ${STRENGTH_DEFAULTS.fallbackUnit} latent unit; give an absolute strength (*0.5) to be exact`,
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

interface Scope {
  /** Range diagnostics and edits point to: the item itself, or the `$preset` reference that inlined it. */
  at?: Range;
  /** `in $career: ` inside presets. */
  prefix: string;
  level: EditLevel;
  chain: string[];
}

function describeEdit(edit: Edit): string {
  return formatStatement({
    kind: 'preset-definition',
    name: 'x',
    nameRange: edit.range,
    steers: [edit],
    range: edit.range,
  }).slice('preset x = '.length);
}

/** True when an edit's strength is relative (`2x`, or no strength: the default `1x`), so it needs the unit. */
function isRelative(edit: Edit): boolean {
  if (edit.op === 'suppress' && !edit.strength) return false;
  return (edit.strength?.unit ?? 'relative') === 'relative';
}

/**
 * Turns an edit of one feature into latent units: `weight` is the feature's share of a concept direction (1
 * otherwise), `unit` the latent units of `1x` (for relative strengths). Reports range problems.
 */
function resolveStrength(
  edit: Edit,
  feature: FeatureInfo,
  weight: number,
  unit: StrengthUnit | undefined,
  res: Resolution,
  scope: Scope,
): Pick<PlannedEdit, 'op' | 'value' | 'relative'> | undefined {
  const range = scope.at ?? edit.strength?.range ?? edit.range;
  if (edit.op === 'suppress' && !edit.strength) return { op: 'zero', value: 0 };
  const strength = edit.strength ?? {
    kind: 'strength' as const,
    value: STRENGTH_DEFAULTS.defaultRelativeStrength,
    unit: 'relative' as const,
    range: edit.range,
  };
  const { maxRelativeStrength, maxAbsoluteStrength } = STRENGTH_DEFAULTS;
  if (!Number.isFinite(strength.value) || strength.value < 0) {
    res.report(
      CompileCode.StrengthOutOfRange,
      `${scope.prefix}expected a strength of 0 or more, found ${strength.value}`,
      range,
    );
    return undefined;
  }
  let value = strength.value * weight;
  let relative: number | undefined;
  if (strength.unit === 'relative') {
    if (strength.value > maxRelativeStrength) {
      res.report(
        CompileCode.StrengthOutOfRange,
        `${scope.prefix}strength ${strength.value}x is out of range: expected at most ${maxRelativeStrength}x (1x moves the query halfway to the feature; beyond 4x the results no longer depend on the query)`,
        range,
      );
      return undefined;
    }
    relative = value;
    value *= unit?.unit ?? STRENGTH_DEFAULTS.fallbackUnit;
  } else if (strength.value > maxAbsoluteStrength) {
    res.report(
      CompileCode.StrengthOutOfRange,
      `${scope.prefix}strength ${strength.value} is out of range: expected at most ${maxAbsoluteStrength} latent units (or a relative strength like 2x)`,
      range,
    );
    return undefined;
  }
  if (strength.value === 0 && edit.op !== 'set') {
    res.report(
      CompileCode.ZeroStrength,
      `${scope.prefix}strength 0 has no effect on f${feature.id}; ${edit.op === 'suppress' ? 'write -f' + feature.id + ' to zero the feature' : 'remove the edit'}`,
      range,
      'warning',
    );
  }
  const extra = relative === undefined ? {} : { relative };
  if (edit.op === 'set') return { op: 'set', value, ...extra };
  return { op: 'add', value: edit.op === 'suppress' ? -value : value, ...extra };
}

/** A feature an edit resolves to, with its share of a concept direction (1 for a single feature). */
interface WeightedFeature {
  feature: FeatureInfo;
  weight: number;
}

/** Resolves the target of an edit to catalog features (several, weighted, for a concept). */
async function resolveTarget(edit: Edit, res: Resolution, scope: Scope): Promise<WeightedFeature[]> {
  const { catalog } = res.context;
  const target = edit.target;
  const range = scope.at ?? target.range;
  switch (target.kind) {
    case 'feature-id': {
      if (!Number.isInteger(target.id) || target.id < 0 || target.id >= catalog.nLatents) {
        res.report(
          CompileCode.UnknownFeature,
          `${scope.prefix}unknown feature f${target.id}: SAE ${catalog.saeId} has ${catalog.nLatents} features (f0 to f${catalog.nLatents - 1})`,
          range,
        );
        return [];
      }
      return [{ feature: catalog.get(target.id) ?? { id: target.id }, weight: 1 }];
    }
    case 'alias': {
      const found = catalog.byAliasOrLabel(target.name);
      const unique = [...new Map(found.map((f) => [f.id, f])).values()];
      if (unique.length === 0) {
        res.report(
          CompileCode.UnknownAlias,
          `${scope.prefix}unknown feature alias or label '${target.name}': expected an alias or label of SAE ${catalog.saeId}; check the spelling or use a feature id (f123)`,
          range,
        );
        return [];
      }
      if (unique.length > 1) {
        const ids = unique.slice(0, 5).map((f) => `f${f.id}`);
        res.report(
          CompileCode.AmbiguousAlias,
          `${scope.prefix}'${target.name}' names ${unique.length} features (${ids.join(', ')}${unique.length > 5 ? ', ...' : ''}); write the feature id you mean`,
          range,
        );
        return [];
      }
      return unique.map((feature) => ({ feature, weight: 1 }));
    }
    case 'concept': {
      const count = target.count;
      if (
        count !== undefined &&
        (!Number.isInteger(count) || count < 1 || count > STRENGTH_DEFAULTS.maxConceptCount)
      ) {
        res.report(
          CompileCode.InvalidCount,
          `${scope.prefix}expected a concept count from 1 to ${STRENGTH_DEFAULTS.maxConceptCount}, found ${count}`,
          range,
        );
        return [];
      }
      let matches: WeightedFeature[];
      try {
        if (catalog.resolveConcept) {
          matches = await catalog.resolveConcept(target.text, count);
        } else {
          const found = await catalog.searchConcept(
            target.text,
            count ?? STRENGTH_DEFAULTS.defaultConceptCount,
          );
          matches = found.map((m) => ({ feature: m.feature, weight: 1 / Math.sqrt(found.length) }));
        }
      } catch (cause) {
        res.report(
          CompileCode.ConceptSearchFailed,
          `${scope.prefix}concept search for "${target.text}" failed: ${(cause as Error)?.message ?? String(cause)}`,
          range,
        );
        return [];
      }
      if (matches.length === 0) {
        res.report(
          CompileCode.ConceptNoMatch,
          `${scope.prefix}no feature of SAE ${catalog.saeId} matches the concept "${target.text}"; try other words or a feature id`,
          range,
          'warning',
        );
      }
      return count === undefined ? matches : matches.slice(0, count);
    }
  }
}

async function resolveEdit(edit: Edit, res: Resolution, scope: Scope): Promise<ResolvedEdit[]> {
  const features = await resolveTarget(edit, res, scope);
  const out: ResolvedEdit[] = [];
  const level: EditLevel =
    scope.level === 'explicit' && edit.target.kind === 'concept' ? 'concept' : scope.level;
  const unit =
    features.length > 0 && isRelative(edit)
      ? await res.strengthUnit(scope.at ?? edit.strength?.range ?? edit.range)
      : undefined;
  for (const { feature, weight } of features) {
    if (feature.dead) {
      res.report(
        CompileCode.DeadFeature,
        `${scope.prefix}f${feature.id}${feature.label ? ` (${feature.label})` : ''} is dead: it never fired on the catalog's data, so steering it may do nothing useful`,
        scope.at ?? edit.target.range,
        'warning',
      );
    }
    const resolved = resolveStrength(edit, feature, weight, unit, res, scope);
    if (!resolved) continue;
    out.push({
      feature: feature.id,
      ...resolved,
      source: scope.at ?? edit.range,
      level,
      origin: scope.prefix ? scope.chain.map((n) => `$${n}`).join(' → ') : describeEdit(edit),
    });
  }
  return out;
}

async function lookupPreset(
  ref: PresetReference,
  res: Resolution,
  scope: Scope,
): Promise<{ steers: Steer[]; saeId?: string } | undefined> {
  const range = scope.at ?? ref.range;
  const local = res.context.definitions?.find((d) => d.name === ref.name);
  if (local) return { steers: local.steers };
  let stored: { text: string; saeId?: string } | undefined;
  try {
    stored = await res.context.presets?.get(ref.name);
  } catch (cause) {
    res.report(
      CompileCode.PresetStoreFailed,
      `${scope.prefix}could not read preset '$${ref.name}': ${(cause as Error)?.message ?? String(cause)}`,
      range,
    );
    return undefined;
  }
  if (!stored) {
    res.report(
      CompileCode.UnknownPreset,
      `${scope.prefix}unknown preset '$${ref.name}': expected a preset defined in this file (preset ${ref.name} = ...) or saved in the presets folder`,
      range,
    );
    return undefined;
  }
  const parsed = parse(stored.text);
  const firstError = parsed.errors.find((e) => e.severity === 'error');
  if (firstError) {
    res.report(
      CompileCode.InvalidPreset,
      `${scope.prefix}preset '$${ref.name}' does not parse (line ${firstError.range.start.line + 1}: ${firstError.message}); fix or re-save the preset`,
      range,
    );
    return undefined;
  }
  const definition = parsed.ast.statements.find(
    (s): s is PresetDefinition => s.kind === 'preset-definition' && s.name === ref.name,
  );
  if (!definition) {
    res.report(
      CompileCode.InvalidPreset,
      `${scope.prefix}the stored preset '$${ref.name}' has no 'preset ${ref.name} = ...' line; re-save the preset`,
      range,
    );
    return undefined;
  }
  const saeId = stored.saeId ?? parsed.ast.header.find((p) => p.key === 'sae')?.value;
  return saeId === undefined ? { steers: definition.steers } : { steers: definition.steers, saeId };
}

async function expandSteers(
  steers: readonly Steer[],
  res: Resolution,
  scope: Scope,
): Promise<ResolvedEdit[]> {
  const out: ResolvedEdit[] = [];
  for (const steer of steers) {
    if (steer.kind === 'edit') {
      out.push(...(await resolveEdit(steer, res, scope)));
      continue;
    }
    const range = scope.at ?? steer.range;
    if (scope.chain.includes(steer.name)) {
      res.report(
        CompileCode.PresetCycle,
        `${scope.prefix}preset '$${steer.name}' includes itself (${[...scope.chain, steer.name].map((n) => `$${n}`).join(' → ')}); remove the cycle`,
        range,
      );
      continue;
    }
    if (scope.chain.length >= STRENGTH_DEFAULTS.maxPresetDepth) {
      res.report(
        CompileCode.PresetCycle,
        `${scope.prefix}presets nest deeper than ${STRENGTH_DEFAULTS.maxPresetDepth} levels at '$${steer.name}'; flatten them`,
        range,
      );
      continue;
    }
    const preset = await lookupPreset(steer, res, scope);
    if (!preset) continue;
    const inner: Scope = {
      at: range,
      prefix: `in $${steer.name}: `,
      level: 'preset',
      chain: [...scope.chain, steer.name],
    };
    const { saeId } = res.context.catalog;
    if (preset.saeId !== undefined && preset.saeId !== saeId) {
      const byId = preset.steers.filter(
        (s): s is Edit => s.kind === 'edit' && s.target.kind === 'feature-id',
      );
      if (byId.length > 0) {
        res.report(
          CompileCode.PresetSaeMismatch,
          `${scope.prefix}preset '$${steer.name}' was made for SAE ${preset.saeId}, not ${saeId}, and names features by id (${byId
            .slice(0, 3)
            .map(describeEdit)
            .join(
              ' ',
            )}) which mean different things in another SAE; re-save the preset for ${saeId} or write its edits with @aliases`,
          range,
        );
        continue;
      }
      res.report(
        CompileCode.PresetReresolved,
        `${scope.prefix}preset '$${steer.name}' was made for SAE ${preset.saeId}; its aliases and concepts were re-resolved in SAE ${saeId}, check the result`,
        range,
        'warning',
      );
    }
    out.push(...(await expandSteers(preset.steers, res, inner)));
  }
  return out;
}

function sameEdit(a: PlannedEdit, b: PlannedEdit): boolean {
  return a.op === b.op && a.value === b.value;
}

function describePlanned(edit: ResolvedEdit): string {
  const what = edit.op === 'zero' ? 'zero' : edit.op === 'set' ? `set to ${edit.value}` : `add ${edit.value}`;
  return `${edit.origin} (${what})`;
}

/** One edit per feature: explicit beats concept beats preset; equal levels conflict. */
function mergeEdits(edits: ResolvedEdit[], res: Resolution): PlannedEdit[] {
  const byFeature = new Map<number, ResolvedEdit>();
  for (const edit of edits) {
    const existing = byFeature.get(edit.feature);
    if (!existing) {
      byFeature.set(edit.feature, edit);
      continue;
    }
    if (sameEdit(existing, edit)) {
      if (edit.level === 'explicit' && existing.level === 'explicit') {
        res.report(
          CompileCode.DuplicateEdit,
          `f${edit.feature} is edited twice the same way (${edit.origin}); remove one`,
          edit.source,
          'warning',
        );
      }
      continue;
    }
    const rankNew = LEVEL_RANK[edit.level];
    const rankOld = LEVEL_RANK[existing.level];
    if (rankNew === rankOld && edit.level === 'explicit') {
      res.report(
        CompileCode.ConflictingEdit,
        `f${edit.feature} is edited twice: ${describePlanned(existing)} and ${describePlanned(edit)}; keep one edit per feature`,
        edit.source,
      );
      continue;
    }
    const winner = rankNew < rankOld ? edit : existing; // at equal rank the first edit stays
    const loser = winner === edit ? existing : edit;
    res.report(
      CompileCode.OverriddenEdit,
      `f${edit.feature}: ${describePlanned(winner)} overrides ${describePlanned(loser)}`,
      edit.source,
      'info',
    );
    byFeature.set(edit.feature, winner);
  }
  return [...byFeature.values()].map(({ feature, op, value, source, relative }) =>
    relative === undefined ? { feature, op, value, source } : { feature, op, value, source, relative },
  );
}

function compileOptions(options: readonly OptionSetting[], res: Resolution): SearchOptions {
  const out: SearchOptions = {};
  const seen = new Map<string, OptionSetting>();
  for (const option of options) {
    const previous = seen.get(option.key);
    if (previous) {
      res.report(
        CompileCode.DuplicateOption,
        `option ${option.key} is given twice (${previous.key}=${previous.value} and ${option.key}=${option.value}); the last one is used`,
        option.range,
        'warning',
      );
    }
    seen.set(option.key, option);
    const { key, value } = option;
    const bad = (expected: string) =>
      res.report(
        CompileCode.InvalidOption,
        `expected ${key} to be ${expected}, found ${JSON.stringify(value)}`,
        option.range,
      );
    switch (key) {
      case 'k':
      case 'candidates':
        if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_RESULTS) {
          if (key === 'k') out.k = value;
          else out.numCandidates = value;
        } else bad(`a whole number from 1 to ${MAX_RESULTS}`);
        break;
      case 'mode':
        if ((MODE_VALUES as readonly unknown[]).includes(value)) out.mode = value as SearchOptions['mode'];
        else bad(`one of ${MODE_VALUES.join(', ')}`);
        break;
      case 'steer':
        if ((STEER_VALUES as readonly unknown[]).includes(value)) out.steer = value as SearchOptions['steer'];
        else bad(`one of ${STEER_VALUES.join(', ')}`);
        break;
      case 'index':
        if (typeof value === 'string' && value !== '') out.index = value;
        else bad('an index name');
        break;
      default:
        res.report(
          CompileCode.UnknownOption,
          `unknown option '${key}': expected one of k, mode, index, steer, candidates`,
          option.range,
        );
    }
  }
  if (out.k !== undefined && out.numCandidates !== undefined && out.numCandidates < out.k) {
    res.report(
      CompileCode.InvalidOption,
      `candidates=${out.numCandidates} is below k=${out.k}: a search cannot return more hits than it examines; raise candidates`,
      seen.get('candidates')!.range,
      'warning',
    );
  }
  return out;
}

/** Converts a filter expression to the backend-neutral Filter. */
export function compileFilter(filter: FilterExpression, diagnostics: Diagnostic[] = []): Filter {
  switch (filter.kind) {
    case 'and':
      return { op: 'and', filters: filter.operands.map((f) => compileFilter(f, diagnostics)) };
    case 'or':
      return { op: 'or', filters: filter.operands.map((f) => compileFilter(f, diagnostics)) };
    case 'not':
      return { op: 'not', filter: compileFilter(filter.operand, diagnostics) };
    case 'in':
      return { op: 'in', field: filter.field, values: [...filter.values] };
    case 'between':
      if (filter.from > filter.to) {
        diagnostics.push({
          code: CompileCode.EmptyRange,
          message: `${filter.field}:${filter.from}..${filter.to} matches nothing: the lower bound is above the upper bound; swap them`,
          range: filter.range,
          severity: 'warning',
        });
      }
      return { op: 'range', field: filter.field, gte: filter.from, lte: filter.to };
    case 'compare': {
      const { field, value } = filter;
      switch (filter.op) {
        case ':':
          return { op: 'eq', field, value };
        case '!=':
          return { op: 'not', filter: { op: 'eq', field, value } };
        case '>':
          return { op: 'range', field, gt: value as number };
        case '>=':
          return { op: 'range', field, gte: value as number };
        case '<':
          return { op: 'range', field, lt: value as number };
        case '<=':
          return { op: 'range', field, lte: value as number };
      }
    }
  }
}

/**
 * Compiles one query into a SteeringPlan. Returns the plan (with whatever could be resolved) and the
 * diagnostics; never throws, also when the catalog or preset store fail.
 */
export async function compile(
  query: Query,
  context: CompileContext,
): Promise<{ plan: SteeringPlan; diagnostics: Diagnostic[] }> {
  const plan: SteeringPlan = { texts: [], edits: [], options: {} };
  const res = new Resolution(context, plan.texts);
  for (const term of query.texts) {
    const weight = term.weight ?? 1;
    const max = STRENGTH_DEFAULTS.maxTextWeight;
    if (!Number.isFinite(weight) || Math.abs(weight) > max) {
      res.report(
        CompileCode.WeightOutOfRange,
        `weight ${weight} of "${term.text}" is out of range: expected -${max} to ${max}`,
        term.range,
      );
      continue;
    }
    if (weight === 0) {
      res.report(
        CompileCode.ZeroWeight,
        `"${term.text}"^0 has no effect; remove it or give it a weight`,
        term.range,
        'warning',
      );
    }
    plan.texts.push({ text: term.text, weight });
  }
  if (query.texts.length === 0) {
    res.report(
      CompileCode.NoText,
      'expected at least one quoted text to search for (e.g. "jobs"), found none',
      query.range,
    );
  }
  const resolved = await expandSteers(query.steers, res, { prefix: '', level: 'explicit', chain: [] });
  plan.edits = mergeEdits(resolved, res);
  if (res.resolvedUnit) plan.strengthUnit = res.resolvedUnit;
  plan.options = compileOptions(query.options, res);
  if (query.where) plan.filter = compileFilter(query.where, res.diagnostics);
  return { plan, diagnostics: res.diagnostics };
}

/**
 * Resolves the edits of a preset definition (e.g. to validate a preset before saving it).
 * Returns the edits and diagnostics; never throws.
 */
export async function compilePreset(
  definition: PresetDefinition,
  context: CompileContext,
): Promise<{ edits: PlannedEdit[]; diagnostics: Diagnostic[] }> {
  const res = new Resolution(context);
  const resolved = await expandSteers(definition.steers, res, {
    prefix: '',
    level: 'explicit',
    chain: [definition.name],
  });
  return { edits: mergeEdits(resolved, res), diagnostics: res.diagnostics };
}

const optionCodes = new Set<string>([CompileCode.InvalidOption, CompileCode.UnknownOption]);

function within(inner: Range, outer: Range): boolean {
  const before = (a: Range['start'], b: Range['start']) =>
    a.line < b.line || (a.line === b.line && a.character <= b.character);
  return before(outer.start, inner.start) && before(inner.end, outer.end);
}

function diagnosticKey(d: Diagnostic): string {
  return `${d.code}|${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character}|${d.message}`;
}

/**
 * Parses a document and compiles every query in it (preset definitions in the document are visible to
 * all its queries). Returns one plan per query, in order, and all diagnostics; never throws.
 */
export async function compileText(
  text: string,
  context: CompileContext,
): Promise<{ plans: SteeringPlan[]; diagnostics: Diagnostic[] }> {
  const { ast, errors } = parse(text);
  const diagnostics: Diagnostic[] = [...errors];
  const definitions = ast.statements.filter((s): s is PresetDefinition => s.kind === 'preset-definition');
  const seen = new Set<string>();
  for (const definition of definitions) {
    if (seen.has(definition.name)) {
      diagnostics.push({
        code: CompileCode.DuplicatePreset,
        message: `preset '${definition.name}' is defined twice in this file; the first definition is used, rename or remove this one`,
        range: definition.nameRange,
        severity: 'error',
      });
    }
    seen.add(definition.name);
  }
  const scoped: CompileContext = {
    ...context,
    definitions: [...(context.definitions ?? []), ...definitions],
  };
  const plans: SteeringPlan[] = [];
  for (const statement of ast.statements) {
    if (statement.kind === 'preset-definition') {
      diagnostics.push(...(await compilePreset(statement, scoped)).diagnostics);
      continue;
    }
    const { plan, diagnostics: found } = await compile(statement, scoped);
    plans.push(plan);
    // parse() already reported bad options at their value; keep compile's copy only for ASTs built by hand.
    diagnostics.push(
      ...found.filter(
        (d) =>
          !(optionCodes.has(d.code) && errors.some((e) => e.code === d.code && within(e.range, d.range))),
      ),
    );
  }
  const unique = [...new Map(diagnostics.map((d) => [diagnosticKey(d), d])).values()];
  unique.sort(
    (a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character,
  );
  return { plans, diagnostics: unique };
}
