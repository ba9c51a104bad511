// What the compiler takes and gives: the catalog and preset-store ports, the steering plan, the strength limits and
// the stable diagnostic codes.
import type { Filter } from '@steer/core';
import type { PresetDefinition, Range } from '../ast.js';

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
  /** Latent units per `1x`: `scale x queryNorm` (1 for the fallback; the crossover for `crossover`). */
  unit: number;
  scale: number;
  /** The |h| the unit was computed from. */
  queryNorm: number;
  /**
   * `query`: the query's own code; `typical-query`: a typical query of the SAE's corpus (no query at hand);
   * `fallback`: neither is known, and `1x` is 1 latent unit; `crossover`: an amplifying edit's own unit, the
   * strength at which this query's results and the edited direction's meet (`context.crossover`), with `scale`
   * = unit / queryNorm.
   */
  basis: 'query' | 'typical-query' | 'fallback' | 'crossover';
}

/** Saved presets by name: the text of a .steer file holding `preset <name> = ...` and the SAE it was made for. */
export interface PresetStore {
  get(name: string): Promise<{ text: string; saeId?: string } | undefined>;
}

/** The backend-neutral metadata filter, defined once in @steer/core (each search backend compiles it). */
export type { Filter };

/** One resolved latent edit: `add` value to the latent, `set` it to value, or `zero` it (value 0). */
export interface PlannedEdit {
  feature: number;
  op: 'add' | 'set' | 'zero';
  value: number;
  source: Range;
  /** The strength as written when it was relative (`2x` is 2), times the feature's weight in a concept direction. */
  relative?: number;
  /**
   * Latent units of `1x` for this edit when it was relative: the query's unit (`strengthUnit.unit`), or for an
   * amplifying edit the crossover of the query and the edited direction; `value` is `relative x unit`.
   */
  unit?: number;
}

/** Search options of a plan; absent keys mean "backend default". */
export interface SearchOptions {
  k?: number;
  mode?: 'dense' | 'sparse' | 'hybrid';
  index?: string;
  steer?: 'residual' | 'reconstructed';
  /**
   * How the query's latents are found for steering: the SAE's encoder, pursuit over its decoder, or `auto` (pursuit
   * when the search uses the reconstruction, `steer=reconstructed`; the encoder otherwise).
   */
  code?: 'auto' | 'encoder' | 'pursuit';
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
  /**
   * The latent units, along `direction` (features with their weights), at which the query's own top documents
   * and the direction's top documents score alike (the crossover): `1x` of an amplifying edit. Undefined when it
   * cannot be measured; the edit then uses the query's unit (`scale x |h|`).
   */
  crossover?(
    texts: ReadonlyArray<{ text: string; weight: number }>,
    direction: ReadonlyArray<{ feature: number; weight: number }>,
  ): Promise<number | undefined>;
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
