// TEST ONLY: a toy BridgeSteering (hashing bag-of-words embedder, "latents" = strongest coordinates, a tiny
// query syntax) for the bridge's HTTP-shape tests and bench. It is not Steer's language nor its SAE.
import type { BridgeSteering, SteerDiagnostic, SteeredQuery } from '@steer/bridge';
import type { Filter } from '@steer/search';

export const TOY_DIMS = 16;

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Deterministic hashing bag-of-words embedding, L2-normalised (a zero text gets e0). [TOY_DIMS] */
export function toyEmbed(text: string): Float32Array {
  const vector = new Float32Array(TOY_DIMS);
  for (const token of text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean)) {
    const hash = fnv1a(token);
    vector[hash % TOY_DIMS]! += hash & 0x100 ? 1 : -1;
  }
  let norm = Math.hypot(...vector);
  if (norm === 0) {
    vector[0] = 1;
    norm = 1;
  }
  return vector.map((v) => v / norm);
}

/** Toy "latents": the 4 largest positive coordinates. */
export function toyLatents(vector: Float32Array): { indices: Int32Array; values: Float32Array } {
  const order = [...vector.keys()]
    .filter((i) => vector[i]! > 0)
    .sort((a, b) => vector[b]! - vector[a]!)
    .slice(0, 4);
  return { indices: Int32Array.from(order), values: Float32Array.from(order.map((i) => vector[i]!)) };
}

/** Error shaped like the engine's SteerQueryError. */
export class ToySteerQueryError extends Error {
  override name = 'SteerQueryError';
  readonly code = 'steer_query_invalid';
  constructor(
    message: string,
    readonly diagnostics: SteerDiagnostic[],
  ) {
    super(message);
  }
}

function diagnostic(
  line: number,
  start: number,
  end: number,
  code: string,
  message: string,
): SteerDiagnostic {
  return {
    code,
    message,
    severity: 'error',
    range: { start: { line, character: start }, end: { line, character: end } },
  };
}

/**
 * Toy query syntax: `"text"` terms, `+f3` / `-f3` (push the vector along / against coordinate 3),
 * `k=5`, `mode=sparse`, `field:value` (eq filter). Multi-line queries are allowed.
 */
export function toyResolve(query: string, defaults: { k?: number; numCandidates?: number }): SteeredQuery {
  const texts: string[] = [];
  const edits: Array<[number, number]> = [];
  const filters: Filter[] = [];
  let k = defaults.k ?? 10;
  let mode: SteeredQuery['mode'] = 'dense';
  const diagnostics: SteerDiagnostic[] = [];
  query.split('\n').forEach((lineText, line) => {
    const token = /"([^"]*)"|"[^"]*$|([+-])f(\d+)|k=(\d+)|mode=(\w+)|(\w+):(\w+)|\S+/g;
    for (let m = token.exec(lineText); m; m = token.exec(lineText)) {
      const [whole] = m;
      const at = m.index;
      if (m[1] !== undefined) texts.push(m[1]);
      else if (whole.startsWith('"'))
        diagnostics.push(
          diagnostic(line, at, lineText.length, 'unterminated-string', 'expected a closing " for this text'),
        );
      else if (m[3] !== undefined) {
        const feature = Number(m[3]);
        if (feature >= TOY_DIMS)
          diagnostics.push(
            diagnostic(
              line,
              at,
              at + whole.length,
              'unknown-feature',
              `feature f${feature} does not exist (toy SAE has ${TOY_DIMS})`,
            ),
          );
        else edits.push([feature, m[2] === '+' ? 1 : -1]);
      } else if (m[4] !== undefined) k = Number(m[4]);
      else if (m[5] !== undefined) {
        if (m[5] !== 'dense' && m[5] !== 'sparse' && m[5] !== 'hybrid')
          diagnostics.push(
            diagnostic(line, at, at + whole.length, 'bad-mode', 'expected mode=dense, sparse or hybrid'),
          );
        else mode = m[5];
      } else if (m[6] !== undefined) filters.push({ op: 'eq', field: m[6], value: m[7]! });
      else
        diagnostics.push(
          diagnostic(
            line,
            at,
            at + whole.length,
            'unexpected-token',
            `unexpected '${whole}'; expected a "quoted text", +fN, -fN, k=N, mode=... or field:value`,
          ),
        );
    }
  });
  if (diagnostics.length === 0 && texts.length === 0)
    diagnostics.push(diagnostic(0, 0, query.length, 'no-text', 'a query needs at least one "quoted text"'));
  if (diagnostics.length > 0)
    throw new ToySteerQueryError(`invalid steer query: ${diagnostics[0]!.message}`, diagnostics);
  const vector = toyEmbed(texts.join(' '));
  for (const [feature, sign] of edits) vector[feature]! += sign * 0.5;
  const norm = Math.hypot(...vector);
  for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return {
    vector,
    latents: toyLatents(vector),
    k,
    numCandidates: defaults.numCandidates ?? Math.max(100, 10 * k),
    mode,
    filter: filters.length === 0 ? undefined : filters.length === 1 ? filters[0] : { op: 'and', filters },
    diagnostics: [],
  };
}

/** TEST ONLY: the toy steering as a BridgeSteering. */
export function createToySteering(): BridgeSteering {
  return {
    resolve: async (query, defaults) => toyResolve(query, defaults),
    searchFeatures: async (concept, limit) => {
      const latents = toyLatents(toyEmbed(concept));
      return [...latents.indices]
        .slice(0, limit)
        .map((id, i) => ({ id, label: `toy-${id}`, score: latents.values[i]! }));
    },
    explain: async ({ query, hits, top }) => {
      const q = toyLatents(toyResolve(query, {}).vector);
      return hits.map((hit) => {
        const d = toyLatents(toyEmbed(hit.text));
        const features = [...q.indices]
          .map((feature, i) => {
            const j = [...d.indices].indexOf(feature);
            return j < 0
              ? undefined
              : {
                  feature,
                  queryActivation: q.values[i]!,
                  documentActivation: d.values[j]!,
                  contribution: q.values[i]! * d.values[j]!,
                };
          })
          .filter((f) => f !== undefined)
          .sort((a, b) => b.contribution - a.contribution)
          .slice(0, top ?? 5);
        return { ...hit, features };
      });
    },
  };
}
