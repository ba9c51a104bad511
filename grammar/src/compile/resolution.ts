// Per-compile state: the diagnostics, the query's strength unit, and where an edit came from (its level and scope).
import type { Diagnostic, Range } from '../ast.js';
import { resolveAmplifyUnit, resolveStrengthUnit } from './strength.js';
import { CompileCode } from './types.js';
import type { CompileContext, PlannedEdit, StrengthUnit } from './types.js';

/** Where an edit came from; explicit edits beat concept matches, which beat preset edits. */
export type EditLevel = 'explicit' | 'concept' | 'preset';
export const LEVEL_RANK: Record<EditLevel, number> = { explicit: 0, concept: 1, preset: 2 };

export interface ResolvedEdit extends PlannedEdit {
  level: EditLevel;
  /** How the edit was written, for messages (`+@jobs*0.5`, `$career`). */
  origin: string;
}

/** Per-compile state: diagnostics, the query's strength unit, and the texts it is computed from. */
export class Resolution {
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

  /**
   * The unit of an amplifying edit along `direction` ({@link resolveAmplifyUnit}); a failed measurement is
   * reported as a warning at `range`.
   */
  async amplifyUnit(
    base: StrengthUnit,
    direction: ReadonlyArray<{ feature: number; weight: number }>,
    range: Range,
  ): Promise<StrengthUnit> {
    const { unit, problem } = await resolveAmplifyUnit(this.context, base, this.texts, direction);
    if (problem) this.report(CompileCode.UncalibratedStrength, problem, range, 'warning');
    return unit;
  }
}

export interface Scope {
  /** Range diagnostics and edits point to: the item itself, or the `$preset` reference that inlined it. */
  at?: Range;
  /** `in $career: ` inside presets. */
  prefix: string;
  level: EditLevel;
  chain: string[];
}
