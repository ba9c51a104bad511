// One edit per feature: explicit edits beat concept matches, which beat preset edits; equal levels conflict.
import { LEVEL_RANK } from './resolution.js';
import type { ResolvedEdit, Resolution } from './resolution.js';
import { CompileCode } from './types.js';
import type { PlannedEdit } from './types.js';

function sameEdit(a: PlannedEdit, b: PlannedEdit): boolean {
  return a.op === b.op && a.value === b.value;
}

function describePlanned(edit: ResolvedEdit): string {
  const what = edit.op === 'zero' ? 'zero' : edit.op === 'set' ? `set to ${edit.value}` : `add ${edit.value}`;
  return `${edit.origin} (${what})`;
}

/** One edit per feature: explicit beats concept beats preset; equal levels conflict. */
export function mergeEdits(edits: ResolvedEdit[], res: Resolution): PlannedEdit[] {
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
  return [...byFeature.values()].map(({ feature, op, value, source, relative, unit }) =>
    relative === undefined
      ? { feature, op, value, source }
      : { feature, op, value, source, relative, ...(unit !== undefined ? { unit } : {}) },
  );
}
