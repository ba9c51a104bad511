// Strengths: the latent units of `1x` for a query, and one edit's strength turned into latent units.
import type { Edit } from '../ast.js';
import type { Resolution, Scope } from './resolution.js';
import { CompileCode, STRENGTH_DEFAULTS } from './types.js';
import type { CompileContext, FeatureInfo, PlannedEdit, StrengthUnit } from './types.js';

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

/**
 * The unit of an amplifying edit of a query of `texts` along `direction`: the crossover of the query and the
 * direction (`context.crossover`: where the direction's own top documents come to score as high as the query's)
 * when it can be measured, else `base`, the query's unit. `problem` says why a measurement failed (for a warning).
 */
export async function resolveAmplifyUnit(
  context: Pick<CompileContext, 'crossover'>,
  base: StrengthUnit,
  texts: ReadonlyArray<{ text: string; weight: number }>,
  direction: ReadonlyArray<{ feature: number; weight: number }>,
): Promise<{ unit: StrengthUnit; problem?: string }> {
  if (!context.crossover || texts.length === 0 || direction.length === 0) return { unit: base };
  let crossover: number | undefined;
  try {
    crossover = await context.crossover(texts, direction);
  } catch (cause) {
    return {
      unit: base,
      problem: `the crossover of this query and the edited features could not be measured (${(cause as Error)?.message ?? String(cause)}), so 1x is ${round(base.unit)} latent units (scale x |h|)`,
    };
  }
  if (crossover === undefined || !Number.isFinite(crossover) || crossover <= 0) return { unit: base };
  const scale = base.queryNorm > 0 ? crossover / base.queryNorm : base.scale;
  return { unit: { unit: crossover, scale, queryNorm: base.queryNorm, basis: 'crossover' } };
}

export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** True when an edit's strength is relative (`2x`, or no strength: the default `1x`), so it needs the unit. */
export function isRelative(edit: Edit): boolean {
  if (edit.op === 'suppress' && !edit.strength) return false;
  return (edit.strength?.unit ?? 'relative') === 'relative';
}

/**
 * Turns an edit of one feature into latent units: `weight` is the feature's share of a concept direction (1
 * otherwise), `unit` the latent units of `1x` (for relative strengths). Reports range problems.
 */
export function resolveStrength(
  edit: Edit,
  feature: FeatureInfo,
  weight: number,
  unit: StrengthUnit | undefined,
  res: Resolution,
  scope: Scope,
): Pick<PlannedEdit, 'op' | 'value' | 'relative' | 'unit'> | undefined {
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
  const extra =
    relative === undefined ? {} : { relative, unit: unit?.unit ?? STRENGTH_DEFAULTS.fallbackUnit };
  if (edit.op === 'set') return { op: 'set', value, ...extra };
  return { op: 'add', value: edit.op === 'suppress' ? -value : value, ...extra };
}
