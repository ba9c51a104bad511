// Feature references: an edit's target (an id, an alias or label, a concept) resolved to weighted catalog features
// and turned into latent edits.
import type { Edit } from '../ast.js';
import { formatStatement } from '../format.js';
import type { EditLevel, ResolvedEdit, Resolution, Scope } from './resolution.js';
import { isRelative, resolveStrength } from './strength.js';
import { CompileCode, STRENGTH_DEFAULTS } from './types.js';
import type { FeatureInfo } from './types.js';

export function describeEdit(edit: Edit): string {
  return formatStatement({
    kind: 'preset-definition',
    name: 'x',
    nameRange: edit.range,
    steers: [edit],
    range: edit.range,
  }).slice('preset x = '.length);
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

export async function resolveEdit(edit: Edit, res: Resolution, scope: Scope): Promise<ResolvedEdit[]> {
  const features = await resolveTarget(edit, res, scope);
  const out: ResolvedEdit[] = [];
  const level: EditLevel =
    scope.level === 'explicit' && edit.target.kind === 'concept' ? 'concept' : scope.level;
  const unitRange = scope.at ?? edit.strength?.range ?? edit.range;
  let unit = features.length > 0 && isRelative(edit) ? await res.strengthUnit(unitRange) : undefined;
  // NOTE: only amplifying edits push the query toward a direction; set and subtract keep the query's unit.
  if (unit && edit.op === 'amplify') {
    const direction = features.map(({ feature, weight }) => ({ feature: feature.id, weight }));
    unit = await res.amplifyUnit(unit, direction, unitRange);
  }
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
