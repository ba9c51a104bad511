// Building a catalog: embed the corpus, encode it with the SAE, aggregate statistics, label features from
// contrastive keywords (optionally an LLM), gather token evidence, and write the catalog folder.
import { createHash } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Embedder } from '@steer/embed';
import type { SaeRuntime } from '@steer/sae';
import { CatalogError } from './errors.js';
import { documentEvidence, type EvidenceOptions } from './evidence.js';
import {
  buildTermIndex,
  isWeakEvidence,
  keywordLabel,
  pickKeywords,
  scoreTerms,
  type KeywordOptions,
  type TermIndex,
} from './keywords.js';
import { feedbackPool } from './feedback.js';
import { labelWithLlm, type LlmConfig } from './llm-labels.js';
import { calibrateStrength, featureCentroids } from './profiles.js';
import { computeFeatureStats, type TopDocument } from './stats.js';
import {
  ALIASES_FILE,
  CATALOG_FORMAT,
  catalogDir,
  encodeCentroids,
  encodeFeedback,
  quantizeRows,
  readHeader,
  writeCatalogFiles,
  type CatalogFiles,
  type CatalogHeader,
  type DocRecord,
  type DocumentEvidence,
  type FeatureRecord,
  type LabelRecord,
  type TermsRecord,
} from './storage.js';
import { CorpusLanguages, detectLanguages, foldWord, snippet, type StopWords } from './text.js';

/** One corpus document (BEIR fields). */
export interface CorpusDocument {
  id: string;
  title?: string;
  text: string;
}

/** Stages of a build, in order, as reported to `onProgress`. */
export type BuildStage = 'embed' | 'encode' | 'label' | 'evidence' | 'llm' | 'write';

/** Options of {@link buildCatalog}. */
export interface BuildOptions {
  /** The SAE folder; the catalog goes to `<saeDir>/catalog/`. */
  saeDir: string;
  /** The loaded SAE of `saeDir`. */
  sae: SaeRuntime;
  /**
   * Embedder of the SAE's embedding model (wrap it with withCache to reuse embeddings); optional when `vectors` are
   * given and evidence is off.
   */
  embedder?: Embedder;
  documents: readonly CorpusDocument[];
  /** The documents' vectors when they are already stored (an index read with --from-index): [documents, dModel]. */
  vectors?: Float32Array;
  /** Where the corpus came from, recorded in the header; `sha256` defaults to a hash of ids and texts. */
  corpus?: { path?: string; sha256?: string };
  /** Top documents kept per feature (default 10). */
  topDocuments?: number;
  /** Top documents whose terms make a feature's keywords (default 25). */
  labelDocuments?: number;
  /** Terms kept per feature for concept search (default 24): its most distinctive words and phrases. */
  profileTerms?: number;
  /**
   * Documents kept for concept search's pseudo-relevance feedback (default 20,000: a seeded uniform sample of
   * larger corpora); 0 keeps none (concept search then falls back to the profile-led score).
   */
  feedbackDocuments?: number;
  /** ISO 639-3 codes whose stop words never label a feature; default: the languages detected in the corpus. */
  languages?: string[];
  keywords?: KeywordOptions;
  /** Token evidence for the `features` most frequent features, `documents` top documents each; false: none. */
  evidence?: (EvidenceOptions & { features?: number; documents?: number }) | false;
  /** LLM labels for the `maxFeatures` most frequent features (default all); absent: keyword labels only. */
  llm?: LlmConfig & { maxFeatures?: number };
  /** Texts per embedding and encoding batch (default 64). */
  batchSize?: number;
  /** Replace a catalog built for another SAE (its aliases.json is kept as aliases.<old sae id>.json). */
  force?: boolean;
  onProgress?: (stage: BuildStage, done: number, total: number) => void;
}

/** What a build did. */
export interface BuildSummary {
  header: CatalogHeader;
  dir: string;
  documents: number;
  alive: number;
  dead: number;
  llmLabels: number;
  evidenceDocuments: number;
  /** Wall time of each stage in ms. */
  timings: Partial<Record<BuildStage, number>>;
}

/** The text embedded for a document: title and text, as BEIR evaluations do. */
export function documentText(doc: CorpusDocument): string {
  return doc.title ? `${doc.title}. ${doc.text}` : doc.text;
}

function checkDocuments(documents: readonly CorpusDocument[]): void {
  if (documents.length === 0)
    throw new CatalogError(
      'corpus_invalid',
      'catalog: the corpus holds no documents; give a JSONL file with one document per line',
    );
  const seen = new Set<string>();
  documents.forEach((doc, i) => {
    if (typeof doc?.id !== 'string' || doc.id === '') {
      throw new CatalogError(
        'corpus_invalid',
        `catalog: corpus document ${i + 1} has no id; every document needs a string "_id" (or "id")`,
      );
    }
    if (typeof doc.text !== 'string') {
      throw new CatalogError(
        'corpus_invalid',
        `catalog: corpus document '${doc.id}' has no text; every document needs a string "text"`,
      );
    }
    if (seen.has(doc.id))
      throw new CatalogError(
        'corpus_invalid',
        `catalog: corpus id '${doc.id}' appears twice; ids must be unique`,
      );
    seen.add(doc.id);
  });
}

/** Checks the corpus, the vectors and the embedder against the SAE; sets aside the aliases of another SAE's catalog. */
async function checkBuildInputs(options: BuildOptions, dir: string): Promise<void> {
  const { sae, embedder, documents } = options;
  const manifest = sae.manifest;
  checkDocuments(documents);
  if (options.vectors !== undefined && options.vectors.length !== documents.length * manifest.dModel) {
    throw new CatalogError(
      'corpus_invalid',
      `catalog: ${options.vectors.length} vector values given for ${documents.length} documents of ${manifest.dModel} dims; give one ${manifest.dModel}-dim vector per document`,
    );
  }
  if (embedder === undefined && (options.vectors === undefined || options.evidence !== false)) {
    throw new CatalogError(
      'embedder_mismatch',
      `catalog: ${options.vectors === undefined ? 'embedding the corpus' : 'token evidence'} needs an embedder of ${manifest.embedding.model}; give one (--embedder) or turn evidence off (--no-evidence)`,
    );
  }
  if (embedder && (embedder.id !== manifest.embedding.model || embedder.dims !== manifest.dModel)) {
    throw new CatalogError(
      'embedder_mismatch',
      `catalog: embedder ${embedder.id} (${embedder.dims} dims) is not the model SAE ${manifest.id} was trained on (${manifest.embedding.model}, ${manifest.dModel} dims); use --embedder for that model`,
    );
  }
  const pool = options.feedbackDocuments;
  if (pool !== undefined && (!Number.isSafeInteger(pool) || pool < 0)) {
    throw new CatalogError(
      'invalid_option',
      `catalog: feedbackDocuments is ${pool}; give a whole number of documents (0 keeps no feedback pool)`,
    );
  }
  const existing = await readHeader(dir);
  if (existing && existing.saeId !== manifest.id) {
    if (!options.force) {
      throw new CatalogError(
        'sae_mismatch',
        `catalog: ${dir} holds the catalog of SAE ${existing.saeId}, not of ${manifest.id}; pass --force to replace it (aliases are kept aside)`,
      );
    }
    await rename(join(dir, ALIASES_FILE), join(dir, `aliases.${existing.saeId}.json`)).catch(() => undefined);
  }
}

/** Keyword labels of the alive features from their top documents, and each feature's term profile. */
function labelFeatures(
  aliveIds: readonly number[],
  topDocuments: ReadonlyMap<number, TopDocument[]>,
  terms: TermIndex,
  labelDocs: number,
  options: BuildOptions,
  progress: NonNullable<BuildOptions['onProgress']>,
): { labels: LabelRecord[]; profiles: Map<number, Array<[string, number]>> } {
  const profileSize = options.profileTerms ?? 24;
  const labels: LabelRecord[] = [];
  const profiles = new Map<number, Array<[string, number]>>();
  for (const id of aliveIds) {
    const labelTop = topDocuments.get(id)!.slice(0, labelDocs);
    const scored = scoreTerms(
      terms,
      labelTop.map((t) => t.doc),
      options.keywords,
    );
    profiles.set(
      id,
      scored.slice(0, profileSize).map((k) => [k.key, Math.round(k.z * 100) / 100]),
    );
    const keywords = pickKeywords(scored, options.keywords);
    if (keywords.length === 0) continue;
    const weak = isWeakEvidence(keywords, labelTop.length);
    labels.push({
      id,
      label: keywordLabel(keywords.map((k) => k.term)),
      keywords: keywords.map((k) => k.term),
      keywordZ: keywords.map((k) => Math.round(k.z * 100) / 100),
      ...(weak ? { weak: true } : {}),
    });
    if (labels.length % 1024 === 0) progress('label', labels.length, aliveIds.length);
  }
  progress('label', aliveIds.length, aliveIds.length);
  return { labels, profiles };
}

/**
 * Token evidence of the most frequent features (which words of their top documents make them fire), into
 * `evidence`, with their words added to the features' term `profiles`. Returns the documents examined.
 */
async function gatherEvidence(
  corpus: {
    embedder: Embedder;
    sae: SaeRuntime;
    texts: readonly string[];
    terms: TermIndex;
    topDocuments: ReadonlyMap<number, TopDocument[]>;
    progress: NonNullable<BuildOptions['onProgress']>;
  },
  byFrequency: readonly number[],
  evidenceOptions: EvidenceOptions & { features?: number; documents?: number },
  evidence: Map<number, DocumentEvidence[]>,
  profiles: Map<number, Array<[string, number]>>,
): Promise<number> {
  const { embedder, sae, texts, terms, topDocuments, progress } = corpus;
  let evidenceDocuments = 0;
  const chosen = byFrequency.slice(0, evidenceOptions.features ?? 10);
  const perFeature = evidenceOptions.documents ?? 2;
  const total = chosen.reduce((sum, id) => sum + Math.min(perFeature, topDocuments.get(id)!.length), 0);
  for (const id of chosen) {
    const list: DocumentEvidence[] = [];
    for (const top of topDocuments.get(id)!.slice(0, perFeature)) {
      list.push(
        await documentEvidence(
          embedder,
          sae,
          id,
          texts[top.doc]!,
          top.doc,
          evidenceOptions,
          terms.documentStopWords[top.doc],
        ),
      );
      progress('evidence', ++evidenceDocuments, total);
    }
    evidence.set(id, list);
    addEvidenceTerms(profiles, id, list, terms.documentStopWords);
  }
  return evidenceDocuments;
}

/**
 * LLM labels for the `llm.maxFeatures` most frequent keyword-labelled features, set on their `labels` records
 * (as `llmLabel` and `label`). Returns how many features the LLM labelled.
 */
async function applyLlmLabels(
  labels: readonly LabelRecord[],
  byFrequency: readonly number[],
  topDocuments: ReadonlyMap<number, TopDocument[]>,
  texts: readonly string[],
  llm: NonNullable<BuildOptions['llm']>,
  progress: NonNullable<BuildOptions['onProgress']>,
): Promise<number> {
  const labelled = new Map(labels.map((record) => [record.id, record]));
  const chosen = byFrequency.filter((id) => labelled.has(id)).slice(0, llm.maxFeatures ?? Infinity);
  const report = await labelWithLlm(
    chosen.map((id) => ({
      id,
      keywords: labelled.get(id)!.keywords,
      snippets: topDocuments
        .get(id)!
        .slice(0, 3)
        .map((t) => snippet(texts[t.doc]!, 200)),
    })),
    llm,
    (done, total) => progress('llm', done, total),
  );
  let llmLabels = 0;
  for (const [id, label] of report.labels) {
    const record = labelled.get(id)!;
    record.llmLabel = label;
    record.label = label;
    llmLabels++;
  }
  return llmLabels;
}

/** The stored feature records (top documents, evidence, term profile) and the documents they refer to. */
function featureRecords(
  aliveIds: readonly number[],
  topDocuments: ReadonlyMap<number, TopDocument[]>,
  topN: number,
  evidence: ReadonlyMap<number, DocumentEvidence[]>,
  profiles: ReadonlyMap<number, Array<[string, number]>>,
  documents: readonly CorpusDocument[],
  texts: readonly string[],
): { docs: DocRecord[]; features: FeatureRecord[] } {
  const docIndex = new Map<number, number>();
  const docs: DocRecord[] = [];
  const remap = (doc: number): number => {
    let index = docIndex.get(doc);
    if (index === undefined) {
      index = docs.length;
      docIndex.set(doc, index);
      docs.push({ id: documents[doc]!.id, snippet: snippet(texts[doc]!) });
    }
    return index;
  };
  const features: FeatureRecord[] = aliveIds.map((id) => {
    const record: FeatureRecord = {
      id,
      top: topDocuments
        .get(id)!
        .slice(0, topN)
        .map((t) => [remap(t.doc), Math.round(t.activation * 1e5) / 1e5]),
    };
    const found = evidence.get(id);
    if (found) record.evidence = found.map((e) => ({ ...e, doc: remap(e.doc) }));
    const profile = profiles.get(id);
    if (profile && profile.length > 0) record.terms = profile;
    return record;
  });
  return { docs, features };
}

/** The corpus's term statistics as stored: document frequencies by rank and the 50 most frequent terms. */
function termsRecordOf(terms: TermIndex, documents: number): TermsRecord {
  const order = Array.from(terms.documentFrequency.keys())
    .filter((t) => !terms.phrase[t])
    .sort((a, b) => terms.documentFrequency[b]! - terms.documentFrequency[a]!);
  return {
    documents,
    documentFrequency: order.map((t) => terms.documentFrequency[t]!),
    top: order.slice(0, 50).map((t) => [terms.display[t]!, terms.documentFrequency[t]!]),
  };
}

/** The header of a catalog built with `options`: the SAE, the corpus (hashed unless given), the labeler, the options. */
function catalogHeader(
  options: BuildOptions,
  languages: string[],
  strength: CatalogHeader['strength'],
): CatalogFiles['header'] {
  const { documents } = options;
  const manifest = options.sae.manifest;
  const corpusSha =
    options.corpus?.sha256 ??
    documents
      .reduce(
        (hash, doc) => hash.update(doc.id).update('\0').update(doc.text).update('\n'),
        createHash('sha256'),
      )
      .digest('hex');
  return {
    format: CATALOG_FORMAT,
    saeId: manifest.id,
    nLatents: manifest.nLatents,
    dModel: manifest.dModel,
    k: manifest.k,
    embedding: { ...manifest.embedding },
    createdAt: new Date().toISOString(),
    corpus: {
      ...(options.corpus?.path ? { path: options.corpus.path } : {}),
      sha256: corpusSha,
      documents: documents.length,
    },
    labeler: options.llm ? `llm:${options.llm.model}` : 'keywords',
    languages,
    ...(strength ? { strength } : {}),
    options: {
      topDocuments: options.topDocuments ?? 10,
      feedbackDocuments: options.feedbackDocuments ?? 20000,
      labelDocuments: options.labelDocuments ?? 25,
      keywords: options.keywords ?? {},
      evidence:
        options.evidence === false ? false : { features: 10, documents: 2, ...(options.evidence ?? {}) },
    },
  };
}

/**
 * Builds the catalog of `options.sae` over `options.documents` and writes it beside the SAE. Aliases are
 * never touched. Throws CatalogError `sae_mismatch` when the folder holds a catalog of another SAE (unless
 * `force`), `embedder_mismatch` when the embedder is not the SAE's model, `corpus_invalid` for bad documents.
 */
export async function buildCatalog(options: BuildOptions): Promise<BuildSummary> {
  const { sae, embedder, documents } = options;
  const manifest = sae.manifest;
  const dir = catalogDir(options.saeDir);
  const timings: BuildSummary['timings'] = {};
  const progress = options.onProgress ?? (() => {});
  await checkBuildInputs(options, dir);
  const batchSize = options.batchSize ?? 64;
  const topN = options.topDocuments ?? 10;
  const texts = documents.map(documentText);

  let started = performance.now();
  const vectors =
    options.vectors ??
    (await (
      await import('@steer/embed')
    ).embedInBatches(embedder!, texts, {
      batchSize,
      onProgress: (done, total) => progress('embed', done, total),
    }));
  timings.embed = performance.now() - started;

  started = performance.now();
  const codes = await sae.encodeBatches(vectors, documents.length, {
    batchSize,
    onProgress: (done, total) => progress('encode', done, total),
  });
  timings.encode = performance.now() - started;

  started = performance.now();
  const labelDocs = options.labelDocuments ?? 25;
  const { stats, topDocuments } = computeFeatureStats(codes, manifest.nLatents, Math.max(topN, labelDocs));
  const languages = options.languages ?? detectLanguages(texts);
  const terms = buildTermIndex(texts, new CorpusLanguages(languages));
  const aliveIds = [...topDocuments.keys()].sort((a, b) => a - b);
  const { labels, profiles } = labelFeatures(aliveIds, topDocuments, terms, labelDocs, options, progress);
  const labelTops = new Map([...topDocuments].map(([id, top]) => [id, top.slice(0, labelDocs)]));
  const centroids = featureCentroids(vectors, manifest.dModel, labelTops, stats.count, manifest.nLatents);
  const strength = calibrateStrength(
    vectors,
    codes,
    (feature) => sae.decoderDirection(feature),
    manifest.dModel,
  );
  const feedback =
    options.feedbackDocuments === 0
      ? undefined
      : feedbackPool(vectors, codes, manifest.dModel, { maxDocuments: options.feedbackDocuments });
  timings.label = performance.now() - started;

  const byFrequency = [...aliveIds].sort((a, b) => stats.count[b]! - stats.count[a]! || a - b);
  const evidence = new Map<number, DocumentEvidence[]>();
  let evidenceDocuments = 0;
  if (options.evidence !== false) {
    started = performance.now();
    evidenceDocuments = await gatherEvidence(
      { embedder: embedder!, sae, texts, terms, topDocuments, progress },
      byFrequency,
      options.evidence ?? {},
      evidence,
      profiles,
    );
    timings.evidence = performance.now() - started;
  }

  let llmLabels = 0;
  if (options.llm) {
    started = performance.now();
    llmLabels = await applyLlmLabels(labels, byFrequency, topDocuments, texts, options.llm, progress);
    timings.llm = performance.now() - started;
  }

  started = performance.now();
  const { docs, features } = featureRecords(
    aliveIds,
    topDocuments,
    topN,
    evidence,
    profiles,
    documents,
    texts,
  );
  const termsRecord = termsRecordOf(terms, documents.length);
  const header = await writeCatalogFiles(dir, {
    header: catalogHeader(options, languages, strength),
    stats,
    labels,
    features,
    docs,
    terms: termsRecord,
    centroids: encodeCentroids(
      quantizeRows(centroids, manifest.nLatents, manifest.dModel),
      manifest.nLatents,
      manifest.dModel,
    ),
    ...(feedback ? { feedback: encodeFeedback(feedback) } : {}),
  });
  timings.write = performance.now() - started;
  progress('write', 1, 1);
  return {
    header,
    dir,
    documents: documents.length,
    alive: aliveIds.length,
    dead: manifest.nLatents - aliveIds.length,
    llmLabels,
    evidenceDocuments,
    timings,
  };
}

/**
 * Adds a feature's token evidence to its concept-search terms: a word whose removal lowers the activation by a
 * fraction r of it weighs r times the feature's best term, the trigger word half of it. Stop words of each
 * evidence document's language (`documentStopWords`, by document) are left out.
 */
function addEvidenceTerms(
  profiles: Map<number, Array<[string, number]>>,
  id: number,
  evidence: readonly DocumentEvidence[],
  documentStopWords: readonly StopWords[],
): void {
  const profile = profiles.get(id) ?? [];
  const top = profile[0]?.[1] ?? 1;
  const weights = new Map(profile);
  const raise = (word: string, weight: number, stopWords: StopWords): void => {
    const key = foldWord(word.toLowerCase());
    if (!stopWords.isContentWord(key) || weight <= 0) return;
    weights.set(key, Math.max(weights.get(key) ?? 0, Math.round(weight * 100) / 100));
  };
  for (const doc of evidence) {
    if (doc.activation <= 0) continue;
    const stopWords = documentStopWords[doc.doc]!;
    for (const { word, drop } of doc.ablations)
      raise(word, (top * Math.min(drop, doc.activation)) / doc.activation, stopWords);
    if (doc.trigger) raise(doc.trigger, top / 2, stopWords);
  }
  profiles.set(
    id,
    [...weights].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
  );
}
