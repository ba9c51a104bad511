// Preset expansion: `$name` looked up in the document or the preset store and inlined, with cycle, depth and
// SAE checks.
import type { Edit, PresetDefinition, PresetReference, Steer } from '../ast.js';
import { parse } from '../parse.js';
import { describeEdit, resolveEdit } from './features.js';
import type { ResolvedEdit, Resolution, Scope } from './resolution.js';
import { CompileCode, STRENGTH_DEFAULTS } from './types.js';

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

export async function expandSteers(
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
