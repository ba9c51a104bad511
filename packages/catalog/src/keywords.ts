// Keyword labels from contrastive term statistics: terms over-represented in a feature's top documents
// against the rest of the corpus (log-odds ratio with an informative Dirichlet prior, Monroe et al. 2008).
import { isContentWord, words } from './text.js';

/** Document frequencies of the corpus vocabulary and each document's distinct terms. */
export interface TermIndex {
  documents: number;
  vocabulary: string[];
  /** Documents containing each term. [vocabulary.length] */
  documentFrequency: Uint32Array;
  /** Occurrences of each term in the whole corpus. [vocabulary.length] */
  termFrequency: Uint32Array;
  /** Distinct term ids of each document. [documents][] */
  documentTerms: Uint32Array[];
}

/** Builds the term index of `texts` (every word counts, stopwords included; labels filter them later). */
export function buildTermIndex(texts: readonly string[]): TermIndex {
  const ids = new Map<string, number>();
  const vocabulary: string[] = [];
  const df: number[] = [];
  const tf: number[] = [];
  const documentTerms: Uint32Array[] = [];
  for (const text of texts) {
    const seen = new Set<number>();
    for (const word of words(text)) {
      let id = ids.get(word);
      if (id === undefined) {
        id = vocabulary.length;
        ids.set(word, id);
        vocabulary.push(word);
        df.push(0);
        tf.push(0);
      }
      tf[id]!++;
      if (!seen.has(id)) {
        seen.add(id);
        df[id]!++;
      }
    }
    documentTerms.push(Uint32Array.from(seen));
  }
  return {
    documents: texts.length,
    vocabulary,
    documentFrequency: Uint32Array.from(df),
    termFrequency: Uint32Array.from(tf),
    documentTerms,
  };
}

/** A keyword with its z-score (log-odds ratio over its standard error) and its count in the top documents. */
export interface ScoredKeyword {
  term: string;
  z: number;
  topDocuments: number;
}

/** Options of {@link contrastiveKeywords}. */
export interface KeywordOptions {
  /** At most this many keywords (default 6). */
  max?: number;
  /** At least this many when the top documents have that many candidate terms (default 3). */
  min?: number;
  /** Keywords beyond `min` need at least this z-score (default 1.96). */
  minZ?: number;
  /** Strength of the corpus prior in pseudo-documents (default 10). */
  priorStrength?: number;
}

/**
 * Ranks the content words of the documents `topDocs` (indices into the term index) by the z-score of their
 * log-odds ratio between the top documents and the rest of the corpus, and returns `min`..`max` keywords.
 * A term must occur in at least two top documents (one when there is only one).
 */
export function contrastiveKeywords(
  index: TermIndex,
  topDocs: readonly number[],
  options: KeywordOptions = {},
): ScoredKeyword[] {
  const max = options.max ?? 6;
  const min = options.min ?? 3;
  const minZ = options.minZ ?? 1.96;
  const alpha = options.priorStrength ?? 10;
  const m = topDocs.length;
  const n = index.documents;
  if (m === 0) return [];
  const inTop = new Map<number, number>();
  for (const doc of topDocs) {
    for (const term of index.documentTerms[doc]!) inTop.set(term, (inTop.get(term) ?? 0) + 1);
  }
  const needed = Math.min(2, m);
  const scored: ScoredKeyword[] = [];
  for (const [term, y] of inTop) {
    if (y < needed) continue;
    const word = index.vocabulary[term]!;
    if (!isContentWord(word)) continue;
    const df = index.documentFrequency[term]!;
    const prior = df / n;
    const a1 = y + alpha * prior;
    const b1 = m - y + alpha * (1 - prior);
    const rest = n - m;
    const a2 = df - y + alpha * prior;
    const b2 = rest - (df - y) + alpha * (1 - prior);
    const delta = Math.log(a1 / b1) - Math.log(a2 / b2);
    const variance = 1 / a1 + 1 / b1 + 1 / a2 + 1 / b2;
    const z = delta / Math.sqrt(variance);
    if (z > 0) scored.push({ term: word, z, topDocuments: y });
  }
  scored.sort((a, b) => b.z - a.z || b.topDocuments - a.topDocuments || (a.term < b.term ? -1 : 1));
  const out: ScoredKeyword[] = [];
  for (const keyword of scored) {
    if (out.length >= max) break;
    if (out.length >= min && keyword.z < minZ) break;
    out.push(keyword);
  }
  return out;
}

/** The label shown for a feature: its keywords joined by commas. */
export function keywordLabel(keywords: readonly string[]): string {
  return keywords.join(', ');
}
