// The feature catalog of one SAE: lookups by id, alias and label, concept search, and feature descriptions.
// Implements the FeatureCatalog interface of @steer/grammar.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Embedder } from '@steer/embed';
import type { FeatureCatalog, FeatureInfo } from '@steer/grammar';
import {
  readSaeManifest,
  readSaeWeights,
  type SaeManifest,
  type SaeRuntime,
  type SaeWeights,
} from '@steer/sae';
import { normalizeAliasName, readAliases, writeAliases } from './aliases.js';
import { ConceptIndex, type DenseScores } from './concept-index.js';
import { CatalogError } from './errors.js';
import { conceptTerms, LexicalIndex, type LexicalEntry } from './lexical-index.js';
import type { FeatureStats } from './stats.js';
import {
  catalogDir,
  decodeStats,
  DOCS_FILE,
  FEATURES_FILE,
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
import { words } from './text.js';

/** Weights of the concept-search score (see the package README). */
export const SEARCH_WEIGHTS = { activation: 0.35, cosine: 0.35, lexical: 0.3, aliasExact: 1 } as const;

/** One concept-search result. */
export interface FeatureMatch {
  id: number;
  label?: string;
  aliases?: string[];
  score: number;
  /** The parts of the score: relative SAE activation (a), decoder cosine (b), lexical match (c), alias hit. */
  components: { activation: number; cosine: number; lexical: number; alias: boolean };
}

/** Everything the catalog knows about one feature. */
export interface FeatureDescription {
  id: number;
  label?: string;
  keywords: string[];
  llmLabel?: string;
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
  dispose(): Promise<void>;
}

/** Dense scores from a loaded SAE runtime when no weights are at hand: exact encode plus a JS scan of decoder directions. */
class RuntimeScorer implements DenseScorer {
  private directions: Float32Array | undefined; // [nLatents, dModel], unit rows
  constructor(private readonly sae: SaeRuntime) {}
  async score(x: Float32Array): Promise<DenseScores> {
    const { nLatents: n, dModel: d } = this.sae.manifest;
    if (!this.directions) {
      const directions = new Float32Array(n * d);
      for (let j = 0; j < n; j++) {
        const column = this.sae.decoderDirection(j);
        let norm = 0;
        for (let i = 0; i < d; i++) norm += column[i]! * column[i]!;
        norm = Math.sqrt(norm) || 1;
        for (let i = 0; i < d; i++) directions[j * d + i] = column[i]! / norm;
      }
      this.directions = directions;
    }
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
      for (let i = 0; i < d; i++) dot += this.directions[j * d + i]! * x[i]!;
      cosine[j] = dot / xNorm;
    }
    return { features, activation, cosine };
  }
  async dispose(): Promise<void> {}
}

const CONCEPT_CACHE_SIZE = 512;

/** A feature catalog: labels, statistics, aliases and concept search for one SAE. */
export class Catalog implements FeatureCatalog {
  readonly nLatents: number;
  readonly saeId: string;
  private labels = new Map<number, LabelRecord>();
  private aliasToId = new Map<string, number>();
  private idToAliases = new Map<number, string[]>();
  private lexical = new LexicalIndex([]);
  private labelIndex = new Map<string, number[]>();
  private details: Promise<{ features: Map<number, FeatureRecord>; docs: DocRecord[] }> | undefined;
  private scorer: Promise<DenseScorer | undefined> | undefined;
  private embedder: Promise<Embedder> | undefined;
  private readonly conceptVectors = new Map<string, Float32Array>();

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
      const terms = record.keywords.map((term, rank) => ({ term, weight: Math.max(0.5, 1 - 0.1 * rank) }));
      for (const term of words(record.llmLabel ?? '')) terms.push({ term, weight: 1 });
      entries.push({ feature: record.id, terms });
      addLabel(record.label.toLowerCase(), record.id);
      if (record.llmLabel) addLabel(record.llmLabel.toLowerCase(), record.id);
      if (record.keywords[0]) addLabel(record.keywords[0], record.id);
    }
    for (const [id, names] of this.idToAliases) {
      entries.push({
        feature: id,
        terms: names
          .flatMap((name) => words(name.replace(/[_.]/g, ' ')))
          .map((term) => ({ term, weight: 1 })),
      });
    }
    this.lexical = new LexicalIndex(entries);
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
      const options = { candidates: this.options.candidates, intraOpThreads: this.options.intraOpThreads };
      if (weights) return ConceptIndex.build(weights, this.manifest.k, options);
      if (saeDir) return ConceptIndex.build(await readSaeWeights(saeDir), this.manifest.k, options);
      if (sae) return new RuntimeScorer(sae);
      return undefined;
    })();
    this.scorer.catch(() => (this.scorer = undefined));
    return this.scorer;
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
   * Ranks features for concept text whose embedding is `vector` (undefined: lexical only) by
   * 0.35 a + 0.35 b + 0.3 c (+1 for an exact alias): a = SAE activation relative to the concept's strongest
   * feature, b = cosine between concept and decoder direction (negative counts 0), c = keyword, label and
   * alias match in [0, 1].
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
    const parts = new Map<number, { activation: number; cosine: number; lexical: number; alias: boolean }>();
    const entry = (id: number) => {
      let part = parts.get(id);
      if (!part) parts.set(id, (part = { activation: 0, cosine: 0, lexical: 0, alias: false }));
      return part;
    };
    for (const [id, score] of this.lexical.match(conceptTerms(concept))) entry(id).lexical = score;
    const aliasName = concept.trim().replace(/^@/, '').toLowerCase();
    const aliased = this.aliasToId.get(aliasName) ?? this.aliasToId.get(aliasName.replace(/\s+/g, '_'));
    if (aliased !== undefined) {
      entry(aliased).alias = true;
      entry(aliased).lexical = 1;
    }
    const scorer = vector ? await this.getScorer() : undefined;
    if (scorer && vector) {
      const dense = await scorer.score(vector);
      let maxActivation = 0;
      for (const value of dense.activation) maxActivation = Math.max(maxActivation, value);
      for (let c = 0; c < dense.features.length; c++) {
        const activation = maxActivation > 0 ? dense.activation[c]! / maxActivation : 0;
        const cosine = Math.max(0, dense.cosine[c]!);
        if (activation === 0 && cosine === 0 && !parts.has(dense.features[c]!)) continue;
        const part = entry(dense.features[c]!);
        part.activation = activation;
        part.cosine = cosine;
      }
    }
    const w = SEARCH_WEIGHTS;
    const ranked: FeatureMatch[] = [];
    for (const [id, part] of parts) {
      const score =
        w.activation * part.activation +
        w.cosine * part.cosine +
        w.lexical * part.lexical +
        (part.alias ? w.aliasExact : 0);
      if (score <= 0) continue;
      ranked.push({ id, score, components: part });
    }
    ranked.sort((a, b) => b.score - a.score || a.id - b.id);
    return ranked.slice(0, limit).map((match) => {
      const info = this.get(match.id)!;
      return {
        ...match,
        ...(info.label ? { label: info.label } : {}),
        ...(info.aliases ? { aliases: info.aliases } : {}),
      };
    });
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
