// What a strength means for the query it is in: `2x` in latent units for this query's own code (or a typical
// query's when the text cannot be encoded), and an absolute strength as a multiple of `1x`. Shared by hover and
// inlay hints.
import {
  resolveAmplifyUnit,
  resolveStrengthUnit,
  type Edit,
  type Statement,
  type StrengthUnit,
} from '@steer/grammar';
import type { DocumentContext } from './context.js';
import { resolveDirect } from './document.js';

/** The meaning of one edit's strength. */
export interface StrengthMeaning {
  edit: Edit;
  /** `2` for `2x` (1 when the edit has no strength: the default `1x`), undefined for an absolute strength. */
  relative?: number;
  /** Latent units added (or set) along the edited direction. */
  latent: number;
  unit: StrengthUnit;
  /** The features of the edited direction with their shares (one feature with weight 1 unless a concept). */
  features: Array<{ id: number; weight: number; label?: string }>;
}

function round(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}

/** The weighted texts of a statement (none for a preset definition). */
function textsOf(statement: Statement): Array<{ text: string; weight: number }> {
  return statement.kind === 'query'
    ? statement.texts.map((t) => ({ text: t.text, weight: t.weight ?? 1 }))
    : [];
}

/** Latent units of `1x` for `statement`, computed once per statement object. */
const units = new WeakMap<Statement, Promise<StrengthUnit>>();

function unitFor(statement: Statement, context: DocumentContext): Promise<StrengthUnit> | undefined {
  const catalog = context.catalog;
  if (!catalog) return undefined;
  let unit = units.get(statement);
  if (!unit) {
    unit = resolveStrengthUnit(
      { catalog, ...(context.queryNorm ? { queryNorm: context.queryNorm } : {}) },
      textsOf(statement),
    ).then((r) => r.unit);
    units.set(statement, unit);
  }
  return unit;
}

/**
 * What the strength of `edit` (inside `statement`) means, or undefined for a bare suppression (`-f12`), without
 * a catalog, or when the target does not resolve.
 */
export async function strengthMeaning(
  statement: Statement,
  edit: Edit,
  context: DocumentContext,
): Promise<StrengthMeaning | undefined> {
  const catalog = context.catalog;
  if (!catalog || (edit.op === 'suppress' && !edit.strength)) return undefined;
  let features: StrengthMeaning['features'];
  if (edit.target.kind === 'concept') {
    if (!catalog.conceptDirection) return undefined;
    const direction = await catalog.conceptDirection(edit.target.text, edit.target.count);
    features = direction.features.map((f) => ({
      id: f.id,
      weight: f.weight,
      ...(f.label ? { label: f.label } : {}),
    }));
  } else {
    const id = resolveDirect(edit.target, catalog);
    if (id === undefined) return undefined;
    const label = catalog.get(id)?.label;
    features = [{ id, weight: 1, ...(label ? { label } : {}) }];
  }
  if (features.length === 0) return undefined;
  let unit = await unitFor(statement, context)!;
  if (edit.op === 'amplify') {
    const direction = features.map((f) => ({ feature: f.id, weight: f.weight }));
    unit = (await resolveAmplifyUnit(context, unit, textsOf(statement), direction)).unit;
  }
  const relative = edit.strength ? (edit.strength.unit === 'relative' ? edit.strength.value : undefined) : 1;
  const latent = relative !== undefined ? relative * unit.unit : edit.strength!.value;
  return { edit, ...(relative !== undefined ? { relative } : {}), latent, unit, features };
}

/** The unit in words: `1x = 1.89 × |h| 0.48 = 0.91 latent units (this query)`. */
export function describeUnit(unit: StrengthUnit): string {
  switch (unit.basis) {
    case 'query':
      return `1x = ${round(unit.scale)} × |h| ${round(unit.queryNorm)} of this query = ${round(unit.unit)} latent units`;
    case 'typical-query':
      return `1x = ${round(unit.scale)} × |h| ${round(unit.queryNorm)} of a typical query = ${round(unit.unit)} latent units (this text cannot be encoded here)`;
    case 'fallback':
      return `1x = ${round(unit.unit)} latent unit (the SAE has no strength calibration; run \`steer label\`)`;
    case 'crossover':
      return `1x = ${round(unit.unit)} latent units (${round(unit.scale)} × |h| ${round(unit.queryNorm)} of this query), where this query's top results and the edited feature's meet`;
  }
}

/** Short inlay text: `= 1.82` for a relative strength (latent units), `≈ 0.55x` for an absolute one. */
export function strengthHint(meaning: StrengthMeaning): string {
  if (meaning.relative !== undefined) return `= ${round(meaning.latent)}`;
  return `≈ ${round(meaning.latent / meaning.unit.unit)}x`;
}

/** Hover Markdown for a strength. */
export function strengthMarkdown(meaning: StrengthMeaning): string {
  const { edit, relative, latent, unit, features } = meaning;
  const written = edit.strength
    ? `${edit.strength.value}${edit.strength.unit === 'relative' ? 'x' : ''}`
    : '1x (the default)';
  const verb = edit.op === 'set' ? 'sets' : edit.op === 'suppress' ? 'subtracts' : 'adds';
  const head =
    relative !== undefined
      ? `**${written}** relative to the query's own code: ${describeUnit(unit)}, so this edit ${verb} ${round(latent)} latent units`
      : `**${written}** latent units (absolute) ≈ ${round(latent / unit.unit)}x for this query (${describeUnit(unit)})`;
  const lines = [head];
  if (features.length > 1) {
    lines.push(
      `along the concept's direction: ${features.map((f) => `f${f.id}${f.label ? ` ${f.label.split(', ').slice(0, 2).join(', ')}` : ''} ${round(latent * f.weight)}`).join(' · ')}`,
    );
  }
  lines.push(
    "0.5x nudges the results within the query's own topic; 1x (for `+`, measured for this query) brings it to where its own top results and the feature's meet, so the results mix both; 2x and more hand the results to the feature. An absolute strength (`*0.5`) is in latent units.",
  );
  return lines.join('\n\n');
}
