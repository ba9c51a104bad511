// Types of the steering pipeline shared by the CLI, the bridge and the language server.
import type { Diagnostic, SteeringPlan } from '@steer/grammar';
import type { Filter, SearchHit } from '@steer/search';
import type { QueryCoding, SteerMode } from '@steer/sae/files';

export { SteerQueryError } from './errors.js';

/** Sparse latents of one vector: feature ids and activations, strongest first. */
export interface LatentVector {
  indices: Int32Array; // [k]
  values: Float32Array; // [k]
}

/** A steer query turned into what a backend needs: the steered vector, its latents and the search options. */
export interface ResolvedQuery {
  plan: SteeringPlan;
  /** Embedding of the query's text terms, before steering. [dims] */
  baseVector: Float32Array;
  /** The steered dense vector sent as the kNN query. [dims] */
  vector: Float32Array;
  /** SAE latents of the steered query (for `mode=sparse` / `hybrid` and explanations). */
  latents: LatentVector;
  k: number;
  numCandidates: number;
  mode: 'dense' | 'sparse' | 'hybrid';
  index?: string;
  filter?: Filter;
  /**
   * How the SAE formed `vector`, when it did (edits, or `steer=reconstructed`): the steering mode and how the
   * query's latents were found (`code=auto` resolved to the encoder or pursuit). Absent when `vector` is the
   * embedding itself.
   */
  steering?: { mode: SteerMode; code: QueryCoding };
  diagnostics: Diagnostic[];
}

/** A feature's share of a hit's score: latent activations of query and document multiplied. */
export interface FeatureContribution {
  feature: number;
  label?: string;
  queryActivation: number;
  /** The document's activation d_i, divided by the norm |d| of its latents when `documentNorm` is `l2`. */
  documentActivation: number;
  /** Set when the explanation follows a sparse score: `l2` for unit-normalised document latents, `none` for raw. */
  documentNorm?: 'l2' | 'none';
  contribution: number;
}

export interface ExplainedHit extends SearchHit {
  features: FeatureContribution[];
}
