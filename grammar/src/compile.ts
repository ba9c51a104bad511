// Compiles one query of the AST into a SteeringPlan against a feature catalog and a preset store:
// resolves feature references, inlines presets, turns strengths into latent units, builds the filter.
// Every problem is a Diagnostic with a range; compile never throws for bad queries or failing lookups.
import type { Diagnostic, PresetDefinition, Query, Range } from './ast.js';
import { compileFilter } from './compile/filters.js';
import { mergeEdits } from './compile/merge.js';
import { compileOptions } from './compile/options.js';
import { expandSteers } from './compile/presets.js';
import { Resolution } from './compile/resolution.js';
import { CompileCode, STRENGTH_DEFAULTS } from './compile/types.js';
import type { CompileContext, PlannedEdit, SteeringPlan } from './compile/types.js';
import { parse } from './parse.js';
import type { ParseResult } from './parse.js';

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
 * Parses a document (or takes the result of {@link parse}, so a caller that parsed it already does not parse it
 * again) and compiles every query in it (preset definitions in the document are visible to all its queries).
 * Returns one plan per query, in order, and all diagnostics; never throws.
 */
export async function compileText(
  text: string | ParseResult,
  context: CompileContext,
): Promise<{ plans: SteeringPlan[]; diagnostics: Diagnostic[] }> {
  const { ast, errors } = typeof text === 'string' ? parse(text) : text;
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
