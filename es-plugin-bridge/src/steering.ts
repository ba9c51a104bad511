// What the bridge needs from the steering pipeline: a small interface an engine (or a test) implements.
import type { Filter } from '@steer/search';

/** An LSP-style position and range (0-based), as the steer language's diagnostics carry them. */
export interface DiagnosticRange {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

export interface SteerDiagnostic {
  code: string;
  message: string;
  range: DiagnosticRange;
  severity: 'error' | 'warning' | 'info';
}

/** The part of the engine's ResolvedQuery the bridge uses (the engine's ResolvedQuery satisfies it). */
export interface SteeredQuery {
  /** The steered dense vector. [dims] */
  vector: Float32Array;
  /** SAE latents of the steered query (sparse and hybrid modes). */
  latents: { indices: ArrayLike<number>; values: ArrayLike<number> };
  k: number;
  numCandidates: number;
  mode: 'dense' | 'sparse' | 'hybrid';
  filter?: Filter;
  diagnostics: SteerDiagnostic[];
}

export interface ResolveDefaults {
  k?: number;
  numCandidates?: number;
  index?: string;
}

/** One hit to explain: its id and text (the engine re-embeds the text and encodes it). */
export interface ExplainHitInput {
  id: string;
  text: string;
  score?: number;
}

export interface ExplainRequest {
  query: string;
  hits: ExplainHitInput[];
  /** Features per hit (default 5). */
  top?: number;
}

/**
 * The steering the bridge calls. `resolve` throws an error with `code: 'steer_query_invalid'` and `diagnostics`
 * (the engine's SteerQueryError) on a bad query; any other error with a string `code` is the user's input error.
 */
export interface BridgeSteering {
  resolve(query: string, defaults: ResolveDefaults): Promise<SteeredQuery>;
  searchFeatures(
    concept: string,
    limit: number,
  ): Promise<Array<{ id: number; label?: string; score: number }>>;
  explain(request: ExplainRequest): Promise<unknown>;
}

/** True for the engine's SteerQueryError (matched by shape, so two copies of the engine still agree). */
export function isSteerQueryError(error: unknown): error is Error & { diagnostics: SteerDiagnostic[] } {
  return (
    error instanceof Error &&
    (error as { code?: unknown }).code === 'steer_query_invalid' &&
    Array.isArray((error as { diagnostics?: unknown }).diagnostics)
  );
}
