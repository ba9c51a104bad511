// Custom messages between the Steer extension and the language server, declared once for both sides.
// NOTE: this module imports only the protocol package (and types), so the extension bundle does not pull in the server.
import type { FeatureDescription } from '@steer/catalog';
import { NotificationType, RequestType } from 'vscode-languageserver-protocol';

/** A 0-based position (LSP convention). */
export interface WirePosition {
  line: number;
  character: number;
}

/** One feature's share of a hit's score (query activation × document activation). */
export interface HitFeature {
  feature: number;
  label?: string;
  contribution: number;
}

/** One search hit as shown in the results view. */
export interface RunQueryHit {
  id: string;
  score: number;
  /** 1-based rank in this list. */
  rank: number;
  text: string;
  /** Rank in the other list (steered <-> unsteered), or null when absent there. */
  otherRank: number | null;
  /** Steered list only: positive moved up, negative moved down, null is new in the top k. */
  moved?: number | null;
  features: HitFeature[];
}

export interface RunQueryParams {
  uri: string;
  /** Any position on the query's line. */
  position: WirePosition;
}

export interface RunQueryResult {
  /** The query as run (its statement text). */
  query: string;
  index: string;
  backend: string;
  k: number;
  edits: Array<{ feature: number; label?: string; op: 'add' | 'set' | 'zero'; value: number }>;
  steered: RunQueryHit[];
  unsteered: RunQueryHit[];
  warnings: string[];
}

export interface ExplainFeatureParams {
  uri: string;
  /** Explain the feature referenced at this position (an id, alias or concept) ... */
  position?: WirePosition;
  /** ... or this feature id. */
  feature?: number;
}

/** What the catalog knows about a feature (its FeatureDescription, defined once in @steer/catalog), as sent. */
export interface ExplainFeatureResult extends Pick<
  FeatureDescription,
  'label' | 'keywords' | 'aliases' | 'dead' | 'stats' | 'topDocuments'
> {
  feature: number;
  /** The same, as Markdown (what hover shows). */
  markdown: string;
}

export interface SavePresetParams {
  uri: string;
  name: string;
  /** The edits of the statement at this position are saved ... */
  position?: WirePosition;
  /** ... or these edits (`+@salary*0.5 -f12`). */
  edits?: string;
  overwrite?: boolean;
}

export interface SavePresetResult {
  name: string;
  path: string;
  saeId?: string;
  edits: string;
  warnings: string[];
}

/** `steer/runQuery`: runs the query at a position against the configured backend, steered and unsteered. */
export const RunQueryRequest = new RequestType<RunQueryParams, RunQueryResult, void>('steer/runQuery');

/** `steer/explainFeature`: everything the catalog knows about a feature. */
export const ExplainFeatureRequest = new RequestType<ExplainFeatureParams, ExplainFeatureResult, void>(
  'steer/explainFeature',
);

/** `steer/savePreset`: saves the edits of a query (or given edits) as a preset in the presets folder. */
export const SavePresetRequest = new RequestType<SavePresetParams, SavePresetResult, void>(
  'steer/savePreset',
);

/** A problem that turns features off for a whole project (a runtime that cannot load, a broken config). */
export interface ProjectProblemParams {
  severity: 'error' | 'warning';
  /** What failed, with its cause. */
  message: string;
  /** What to do about it. */
  fix: string;
  /** The steer.config.json of the project, when there is one. */
  configFile?: string;
}

/**
 * `steer/projectProblem` (server -> client): sent once per problem when a project loads, so that a client can
 * show it where a user looks (a notification and the output channel), not only in the Problems panel.
 */
export const ProjectProblemNotification = new NotificationType<ProjectProblemParams>('steer/projectProblem');

/** The language id of .steer documents. */
export const STEER_LANGUAGE_ID = 'steer';
