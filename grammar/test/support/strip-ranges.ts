// Test helper: removes position data from AST values so two ASTs compare "modulo positions".

/** A deep copy of `value` without `range` and `nameRange` keys. */
export function stripRanges(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripRanges);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'range' || key === 'nameRange') continue;
      out[key] = stripRanges(inner);
    }
    return out;
  }
  return value;
}
