// The steering pipeline: parse and compile a steer query, embed its texts, steer through the SAE, search.
import { join } from 'node:path';
import { compileText } from '@steer/grammar';
import type { ParseResult } from '@steer/grammar';
import type { Diagnostic, FeatureCatalog, SteeringPlan } from '@steer/grammar';
import { applyEdits, latentNorm, loadSae, resolveQueryCoding } from '@steer/sae';
import type { FeatureEdit, SaeRuntime } from '@steer/sae';
import { createEmbedder } from '@steer/embed';
import type { Embedder } from '@steer/embed';
import { openLanceBackend } from '@steer/search';
import { openElasticsearchBackend } from '@steer/elasticsearch';
import type { SearchBackend, SearchHit, SearchMode } from '@steer/search';
import { openCatalog, emptyCatalog } from '@steer/catalog';
import { FolderPresetStore } from '@steer/presets';
import type { SteerConfig } from './config.js';
import { ConfigError } from './config.js';
import type { ExplainedHit, FeatureContribution, LatentVector, ResolvedQuery } from './types.js';
import { SteerQueryError } from './types.js';

/** A feature catalog as the engine uses it: the compiler's interface plus concept search with labels. */
export type EngineCatalog = FeatureCatalog & {
  searchFeatures?(
    concept: string,
    limit: number,
  ): Promise<Array<{ id: number; label?: string; score: number }>>;
  /** Where a query (its embedding) and a feature direction meet on the catalog's pool: `1x` of an amplify. */
  crossoverStrength?(
    query: Float32Array,
    features: ReadonlyArray<{ feature: number; weight: number }>,
  ): Promise<number | undefined>;
};

export interface EngineParts {
  embedder: Embedder;
  backend: SearchBackend;
  sae?: SaeRuntime;
  catalog?: EngineCatalog;
  presetsDir?: string;
}

export interface ResolveDefaults {
  k?: number;
  numCandidates?: number;
  index?: string;
}

export interface SearchResult {
  resolved: ResolvedQuery;
  hits: SearchHit[];
  /** The same query without its edits, when asked for (`compare: true`). */
  baseline?: SearchHit[];
}

const DEFAULT_K = 10;

function l2Normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
  const norm = Math.sqrt(sum);
  if (norm === 0) return vector;
  for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return vector;
}

/** Diagnostics as `line:character code: message` (1-based), joined for one error message. */
/**
 * The query's latents after the edits (h'), strongest first; features whose activation the edits bring to zero or
 * below are left out (a TopK latent is never negative, and sparse_vector stores positive weights only).
 */
export function editLatents(latents: LatentVector, edits: readonly FeatureEdit[]): LatentVector {
  if (edits.length === 0) return latents;
  const row = new Map<number, number>();
  latents.indices.forEach((feature, i) => row.set(feature, (row.get(feature) ?? 0) + latents.values[i]!));
  const kept = [...applyEdits(row, edits)]
    .filter(([, value]) => value > 0)
    .sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  return {
    indices: Int32Array.from(kept, ([feature]) => feature),
    values: Float32Array.from(kept, ([, value]) => value),
  };
}

function formatDiagnostics(diagnostics: Diagnostic[]): string {
  return diagnostics
    .map((d) => `${d.range.start.line + 1}:${d.range.start.character + 1} ${d.code}: ${d.message}`)
    .join('; ');
}

/** Steered retrieval over one embedder, one SAE (optional) and one search backend. */
export class SteerEngine {
  constructor(
    readonly parts: EngineParts,
    readonly config?: SteerConfig,
  ) {}

  get embedder(): Embedder {
    return this.parts.embedder;
  }
  get sae(): SaeRuntime | undefined {
    return this.parts.sae;
  }
  get backend(): SearchBackend {
    return this.parts.backend;
  }

  private requireSae(why: string): SaeRuntime {
    if (!this.parts.sae) {
      throw new ConfigError(
        `engine: ${why} needs an SAE, and none is configured; set "sae" in steer.config.json or pass --sae <dir>`,
      );
    }
    return this.parts.sae;
  }

  /** The SAE's feature catalog: the labelled one beside the SAE, else ids only (concept search still works). */
  featureCatalog(): FeatureCatalog {
    if (this.parts.catalog) return this.parts.catalog;
    const sae = this.parts.sae;
    if (!sae) return noSaeCatalog;
    this.parts.catalog = emptyCatalog(sae.manifest, sae, { embedder: this.embedder }) as EngineCatalog;
    return this.parts.catalog;
  }

  /**
   * Parses and compiles `query` (one query; or the result of `parse`, which is then not parsed again) and returns
   * its plan; throws SteerQueryError on any error. Relative
   * strengths (`2x`) are multiples of the query's own unit: `1x` of an amplifying edit is where the query's results
   * and the edited direction's meet on the catalog's pool (the crossover), else the calibration scale x the norm
   * of the query's code; its texts are embedded and encoded for them (and
   * `vectors` keeps the mixed embedding, so that the search does not embed them again).
   */
  async plan(
    query: string | ParseResult,
    vectors: Map<string, Float32Array> = new Map(),
  ): Promise<{ plan: SteeringPlan; diagnostics: Diagnostic[] }> {
    const presets = this.parts.presetsDir ? new FolderPresetStore(this.parts.presetsDir) : undefined;
    const sae = this.parts.sae;
    const queryNorm = sae
      ? async (texts: ReadonlyArray<{ text: string; weight: number }>): Promise<number> =>
          latentNorm(await sae.encode(await this.mixTexts(texts, vectors), 1))
      : undefined;
    const catalog = this.featureCatalog() as EngineCatalog;
    const crossover = catalog.crossoverStrength
      ? async (
          texts: ReadonlyArray<{ text: string; weight: number }>,
          direction: ReadonlyArray<{ feature: number; weight: number }>,
        ): Promise<number | undefined> =>
          catalog.crossoverStrength!(await this.mixTexts(texts, vectors), direction)
      : undefined;
    const { plans, diagnostics } = await compileText(query, {
      catalog,
      presets,
      ...(queryNorm ? { queryNorm } : {}),
      ...(crossover ? { crossover } : {}),
    });
    const errors = diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0)
      throw new SteerQueryError(`invalid steer query: ${formatDiagnostics(errors)}`, errors);
    if (plans.length !== 1) {
      throw new SteerQueryError(`a search takes exactly one query, found ${plans.length}`, diagnostics);
    }
    return { plan: plans[0]!, diagnostics };
  }

  /** Embeds and mixes the plan's weighted texts into one query vector. */
  async embedTexts(plan: SteeringPlan): Promise<Float32Array> {
    return this.mixTexts(plan.texts);
  }

  private async mixTexts(
    texts: ReadonlyArray<{ text: string; weight: number }>,
    memo?: Map<string, Float32Array>,
  ): Promise<Float32Array> {
    const key = JSON.stringify(texts.map((t) => [t.text, t.weight]));
    const known = memo?.get(key);
    if (known) return known;
    const vector = await embedQueryTexts(this.embedder, texts);
    memo?.set(key, vector);
    return vector;
  }

  /** Resolves a steer query into the steered vector, its latents and the search options. */
  async resolve(query: string | ParseResult, defaults: ResolveDefaults = {}): Promise<ResolvedQuery> {
    const vectors = new Map<string, Float32Array>();
    const { plan, diagnostics } = await this.plan(query, vectors);
    const baseVector = await this.mixTexts(plan.texts, vectors);
    let vector = baseVector;
    let latents: LatentVector = { indices: new Int32Array(0), values: new Float32Array(0) };
    const mode = plan.options.mode ?? 'dense';
    const edits: FeatureEdit[] = plan.edits.map((e) =>
      e.op === 'zero'
        ? { feature: e.feature, op: 'zero' as const }
        : { feature: e.feature, op: e.op, value: e.value },
    );
    const steerMode = plan.options.steer ?? this.config?.steerMode ?? 'residual';
    // `steer=reconstructed` searches with the query's reconstruction W_dec h + b_dec even without edits (what the
    // SAE keeps of the query); a configured default does so only when there is an SAE to reconstruct with.
    const reconstruct =
      steerMode === 'reconstructed' && (plan.options.steer !== undefined || this.parts.sae !== undefined);
    let steering: ResolvedQuery['steering'];
    if (edits.length > 0 || reconstruct) {
      const sae = this.requireSae(edits.length > 0 ? 'a query with feature edits' : 'steer=reconstructed');
      steering = {
        mode: steerMode,
        code: resolveQueryCoding(plan.options.code ?? this.config?.queryCode, steerMode),
      };
      const steered = await sae.steer(baseVector, edits, {
        mode: steerMode,
        coding: steering.code,
        returnLatents: false,
      });
      vector = steered.vector;
    }
    // Sparse and hybrid modes search with the edited latents h' themselves (the paper's rule), not with the
    // re-encoded steered vector: `-f12` then guarantees that f12 is not among the query's latents. They keep the
    // encoder's code whatever `code=` says: the index's documents are coded by the encoder.
    if (this.parts.sae && mode !== 'dense') latents = editLatents(await this.encodeOne(baseVector), edits);
    const k = plan.options.k ?? defaults.k ?? DEFAULT_K;
    return {
      plan,
      baseVector,
      vector,
      latents,
      k,
      numCandidates: plan.options.numCandidates ?? defaults.numCandidates ?? Math.max(100, 10 * k),
      mode,
      index: plan.options.index ?? defaults.index,
      filter: plan.filter,
      ...(steering ? { steering } : {}),
      diagnostics,
    };
  }

  /** SAE latents of one vector, strongest first. */
  async encodeOne(vector: Float32Array): Promise<LatentVector> {
    const sae = this.requireSae('encoding latents');
    const encoded = await sae.encode(vector, 1);
    return { indices: encoded.indices.slice(0, encoded.k), values: encoded.values.slice(0, encoded.k) };
  }

  /** Runs a steer query against the backend; with `compare`, also the same query without its edits. */
  async search(
    query: string | ParseResult,
    options: ResolveDefaults & { compare?: boolean } = {},
  ): Promise<SearchResult> {
    const resolved = await this.resolve(query, options);
    const index = resolved.index ?? this.config?.index ?? 'default';
    const backend = this.backend;
    if (!backend.capabilities[resolved.mode]) {
      throw new SteerQueryError(
        `mode=${resolved.mode} needs SAE latents stored in the index; the embedded store keeps dense vectors only — use mode=dense, or an Elasticsearch index built with \`steer index --latents\``,
        [],
      );
    }
    const run = (vector: Float32Array, latents: LatentVector): Promise<SearchHit[]> =>
      backend.search(index, {
        mode: resolved.mode,
        vector,
        latents,
        k: resolved.k,
        numCandidates: resolved.numCandidates,
        filter: resolved.filter,
      });
    const hits = await run(resolved.vector, resolved.latents);
    const baseline = options.compare
      ? await run(
          resolved.baseVector,
          resolved.mode === 'dense' ? resolved.latents : await this.encodeOne(resolved.baseVector),
        )
      : undefined;
    return { resolved, hits, baseline };
  }

  /** Concept search over the SAE's features (catalog labels when there is a catalog). */
  async searchFeatures(
    concept: string,
    limit = 10,
  ): Promise<Array<{ id: number; label?: string; score: number }>> {
    const catalog = this.featureCatalog() as EngineCatalog;
    if (catalog.searchFeatures) return catalog.searchFeatures(concept, limit);
    const found = await catalog.searchConcept(concept, limit);
    return found.map((f) => ({ id: f.feature.id, label: f.feature.label, score: f.score }));
  }

  /**
   * Explains hits by the features query and document share: for each feature active in both, the product
   * of the two activations. Documents are re-embedded (through the embedding cache) and encoded. With
   * `documentNorm` `l2` each document's activations are divided by the norm of its latents first, as a sparse score
   * over latents written by `steer index --latents` (default `--latent-norm l2`) weighs them. Given the search's
   * `mode` and `index` instead, a sparse or hybrid search takes the norm the backend records for the index
   * (`none` when it records none), a dense one none.
   */
  async explain(
    queryVector: Float32Array,
    hits: SearchHit[],
    topFeatures = 5,
    options: { documentNorm?: 'l2' | 'none'; mode?: SearchMode; index?: string } = {},
  ): Promise<ExplainedHit[]> {
    const sae = this.requireSae('explaining hits');
    if (hits.length === 0) return [];
    const documentNorm = options.documentNorm ?? (await this.documentNormOf(options.mode, options.index));
    const queryLatents = await this.encodeOne(queryVector);
    const docVectors = await this.embedder.embed(
      hits.map((h) => h.text),
      { kind: 'document' },
    );
    const encoded = await sae.encode(docVectors, hits.length);
    const catalog = this.featureCatalog();
    return hits.map((hit, row) => {
      const values = encoded.values.slice(row * encoded.k, (row + 1) * encoded.k);
      const norm = documentNorm === 'l2' ? latentNorm({ values, k: encoded.k }) : 0;
      if (norm > 0) for (let i = 0; i < values.length; i++) values[i]! /= norm;
      const docLatents = {
        indices: encoded.indices.subarray(row * encoded.k, (row + 1) * encoded.k),
        values,
      };
      const features = contributions(queryLatents, docLatents, catalog).slice(0, topFeatures);
      return {
        ...hit,
        features: documentNorm ? features.map((f) => ({ ...f, documentNorm })) : features,
      };
    });
  }

  /** The norm of the stored latents a `mode` search over `index` (default: the config's) weighs; undefined for dense. */
  private async documentNormOf(mode?: SearchMode, index?: string): Promise<'l2' | 'none' | undefined> {
    const backend = this.parts.backend;
    if (mode === undefined || mode === 'dense' || !backend.latentNorm) return undefined;
    return (await backend.latentNorm(index ?? this.config?.index ?? 'default')) ?? 'none';
  }

  async close(): Promise<void> {
    await this.parts.sae?.dispose();
    await this.parts.embedder.dispose();
    await this.parts.backend.close();
  }
}

/**
 * Embeds weighted texts as queries and mixes them into one vector: a single text of weight 1 is its embedding;
 * otherwise the weighted sum, normalised when the embedder's vectors are.
 */
export async function embedQueryTexts(
  embedder: Embedder,
  texts: ReadonlyArray<{ text: string; weight: number }>,
): Promise<Float32Array> {
  const dims = embedder.dims;
  if (texts.length === 0) {
    throw new SteerQueryError('a query needs at least one quoted text term, e.g. "university focus"', []);
  }
  const vectors = await embedder.embed(
    texts.map((t) => t.text),
    { kind: 'query' },
  );
  if (texts.length === 1 && texts[0]!.weight === 1) return vectors.slice(0, dims);
  const mixed = new Float32Array(dims);
  texts.forEach((term, row) => {
    for (let i = 0; i < dims; i++) mixed[i]! += term.weight * vectors[row * dims + i]!;
  });
  return embedder.normalized ? l2Normalize(mixed) : mixed;
}

/** Features active in both latent vectors, ranked by the product of their activations. */
export function contributions(
  query: LatentVector,
  doc: LatentVector,
  catalog?: FeatureCatalog,
): FeatureContribution[] {
  const docValues = new Map<number, number>();
  doc.indices.forEach((feature, i) => docValues.set(feature, doc.values[i]!));
  const out: FeatureContribution[] = [];
  query.indices.forEach((feature, i) => {
    const documentActivation = docValues.get(feature);
    if (documentActivation === undefined) return;
    const queryActivation = query.values[i]!;
    out.push({
      feature,
      label: catalog?.get(feature)?.label,
      queryActivation,
      documentActivation,
      contribution: queryActivation * documentActivation,
    });
  });
  return out.sort((a, b) => b.contribution - a.contribution);
}

const noSaeCatalog: FeatureCatalog = {
  nLatents: 0,
  saeId: '',
  get: () => undefined,
  byAliasOrLabel: () => [],
  searchConcept: async () => [],
};

/** Opens the engine described by `config`: embedder (with the on-disk cache), SAE, catalog and backend. */
export async function openEngine(
  config: SteerConfig,
  overrides: Partial<EngineParts> = {},
): Promise<SteerEngine> {
  const embedder =
    overrides.embedder ??
    (await createEmbedder(config.embedder, { cacheDir: join(config.dataDir, 'cache') }));
  const sae = overrides.sae ?? (config.sae ? await loadSae(config.sae) : undefined);
  if (sae && sae.manifest.dModel !== embedder.dims) {
    throw new ConfigError(
      `engine: the embedder ${embedder.id} gives ${embedder.dims}-d vectors but the SAE ${sae.manifest.id} expects ${sae.manifest.dModel} (trained on ${sae.manifest.embedding.model}); use the SAE trained for this embedder`,
    );
  }
  const catalog =
    overrides.catalog ??
    (sae && config.sae
      ? ((await openCatalog(config.sae, { embedder, missing: 'empty' })) as EngineCatalog)
      : undefined);
  const backend = overrides.backend ?? (await openBackend(config));
  return new SteerEngine({ embedder, sae, catalog, backend, presetsDir: config.presets }, config);
}

async function openBackend(config: SteerConfig): Promise<SearchBackend> {
  if (config.backend === 'embedded') return openLanceBackend(config.dataDir);
  return openElasticsearchBackend(config.elasticsearch ?? {});
}
