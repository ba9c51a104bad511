// The feature catalog of one SAE: lookups by id, alias and label, concept search, and feature descriptions.
// Implements the FeatureCatalog interface of @steer/grammar.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Embedder } from '@steer/embed';
import type { FeatureCatalog, FeatureInfo } from '@steer/grammar';
import type { SaeRuntime } from '@steer/sae';
// NOTE: the runtime-free door of @steer/sae, so that opening a catalog does not load onnxruntime.
import { readSaeManifest, readSaeWeights, type SaeManifest, type SaeWeights } from '@steer/sae/files';
import { normalizeAliasName, readAliases, writeAliases } from './aliases.js';
import { ConceptIndex, scanModel, type ConceptIndexArrays, type DenseScores } from './concept-index.js';
import { loadConceptIndex, saveConceptIndex, type ConceptIndexKey } from './concept-index-file.js';
import { CatalogError } from './errors.js';
import { crossoverStrength } from './crossover.js';
import { combinedFeedback, conceptParts, FeedbackScorer } from './feedback.js';
import { conceptTerms, LexicalIndex, type LexicalEntry } from './lexical-index.js';
import type { StrengthCalibration } from './profiles.js';
import type { FeatureStats } from './stats.js';
import {
  catalogDir,
  CENTROIDS_FILE,
  decodeCentroids,
  decodeFeedback,
  decodeStats,
  DOCS_FILE,
  FEATURES_FILE,
  FEEDBACK_FILE,
  LABELS_FILE,
  parseJsonl,
  readHeader,
  STATS_FILE,
  TERMS_FILE,
  verifyFiles,
  type CatalogHeader,
  type DocRecord,
  type DocumentEvidence,
  type FeatureRecord,
  type LabelRecord,
  type TermsRecord,
} from './storage.js';
import { CorpusLanguages, foldWord } from './text.js';

/**
 * The concept-search score of a catalog with a feedback pool (see the package README): the feedback relative to
 * the best feature, +1 for an exact alias; the text match only orders features of equal score (those the
 * feedback does not reach).
 */
export const FEEDBACK_SEARCH_WEIGHTS = {
  feedback: 1,
  aliasExact: 1,
} as const;

/** Weights of the concept-search score of a catalog without a feedback pool (built before it existed). */
export const SEARCH_WEIGHTS = {
  documents: 0.65,
  activation: 0.05,
  cosine: 0.15,
  lexical: 0.15,
  aliasExact: 1,
} as const;

/** Features of a concept direction when `~"concept"` gives no count. */
export const CONCEPT_DIRECTION_FEATURES = 3;
/** A concept direction keeps only features scoring at least this fraction of the best match. */
export const CONCEPT_DIRECTION_MIN_SCORE = 0.7;

/** The parts of a concept-search score. */
export interface MatchComponents {
  /**
   * Pseudo-relevance feedback, relative to the best feature (f): how much more the feature fires on the pool
   * documents nearest the concept than on the pool; for a list ("a, b and c") the mean of that over the whole
   * text and each item (see {@link combinedFeedback}); 0 when the catalog has no feedback pool.
   */
  feedback: number;
  /** f of the whole text alone (equal to `feedback` for a concept that is not a list). */
  feedbackWhole: number;
  /** Top-document similarity, relative to the best feature (t). */
  documents: number;
  /** SAE activation of the concept, relative to its strongest feature (a). */
  activation: number;
  /** Cosine between the concept and the decoder direction, negative counted as 0 (b). */
  cosine: number;
  /** Text match of the concept's words against labels, top-document terms, evidence and aliases (c). */
  lexical: number;
  alias: boolean;
}

/** One concept-search result. */
export interface FeatureMatch {
  id: number;
  label?: string;
  aliases?: string[];
  /** True when the feature's label rests on weak evidence. */
  weak?: boolean;
  score: number;
  components: MatchComponents;
}

/** A concept as a direction of several features: edits add `strength x weight` to each. */
export interface ConceptDirection {
  concept: string;
  /** Features with weights; the weighted sum of their decoder columns has unit length. */
  features: Array<{ id: number; weight: number; label?: string; score: number }>;
}

/** Everything the catalog knows about one feature. */
export interface FeatureDescription {
  id: number;
  label?: string;
  keywords: string[];
  llmLabel?: string;
  /** True when the label rests on weak evidence (few documents, or no term sets them apart). */
  weak?: boolean;
  aliases: string[];
  dead?: boolean;
  stats?: {
    count: number;
    frequency: number;
    meanActivation: number;
    p99Activation: number;
    typicalActivation: number;
  };
  topDocuments: Array<{ id: string; activation: number; snippet: string }>;
  evidence: Array<Omit<DocumentEvidence, 'doc'> & { id: string }>;
}

/** Options of {@link openCatalog} and {@link emptyCatalog}. */
export interface CatalogOptions {
  /** Embedder for concept text; must be the SAE's embedding model. Default: the default embedder when the SAE uses it. */
  embedder?: Embedder;
  /** Loads the embedder on first use (e.g. `() => createEmbedder('default', { cacheDir })`). */
  loadEmbedder?: () => Promise<Embedder>;
  /** Dense SAE weights, when the caller already holds them (otherwise read from the SAE folder on first search). */
  weights?: SaeWeights;
  /** Features rescored after the scan (default 1024). */
  candidates?: number;
  /** onnxruntime threads of the scan. */
  intraOpThreads?: number;
  /** With `empty`, a missing catalog gives an {@link emptyCatalog} instead of an error. */
  missing?: 'error' | 'empty';
}

interface DenseScorer {
  score(x: Float32Array): Promise<DenseScores>;
  /** Length of the weighted sum of the decoder columns of `features`. */
  combinedNorm(features: readonly number[], weights: readonly number[]): number;
  /** The weighted sum of the decoder columns of `features`. [dModel] */
  combinedDirection(features: readonly number[], weights: readonly number[]): Float32Array;
  dispose(): Promise<void>;
}

/** Dense scores from a loaded SAE runtime when no weights are at hand: exact encode plus a JS scan of decoder directions. */
class RuntimeScorer implements DenseScorer {
  private directions: Float32Array | undefined; // [nLatents, dModel], unit rows
  private norms: Float32Array | undefined; // [nLatents]
  constructor(private readonly sae: SaeRuntime) {}
  private unitDirections(): { directions: Float32Array; norms: Float32Array } {
    const { nLatents: n, dModel: d } = this.sae.manifest;
    if (!this.directions || !this.norms) {
      const directions = new Float32Array(n * d);
      const norms = new Float32Array(n);
      for (let j = 0; j < n; j++) {
        const column = this.sae.decoderDirection(j);
        let norm = 0;
        for (let i = 0; i < d; i++) norm += column[i]! * column[i]!;
        norms[j] = Math.sqrt(norm);
        for (let i = 0; i < d; i++) directions[j * d + i] = column[i]! / (norms[j] || 1);
      }
      this.directions = directions;
      this.norms = norms;
    }
    return { directions: this.directions, norms: this.norms };
  }
  async score(x: Float32Array): Promise<DenseScores> {
    const { nLatents: n, dModel: d } = this.sae.manifest;
    const { directions } = this.unitDirections();
    const latents = await this.sae.encode(x, 1);
    const features = Int32Array.from({ length: n }, (_, j) => j);
    const activation = new Float32Array(n);
    for (let i = 0; i < latents.k; i++)
      if (latents.values[i]! > 0) activation[latents.indices[i]!] = latents.values[i]!;
    let xNorm = 0;
    for (let i = 0; i < d; i++) xNorm += x[i]! * x[i]!;
    xNorm = Math.sqrt(xNorm) || 1;
    const cosine = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += directions[j * d + i]! * x[i]!;
      cosine[j] = dot / xNorm;
    }
    return { features, activation, cosine, documents: new Float32Array(n) };
  }
  private combinedSum(features: readonly number[], weights: readonly number[]): Float64Array {
    const { dModel: d } = this.sae.manifest;
    const { directions, norms } = this.unitDirections();
    const sum = new Float64Array(d);
    features.forEach((j, t) => {
      for (let i = 0; i < d; i++) sum[i]! += weights[t]! * norms[j]! * directions[j * d + i]!;
    });
    return sum;
  }
  combinedNorm(features: readonly number[], weights: readonly number[]): number {
    return Math.sqrt(this.combinedSum(features, weights).reduce((a, v) => a + v * v, 0));
  }
  combinedDirection(features: readonly number[], weights: readonly number[]): Float32Array {
    return Float32Array.from(this.combinedSum(features, weights));
  }
  async dispose(): Promise<void> {}
}

/** The concept index as a dense scorer, plus the top-document term index that came with it. */
class IndexScorer implements DenseScorer {
  constructor(
    private readonly index: ConceptIndex,
    readonly profileLexical: LexicalIndex,
  ) {}
  score(x: Float32Array): Promise<DenseScores> {
    return this.index.score(x);
  }
  combinedNorm(features: readonly number[], weights: readonly number[]): number {
    return this.index.combinedNorm(features, weights);
  }
  combinedDirection(features: readonly number[], weights: readonly number[]): Float32Array {
    return this.index.combinedDirection(features, weights);
  }
  dispose(): Promise<void> {
    return this.index.dispose();
  }
}

const CONCEPT_CACHE_SIZE = 512;

/** A feature catalog: labels, statistics, aliases and concept search for one SAE. */
export class Catalog implements FeatureCatalog {
  readonly nLatents: number;
  readonly saeId: string;
  private labels = new Map<number, LabelRecord>();
  private aliasToId = new Map<string, number>();
  private idToAliases = new Map<number, string[]>();
  private lexical = LexicalIndex.build([]);
  private labelIndex = new Map<string, number[]>();
  private details: Promise<{ features: Map<number, FeatureRecord>; docs: DocRecord[] }> | undefined;
  private scorer: Promise<DenseScorer | undefined> | undefined;
  private feedback: Promise<FeedbackScorer | undefined> | undefined;
  private embedder: Promise<Embedder> | undefined;
  private readonly conceptVectors = new Map<string, Float32Array>();
  private readonly corpusLanguages: CorpusLanguages;

  /** @internal use {@link openCatalog} or {@link emptyCatalog}. */
  constructor(
    readonly manifest: SaeManifest,
    /** The catalog folder, or undefined for an in-memory empty catalog. */
    readonly dir: string | undefined,
    readonly header: CatalogHeader | undefined,
    readonly stats: FeatureStats | undefined,
    labels: LabelRecord[],
    aliases: Map<string, number>,
    private readonly denseSource: { weights?: SaeWeights; saeDir?: string; sae?: SaeRuntime },
    private readonly options: CatalogOptions,
  ) {
    this.nLatents = manifest.nLatents;
    this.saeId = manifest.id;
    this.corpusLanguages = new CorpusLanguages(header?.languages ?? ['eng']);
    for (const record of labels) this.labels.set(record.id, record);
    this.setAliases(aliases);
  }

  private setAliases(aliases: Map<string, number>): void {
    this.aliasToId = new Map([...aliases].map(([name, id]) => [name.toLowerCase(), id]));
    this.idToAliases = new Map();
    for (const [name, id] of aliases) this.idToAliases.set(id, [...(this.idToAliases.get(id) ?? []), name]);
    this.rebuildLexical();
  }

  private rebuildLexical(): void {
    const entries: LexicalEntry[] = [];
    this.labelIndex = new Map();
    const addLabel = (key: string, id: number): void => {
      const list = this.labelIndex.get(key) ?? [];
      if (!list.includes(id)) list.push(id);
      this.labelIndex.set(key, list);
    };
    for (const record of this.labels.values()) {
      const z = (rank: number): number => record.keywordZ?.[rank] ?? Math.max(0.5, 1 - 0.1 * rank);
      const terms = record.keywords.map((term, rank) => ({ term: foldWord(term), weight: z(rank) }));
      for (const term of conceptTerms(record.llmLabel ?? '', this.corpusLanguages))
        terms.push({ term, weight: z(0) });
      entries.push({ feature: record.id, terms });
      addLabel(record.label.toLowerCase(), record.id);
      if (record.llmLabel) addLabel(record.llmLabel.toLowerCase(), record.id);
      if (record.keywords[0]) addLabel(record.keywords[0], record.id);
    }
    // An alias weighs as much as the strongest keyword of the catalog: a user's name for a feature is evidence
    // as good as any, without crushing the other features that share its words.
    let strongest = 1;
    for (const entry of entries) for (const term of entry.terms) strongest = Math.max(strongest, term.weight);
    for (const [id, names] of this.idToAliases) {
      entries.push({
        feature: id,
        terms: names
          .flatMap((name) => conceptTerms(name.replace(/[_.]/g, ' '), this.corpusLanguages))
          .map((term) => ({ term, weight: strongest })),
      });
    }
    this.lexical = LexicalIndex.build(entries);
  }

  private checkId(id: number): void {
    if (!Number.isSafeInteger(id) || id < 0 || id >= this.nLatents) {
      throw new CatalogError(
        'feature_unknown',
        `catalog: feature ${id} does not exist; SAE ${this.saeId} has features 0..${this.nLatents - 1}`,
      );
    }
  }

  /** The feature's catalog entry, or undefined when `id` is outside the SAE. */
  get(id: number): FeatureInfo | undefined {
    if (!Number.isSafeInteger(id) || id < 0 || id >= this.nLatents) return undefined;
    const info: FeatureInfo = { id };
    const record = this.labels.get(id);
    if (record) info.label = record.label;
    const aliases = this.idToAliases.get(id);
    if (aliases) info.aliases = [...aliases];
    if (this.stats) {
      if (this.stats.count[id] === 0) info.dead = true;
      else info.typicalActivation = this.stats.typicalActivation[id]!;
    }
    return info;
  }

  /**
   * Features named `name` (a leading `@` is ignored, case-insensitive): the alias when there is one, else every
   * feature whose label, LLM label or first keyword is `name` (`_` and `.` read as spaces). Several results
   * mean the name is ambiguous.
   */
  byAliasOrLabel(name: string): FeatureInfo[] {
    const bare = (name.startsWith('@') ? name.slice(1) : name).trim().toLowerCase();
    const aliased = this.aliasToId.get(bare);
    if (aliased !== undefined) return [this.get(aliased)!];
    const spaced = bare.replace(/[_.]+/g, ' ');
    const ids = new Set([...(this.labelIndex.get(bare) ?? []), ...(this.labelIndex.get(spaced) ?? [])]);
    return [...ids].sort((a, b) => a - b).map((id) => this.get(id)!);
  }

  /** Aliases of the catalog, name -> feature id. */
  aliases(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, names] of this.idToAliases) for (const name of names) out.set(name, id);
    return out;
  }

  /**
   * Names feature `id` `name` in aliases.json (replacing an alias of the same name).
   * @throws CatalogError `alias_invalid`, `feature_unknown`, or `catalog_missing` for an in-memory catalog.
   */
  async setAlias(name: string, id: number): Promise<void> {
    const bare = normalizeAliasName(name);
    this.checkId(id);
    const dir = this.requireDir();
    const aliases = await readAliases(dir, this.saeId);
    for (const existing of aliases.keys())
      if (existing.toLowerCase() === bare.toLowerCase()) aliases.delete(existing);
    aliases.set(bare, id);
    await writeAliases(dir, this.saeId, aliases);
    this.setAliases(aliases);
  }

  /** Removes alias `name`; returns false when there was no such alias. */
  async removeAlias(name: string): Promise<boolean> {
    const bare = normalizeAliasName(name);
    const dir = this.requireDir();
    const aliases = await readAliases(dir, this.saeId);
    const existing = [...aliases.keys()].find((key) => key.toLowerCase() === bare.toLowerCase());
    if (existing === undefined) return false;
    aliases.delete(existing);
    await writeAliases(dir, this.saeId, aliases);
    this.setAliases(aliases);
    return true;
  }

  private requireDir(): string {
    if (!this.dir) {
      throw new CatalogError(
        'catalog_missing',
        `catalog: SAE ${this.saeId} has no catalog folder here; open it with openCatalog(<sae dir>) to save aliases`,
      );
    }
    return this.dir;
  }

  private getEmbedder(): Promise<Embedder> {
    this.embedder ??= (async () => {
      const embedder =
        this.options.embedder ?? (this.options.loadEmbedder ? await this.options.loadEmbedder() : undefined);
      if (!embedder) {
        throw new CatalogError(
          'embedder_mismatch',
          `catalog: concept search needs an embedder for ${this.manifest.embedding.model}; pass one in the catalog options`,
        );
      }
      if (embedder.dims !== this.manifest.dModel) {
        throw new CatalogError(
          'embedder_mismatch',
          `catalog: embedder ${embedder.id} gives ${embedder.dims} dims but SAE ${this.saeId} expects ${this.manifest.dModel} (${this.manifest.embedding.model}); use the SAE's embedding model`,
        );
      }
      return embedder;
    })();
    this.embedder.catch(() => (this.embedder = undefined));
    return this.embedder;
  }

  /** Builds the dense scorer now (reads the SAE weights; seconds for large SAEs) instead of on first search. */
  warmUp(): Promise<void> {
    return this.getScorer().then(() => undefined);
  }

  private getScorer(): Promise<DenseScorer | undefined> {
    this.scorer ??= (async (): Promise<DenseScorer | undefined> => {
      const { weights, saeDir, sae } = this.denseSource;
      if (!weights && !saeDir) return sae ? new RuntimeScorer(sae) : undefined;
      return this.openIndex(weights, saeDir);
    })();
    this.scorer.catch(() => (this.scorer = undefined));
    return this.scorer;
  }

  /** The key of this catalog's saved concept index. */
  private indexKey(): ConceptIndexKey {
    const { id, nLatents, dModel, k } = this.manifest;
    return { saeId: id, catalog: this.header?.createdAt ?? 'none', nLatents, dModel, k };
  }

  /**
   * The concept index: loaded from the catalog folder when a saved one matches this SAE and catalog build,
   * else built from the SAE weights, the top-document profiles and terms, and saved for the next run (when the
   * SAE is large enough to need a scan, and the folder is writable).
   */
  private async openIndex(weights: SaeWeights | undefined, saeDir: string | undefined): Promise<IndexScorer> {
    const options = { candidates: this.options.candidates, intraOpThreads: this.options.intraOpThreads };
    const key = this.indexKey();
    const scanning = (options.candidates ?? 1024) < this.nLatents;
    if (this.dir && this.header && scanning) {
      const saved = await loadConceptIndex(this.dir, key);
      // NOTE: a scan model that does not fit its data file (a write torn between the two) is rebuilt too.
      const index =
        saved && (await ConceptIndex.open(saved.arrays, saved.scanModel, options).catch(() => undefined));
      if (saved && index) return new IndexScorer(index, LexicalIndex.fromColumns(saved.lexical));
    }
    const [dense, profiles, details] = await Promise.all([
      weights ?? readSaeWeights(saeDir!),
      this.readProfiles(),
      this.loadDetails(),
    ]);
    const arrays = ConceptIndex.buildArrays(dense, this.manifest.k, profiles, options);
    const lexical = LexicalIndex.build(
      [...details.features.values()].map((record) => ({
        feature: record.id,
        terms: (record.terms ?? []).map(([term, weight]) => ({ term, weight })),
      })),
    );
    if (this.dir && this.header && arrays.scan) {
      // NOTE: saving is best effort: a read-only SAE folder only costs the next run the build again.
      await saveConceptIndex(this.dir, key, arrays, lexical.toColumns(), (location, offset) =>
        scanModel(arrays, { location, offset }),
      ).catch(() => undefined);
    }
    const index = await ConceptIndex.open(
      arrays,
      arrays.scan ? await scanModel(arrays, { data: arrays.scan.q }) : undefined,
      options,
    );
    dropScanMatrix(arrays);
    return new IndexScorer(index, lexical);
  }

  /** The catalog's top-document profiles (centroids.bin), when it has them. */
  private async readProfiles(): Promise<ConceptIndexArrays['profileRows']> {
    if (!this.dir || !this.header?.files[CENTROIDS_FILE]) return undefined;
    const path = join(this.dir, CENTROIDS_FILE);
    return decodeCentroids(await readFile(path), path, this.nLatents, this.manifest.dModel);
  }

  /** The catalog's feedback pool (feedback.bin), when it has one; read on the first concept search. */
  private getFeedback(): Promise<FeedbackScorer | undefined> {
    this.feedback ??= (async () => {
      if (!this.dir || !this.header?.files[FEEDBACK_FILE]) return undefined;
      const path = join(this.dir, FEEDBACK_FILE);
      const pool = decodeFeedback(await readFile(path), path, this.nLatents, this.manifest.dModel);
      return new FeedbackScorer(pool, this.nLatents);
    })();
    this.feedback.catch(() => (this.feedback = undefined));
    return this.feedback;
  }

  /** Whether the catalog has an embedder (given or loadable) for concept text. */
  private canEmbed(): boolean {
    return this.options.embedder !== undefined || this.options.loadEmbedder !== undefined;
  }

  /** Embeds concept text (as a query), remembering the last 512 concepts. */
  async embedConcept(text: string): Promise<Float32Array> {
    const cached = this.conceptVectors.get(text);
    if (cached) {
      this.conceptVectors.delete(text);
      this.conceptVectors.set(text, cached);
      return cached;
    }
    const embedder = await this.getEmbedder();
    const vector = await embedder.embed([text], { kind: 'query' });
    this.conceptVectors.set(text, vector);
    if (this.conceptVectors.size > CONCEPT_CACHE_SIZE)
      this.conceptVectors.delete(this.conceptVectors.keys().next().value!);
    return vector;
  }

  /**
   * Ranks features for a concept: embeds it (cached), then {@link searchFeaturesByVector}. Without a dense
   * source (an empty catalog without SAE) only labels and aliases are matched.
   */
  async searchFeatures(concept: string, limit = 10): Promise<FeatureMatch[]> {
    const dense = concept.trim() !== '' && (await this.getScorer()) !== undefined;
    return this.searchFeaturesByVector(concept, dense ? await this.embedConcept(concept) : undefined, limit);
  }

  /**
   * Ranks features for concept text whose embedding is `vector` (undefined: lexical only). With a feedback pool
   * in the catalog the score is f (+1 for an exact alias): f = pseudo-relevance feedback (how much more the
   * feature fires on the 10 pool documents nearest the concept than on the whole pool, relative to the best
   * feature; for a list such as "oil prices, airlines and stock markets", the mean of that over the whole text
   * and each item, every item embedded on its own); the text match c (below) orders features of equal score. Without one (catalogs built before the pool existed) it is
   * 0.65 t + 0.05 a + 0.15 b + 0.15 c (+1 for an exact alias): t = similarity of the concept to the feature's top
   * documents (relative to the best feature), a = SAE activation relative to the concept's strongest feature,
   * b = cosine between concept and decoder direction (negative counts 0), c = text match of the concept's words
   * against labels, top-document terms, token evidence and aliases, in [0, 1].
   */
  async searchFeaturesByVector(
    concept: string,
    vector: Float32Array | undefined,
    limit = 10,
  ): Promise<FeatureMatch[]> {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new CatalogError(
        'invalid_option',
        `catalog: search limit is ${limit}; use a whole number of at least 1`,
      );
    }
    const parts = new Map<number, MatchComponents>();
    const entry = (id: number): MatchComponents => {
      let part = parts.get(id);
      if (!part)
        parts.set(
          id,
          (part = {
            feedback: 0,
            feedbackWhole: 0,
            documents: 0,
            activation: 0,
            cosine: 0,
            lexical: 0,
            alias: false,
          }),
        );
      return part;
    };
    const terms = conceptTerms(concept, this.corpusLanguages);
    const scorer = vector ? await this.getScorer() : undefined;
    const lexicalIndexes = [this.lexical];
    if (scorer instanceof IndexScorer) lexicalIndexes.push(scorer.profileLexical);
    for (const index of lexicalIndexes) {
      for (const [id, score] of index.match(terms)) {
        const part = entry(id);
        part.lexical = Math.max(part.lexical, score);
      }
    }
    const aliasName = concept.trim().replace(/^@/, '').toLowerCase();
    const aliased = this.aliasToId.get(aliasName) ?? this.aliasToId.get(aliasName.replace(/\s+/g, '_'));
    if (aliased !== undefined) {
      entry(aliased).alias = true;
      entry(aliased).lexical = 1;
    }
    if (scorer && vector) {
      const dense = await scorer.score(vector);
      let maxActivation = 0;
      let maxDocuments = 0;
      for (const value of dense.activation) maxActivation = Math.max(maxActivation, value);
      for (const value of dense.documents) maxDocuments = Math.max(maxDocuments, value);
      for (let c = 0; c < dense.features.length; c++) {
        const activation = maxActivation > 0 ? dense.activation[c]! / maxActivation : 0;
        const documents = maxDocuments > 0 ? Math.max(0, dense.documents[c]!) / maxDocuments : 0;
        const cosine = Math.max(0, dense.cosine[c]!);
        if (activation === 0 && cosine === 0 && documents === 0 && !parts.has(dense.features[c]!)) continue;
        const part = entry(dense.features[c]!);
        part.activation = activation;
        part.cosine = cosine;
        part.documents = documents;
      }
    }
    const feedback = vector ? await this.getFeedback() : undefined;
    if (feedback && vector) {
      const whole = feedback.score(vector);
      // NOTE: the items are embedded only where the catalog can embed (a caller-supplied vector without an
      // embedder keeps the whole text's f).
      const items = this.canEmbed() ? conceptParts(concept) : [];
      const scores = [whole];
      for (const item of items) scores.push(feedback.score(await this.embedConcept(item)));
      const wholeFeedback = combinedFeedback([whole]);
      for (const [id, value] of wholeFeedback) entry(id).feedbackWhole = value;
      for (const [id, value] of items.length > 0 ? combinedFeedback(scores) : wholeFeedback)
        entry(id).feedback = value;
    }
    const w = SEARCH_WEIGHTS;
    const fw = FEEDBACK_SEARCH_WEIGHTS;
    const ranked: FeatureMatch[] = [];
    for (const [id, part] of parts) {
      if (this.stats && this.stats.count[id] === 0 && !part.alias) continue;
      const score = feedback
        ? fw.feedback * part.feedback + (part.alias ? fw.aliasExact : 0)
        : w.documents * part.documents +
          w.activation * part.activation +
          w.cosine * part.cosine +
          w.lexical * part.lexical +
          (part.alias ? w.aliasExact : 0);
      if (score <= 0 && !(feedback && part.lexical > 0)) continue;
      ranked.push({ id, score, components: part });
    }
    // NOTE: with feedback the text match only breaks ties: it orders the features the feedback does not reach.
    ranked.sort((a, b) => b.score - a.score || b.components.lexical - a.components.lexical || a.id - b.id);
    return ranked.slice(0, limit).map((match) => {
      const info = this.get(match.id)!;
      const weak = this.labels.get(match.id)?.weak;
      return {
        ...match,
        ...(info.label ? { label: info.label } : {}),
        ...(info.aliases ? { aliases: info.aliases } : {}),
        ...(weak ? { weak } : {}),
      };
    });
  }

  /**
   * A concept as a direction: the best `count` matches of {@link searchFeatures} (default
   * {@link CONCEPT_DIRECTION_FEATURES}; matches under 70% of the best score are left out), weighted by their scores
   * and scaled so that the weighted sum of their decoder columns has unit length. Empty when nothing matches.
   */
  async conceptDirection(concept: string, count?: number): Promise<ConceptDirection> {
    const wanted = count ?? CONCEPT_DIRECTION_FEATURES;
    const matches = await this.searchFeatures(concept, wanted);
    const best = matches[0]?.score ?? 0;
    const chosen =
      count === undefined ? matches.filter((m) => m.score >= CONCEPT_DIRECTION_MIN_SCORE * best) : matches;
    if (chosen.length === 0) return { concept, features: [] };
    const ids = chosen.map((m) => m.id);
    const scores = chosen.map((m) => m.score);
    const scorer = await this.getScorer();
    const norm = scorer ? scorer.combinedNorm(ids, scores) : Math.sqrt(scores.reduce((a, v) => a + v * v, 0));
    return {
      concept,
      features: chosen.map((m) => ({
        id: m.id,
        weight: m.score / (norm || 1),
        score: m.score,
        ...(m.label ? { label: m.label } : {}),
      })),
    };
  }

  /**
   * The strength, in latent units along the weighted `features`, at which a query (`query`, its embedding) and
   * the direction meet on the catalog's feedback pool: the direction's own top documents then score as high as
   * the query's (see {@link crossoverStrength}). The meaning of `1x` for an amplifying edit of this query.
   * Undefined when the catalog has no feedback pool, no dense source, or the two do not cross.
   */
  async crossoverStrength(
    query: Float32Array,
    features: ReadonlyArray<{ feature: number; weight: number }>,
  ): Promise<number | undefined> {
    if (features.length === 0) return undefined;
    const [feedback, scorer] = await Promise.all([this.getFeedback(), this.getScorer()]);
    if (!feedback || !scorer) return undefined;
    const direction = scorer.combinedDirection(
      features.map((f) => f.feature),
      features.map((f) => f.weight),
    );
    return crossoverStrength(feedback.pool, query, direction);
  }

  /**
   * What relative strengths mean for this SAE: its calibration from the catalog (`1x` = scale x |h| of the
   * query); undefined when the catalog has none (the compiler then uses its default scale).
   */
  strengthCalibration(): StrengthCalibration | undefined {
    return this.header?.strength;
  }

  /** {@link FeatureCatalog.resolveConcept}: {@link conceptDirection} with FeatureInfo results. */
  async resolveConcept(
    text: string,
    count?: number,
  ): Promise<Array<{ feature: FeatureInfo; weight: number }>> {
    const direction = await this.conceptDirection(text, count);
    return direction.features.map((f) => ({ feature: this.get(f.id)!, weight: f.weight }));
  }

  /** {@link FeatureCatalog.searchConcept}: {@link searchFeatures} with FeatureInfo results. */
  async searchConcept(text: string, limit: number): Promise<Array<{ feature: FeatureInfo; score: number }>> {
    const matches = await this.searchFeatures(text, limit);
    return matches.map((match) => ({ feature: this.get(match.id)!, score: match.score }));
  }

  private loadDetails(): Promise<{ features: Map<number, FeatureRecord>; docs: DocRecord[] }> {
    this.details ??= (async () => {
      if (!this.dir) return { features: new Map(), docs: [] };
      const [featureText, docText] = await Promise.all([
        readFile(join(this.dir, FEATURES_FILE), 'utf8'),
        readFile(join(this.dir, DOCS_FILE), 'utf8'),
      ]);
      const features = new Map(
        parseJsonl<FeatureRecord>(featureText, FEATURES_FILE).map((record) => [record.id, record]),
      );
      return { features, docs: parseJsonl<DocRecord>(docText, DOCS_FILE) };
    })();
    return this.details;
  }

  /**
   * Everything about feature `id`: label, keywords, aliases, statistics, top documents and token evidence
   * (the first call reads features.jsonl and docs.jsonl).
   * @throws CatalogError `feature_unknown` when `id` is outside the SAE.
   */
  async describe(id: number): Promise<FeatureDescription> {
    this.checkId(id);
    const record = this.labels.get(id);
    const { features, docs } = await this.loadDetails();
    const detail = features.get(id);
    const doc = (index: number): DocRecord => docs[index] ?? { id: `#${index}`, snippet: '' };
    const stats = this.stats;
    return {
      id,
      ...(record ? { label: record.label } : {}),
      keywords: record?.keywords ?? [],
      ...(record?.llmLabel ? { llmLabel: record.llmLabel } : {}),
      ...(record?.weak ? { weak: true } : {}),
      aliases: this.idToAliases.get(id) ?? [],
      ...(stats ? { dead: stats.count[id] === 0 } : {}),
      ...(stats
        ? {
            stats: {
              count: stats.count[id]!,
              frequency: stats.frequency[id]!,
              meanActivation: stats.meanActivation[id]!,
              p99Activation: stats.p99Activation[id]!,
              typicalActivation: stats.typicalActivation[id]!,
            },
          }
        : {}),
      topDocuments: (detail?.top ?? []).map(([index, activation]) => ({
        id: doc(index).id,
        activation,
        snippet: doc(index).snippet,
      })),
      evidence: (detail?.evidence ?? []).map(({ doc: index, ...rest }) => ({ id: doc(index).id, ...rest })),
    };
  }

  /** The corpus' bag-of-words document frequencies saved at build time (undefined for an empty catalog). */
  async terms(): Promise<TermsRecord | undefined> {
    if (!this.dir || !this.header) return undefined;
    return JSON.parse(await readFile(join(this.dir, TERMS_FILE), 'utf8')) as TermsRecord;
  }

  /** Frees the scan session (and the embedder when the catalog loaded it). */
  async dispose(): Promise<void> {
    const scorer = await this.scorer?.catch(() => undefined);
    await scorer?.dispose();
    if (!this.options.embedder && this.embedder)
      await (await this.embedder.catch(() => undefined))?.dispose();
  }
}

/** Drops the JS copy of the scan matrix once the onnxruntime session holds it. */
function dropScanMatrix(arrays: ConceptIndexArrays): void {
  if (arrays.scan) arrays.scan.q = new Int8Array(0);
}

/**
 * Opens the catalog beside an SAE (`<saeDir>/catalog/`). Concept search reads the SAE weights on first use
 * (or at {@link Catalog.warmUp}).
 * @throws CatalogError `catalog_missing` (unless `missing: 'empty'`), `sae_mismatch` when the catalog was built
 *   for another SAE, `catalog_invalid` for damaged files; SaeError when the SAE folder is invalid.
 */
export async function openCatalog(saeDir: string, options: CatalogOptions = {}): Promise<Catalog> {
  const manifest = await readSaeManifest(saeDir);
  const dir = catalogDir(saeDir);
  const header = await readHeader(dir);
  if (!header) {
    if (options.missing === 'empty') {
      return new Catalog(
        manifest,
        dir,
        undefined,
        undefined,
        [],
        await readAliases(dir, manifest.id),
        { weights: options.weights, saeDir },
        options,
      );
    }
    throw new CatalogError(
      'catalog_missing',
      `catalog: ${dir} holds no catalog for SAE ${manifest.id}; build one with \`steer label --sae ${saeDir} --corpus <corpus.jsonl>\``,
    );
  }
  if (header.saeId !== manifest.id || header.nLatents !== manifest.nLatents) {
    throw new CatalogError(
      'sae_mismatch',
      `catalog: ${dir} was built for SAE ${header.saeId} but ${saeDir} holds SAE ${manifest.id}; rebuild it with \`steer label --sae ${saeDir} --corpus <corpus.jsonl> --force\``,
    );
  }
  await verifyFiles(dir, header);
  const [statsBytes, labelText, aliases] = await Promise.all([
    readFile(join(dir, STATS_FILE)),
    readFile(join(dir, LABELS_FILE), 'utf8'),
    readAliases(dir, manifest.id),
  ]);
  const stats = decodeStats(statsBytes, join(dir, STATS_FILE), manifest.nLatents);
  const labels = parseJsonl<LabelRecord>(labelText, LABELS_FILE);
  return new Catalog(
    manifest,
    dir,
    header,
    stats,
    labels,
    aliases,
    { weights: options.weights, saeDir },
    options,
  );
}

/**
 * A catalog for an SAE without one: feature ids only (no labels or statistics). Concept search still ranks
 * by SAE activation and decoder cosine when `sae` is given: a folder (weights read on first search) or a
 * loaded runtime (exact encode plus a scan of its decoder directions in JS, fine for small SAEs).
 */
export function emptyCatalog(
  manifest: SaeManifest,
  sae?: SaeRuntime | string,
  options: CatalogOptions = {},
): Catalog {
  const source =
    typeof sae === 'string' ? { saeDir: sae, weights: options.weights } : { sae, weights: options.weights };
  return new Catalog(manifest, undefined, undefined, undefined, [], new Map(), source, options);
}
