// What the feature providers see of a document's project: its catalog, presets and text analysis.
// The workspace (workspace.ts) builds one per steer.config.json; tests build them in memory.
import type { FeatureDescription } from '@steer/catalog';
import type { Diagnostic, FeatureCatalog, PresetStore } from '@steer/grammar';
import type { PresetSummary } from '@steer/presets';
import type { QueryCodeChoice, QueryCoding, SteerMode } from '@steer/sae';

/** The catalog as the language server uses it: the compiler's lookups plus concept search and descriptions. */
export interface LspCatalog extends FeatureCatalog {
  searchFeatures(
    concept: string,
    limit: number,
  ): Promise<Array<{ id: number; label?: string; score: number }>>;
  describe(id: number): Promise<FeatureDescription>;
  /** Per-feature statistics arrays, when the catalog has them (frequency for completion details). */
  readonly stats?: { frequency: Float32Array } | undefined;
  /** A concept as a weighted direction of features (what `~"concept"` edits). */
  conceptDirection?(
    concept: string,
    count?: number,
  ): Promise<{ features: Array<{ id: number; weight: number; label?: string; score: number }> }>;
}

/** Presets visible to a document besides its own `preset` definitions. */
export interface PresetSource {
  store: PresetStore;
  list(): Promise<PresetSummary[]>;
}

/** A feature active for a text: what hover shows for a quoted text. */
export interface TextActivation {
  feature: number;
  label?: string;
  activation: number;
}

/** Everything a provider may need about the project of one document. */
export interface DocumentContext {
  /** Undefined when no SAE is configured or its catalog failed to open (see `problems`). */
  catalog?: LspCatalog;
  presets?: PresetSource;
  /**
   * Embeds a text as a query and codes it with the SAE, by its encoder or by pursuit over its decoder
   * (`code=pursuit`): its strongest features.
   */
  analyzeText?(text: string, limit: number, coding: QueryCoding): Promise<TextActivation[]>;
  /** How queries are coded when they do not say (`code=`): the configuration's `queryCode` (default `auto`). */
  queryCode?: QueryCodeChoice;
  /** How queries are steered when they do not say (`steer=`): the configuration's `steerMode` (default residual). */
  steerMode?: SteerMode;
  /** The norm |h| of the SAE code of a query's weighted texts: the base of relative strengths (`2x`). */
  queryNorm?(texts: ReadonlyArray<{ text: string; weight: number }>): Promise<number>;
  /** Where a query's results and a feature direction's meet (latent units): `1x` of an amplifying edit. */
  crossover?(
    texts: ReadonlyArray<{ text: string; weight: number }>,
    direction: ReadonlyArray<{ feature: number; weight: number }>,
  ): Promise<number | undefined>;
  /** Project-level problems shown on every document (bad config, SAE and embedder mismatch). */
  problems: Diagnostic[];
  /** Why there is no catalog although features were asked for (hover says this instead of a guess). */
  featuresUnavailable?: string;
  /**
   * False while the embedder and the dense scorer still load: completion then answers from labels and aliases
   * only, instead of waiting. Absent means ready.
   */
  conceptSearchReady?(): boolean;
  /** Settles when the background loading of the embedder and scorer is over (successful or not). */
  warmedUp?: Promise<void>;
}

/** A context with nothing configured: parsing, formatting and symbols still work. */
export const EMPTY_CONTEXT: DocumentContext = { problems: [] };

/** Names of features (labels and aliases), lower-cased and sorted, for prefix lookups and did-you-mean. */
export interface FeatureNameIndex {
  /** Sorted by `key`. */
  entries: Array<{ key: string; name: string; id: number; alias: boolean }>;
}

const nameIndexes = new WeakMap<FeatureCatalog, FeatureNameIndex>();

/** The name index of a catalog, built once per catalog object (one pass over its features). */
export function featureNames(catalog: FeatureCatalog): FeatureNameIndex {
  let index = nameIndexes.get(catalog);
  if (index) return index;
  const entries: FeatureNameIndex['entries'] = [];
  for (let id = 0; id < catalog.nLatents; id++) {
    const info = catalog.get(id);
    if (!info) continue;
    if (info.label) entries.push({ key: info.label.toLowerCase(), name: info.label, id, alias: false });
    for (const alias of info.aliases ?? [])
      entries.push({ key: alias.toLowerCase(), name: alias, id, alias: true });
  }
  entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id - b.id));
  index = { entries };
  nameIndexes.set(catalog, index);
  return index;
}

/** The words of feature labels, for completing `+@lear` from any word of a label. */
export interface FeatureWordIndex {
  /** Every distinct word, lower-cased and sorted. */
  words: string[];
  /** The features whose label has the word, those with it earlier in the label first, then by id. */
  features: Map<string, number[]>;
}

const wordIndexes = new WeakMap<FeatureCatalog, FeatureWordIndex>();

/**
 * The word index of a catalog, built once per catalog object: one pass over its labels, then a sort of the
 * distinct words only (a label vocabulary is far smaller than its word count).
 */
export function featureWords(catalog: FeatureCatalog): FeatureWordIndex {
  let index = wordIndexes.get(catalog);
  if (index) return index;
  const byWord = new Map<string, { ids: number[]; positions: number[] }>();
  for (let id = 0; id < catalog.nLatents; id++) {
    const label = catalog.get(id)?.label;
    if (!label) continue;
    const words = label.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu) ?? [];
    for (let position = 0; position < words.length; position++) {
      const word = words[position]!;
      let entry = byWord.get(word);
      if (!entry) byWord.set(word, (entry = { ids: [], positions: [] }));
      if (entry.ids.at(-1) === id) continue; // a word twice in one label
      entry.ids.push(id);
      entry.positions.push(position);
    }
  }
  const features = new Map<string, number[]>();
  for (const [word, { ids, positions }] of byWord) {
    // ids are ascending; list them by position in the label, keeping id order within a position
    const ordered: number[] = [];
    const last = Math.max(...positions);
    for (let position = 0; position <= last; position++)
      for (let i = 0; i < ids.length; i++) if (positions[i] === position) ordered.push(ids[i]!);
    features.set(word, ordered);
  }
  index = { words: [...features.keys()].sort(), features };
  wordIndexes.set(catalog, index);
  return index;
}

/** Features with a label word that starts with `prefix` (lower-case), at most `limit`, shortest words first. */
export function featuresWithWordPrefix(index: FeatureWordIndex, prefix: string, limit: number): number[] {
  const out: number[] = [];
  const first = lowerBound(index.words, prefix);
  for (let i = first; i < index.words.length && index.words[i]!.startsWith(prefix); i++) {
    for (const id of index.features.get(index.words[i]!)!) {
      if (out.length >= limit) return out;
      out.push(id);
    }
  }
  return out;
}

/** The first index of sorted `keys` whose value is not below `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Entries whose key starts with `prefix` (lower-case), at most `limit`, by binary search. */
export function namesWithPrefix(
  index: FeatureNameIndex,
  prefix: string,
  limit: number,
): FeatureNameIndex['entries'] {
  const { entries } = index;
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid]!.key < prefix) lo = mid + 1;
    else hi = mid;
  }
  const out: FeatureNameIndex['entries'] = [];
  for (let i = lo; i < entries.length && out.length < limit && entries[i]!.key.startsWith(prefix); i++)
    out.push(entries[i]!);
  return out;
}

/** Levenshtein distance, stopping early above `max` (returns max + 1 then). */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      const value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > max) return max + 1;
    previous = current;
  }
  return previous[b.length]!;
}

/** How a feature name is written after `@`: bare when it lexes as an alias, quoted otherwise. */
export function aliasText(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name) ? `@${name}` : `@${JSON.stringify(name)}`;
}

/**
 * The reference that names feature `id` and nothing else: `@alias` for the first of its aliases that resolves
 * to it alone, else `f<id>` (whose label the inlay hints show). Labels are never used: one label can name
 * several features, and a relabelled catalog changes them.
 */
export function exactReference(catalog: FeatureCatalog, id: number): string {
  for (const alias of catalog.get(id)?.aliases ?? []) {
    const ids = new Set(catalog.byAliasOrLabel(alias).map((f) => f.id));
    if (ids.size === 1 && ids.has(id)) return aliasText(alias);
  }
  return `f${id}`;
}

/** A percentage for frequencies (0.0123 -> "1.23%"). */
export function percent(value: number): string {
  return `${(value * 100).toFixed(value < 0.001 ? 3 : 2)}%`;
}
