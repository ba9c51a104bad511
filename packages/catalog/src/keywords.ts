// Keyword labels from contrastive term statistics: words and two-word phrases over-represented in a feature's
// top documents against the rest of the corpus (log-odds ratio with an informative Dirichlet prior, Monroe et
// al. 2008), with stop words of the corpus' languages removed and singular/plural forms counted as one term.
import type { StopWords } from './text.js';
import { foldWord, wordRuns, ENGLISH_STOPWORDS } from './text.js';

/** Document frequencies of the corpus vocabulary (words and phrases) and each document's distinct terms. */
export interface TermIndex {
  documents: number;
  /** Terms by id: the folded key (`sport`, `interest rate`). */
  vocabulary: string[];
  /** The most frequent surface form of each term (`sports`, `interest rates`), for display. */
  display: string[];
  /** True for two-word phrases. [vocabulary.length] */
  phrase: Uint8Array;
  /** Documents containing each term. [vocabulary.length] */
  documentFrequency: Uint32Array;
  /** Occurrences of each term in the whole corpus. [vocabulary.length] */
  termFrequency: Uint32Array;
  /** Distinct term ids of each document. [documents][] */
  documentTerms: Uint32Array[];
  /** The stop words used for phrases and keywords. */
  stopWords: StopWords;
}

/**
 * Builds the term index of `texts`: every word (stop words included, for word statistics) and every pair of
 * adjacent content words inside a run of words without punctuation (a phrase candidate). Terms are folded
 * (`foldWord`) so that plural and singular meet; each keeps its most frequent surface form.
 */
export function buildTermIndex(
  texts: readonly string[],
  stopWords: StopWords = ENGLISH_STOPWORDS,
): TermIndex {
  const ids = new Map<string, number>();
  const vocabulary: string[] = [];
  const phrase: number[] = [];
  const df: number[] = [];
  const tf: number[] = [];
  const surfaces: Array<Map<string, number> | string> = [];
  const documentTerms: Uint32Array[] = [];
  const content = new Map<string, boolean>();
  const isContent = (word: string): boolean => {
    let known = content.get(word);
    if (known === undefined) content.set(word, (known = stopWords.isContentWord(word)));
    return known;
  };
  const add = (surface: string, isPhrase: boolean, seen: Set<number>): void => {
    const key = foldWord(surface);
    let id = ids.get(key);
    if (id === undefined) {
      id = vocabulary.length;
      ids.set(key, id);
      vocabulary.push(key);
      phrase.push(isPhrase ? 1 : 0);
      df.push(0);
      tf.push(0);
      surfaces.push(surface);
    } else {
      // NOTE: most keys only ever see one surface form; a map is made only when a second one appears.
      let forms = surfaces[id]!;
      if (typeof forms === 'string') {
        if (forms !== surface) surfaces[id] = forms = new Map([[forms, tf[id]!]]);
      }
      if (typeof forms !== 'string') forms.set(surface, (forms.get(surface) ?? 0) + 1);
    }
    tf[id]!++;
    if (!seen.has(id)) {
      seen.add(id);
      df[id]!++;
    }
  };
  for (const text of texts) {
    const seen = new Set<number>();
    for (const run of wordRuns(text)) {
      for (let i = 0; i < run.length; i++) {
        const word = run[i]!;
        add(word, false, seen);
        const next = run[i + 1];
        if (next !== undefined && isContent(word) && isContent(next)) add(`${word} ${next}`, true, seen);
      }
    }
    documentTerms.push(Uint32Array.from(seen));
  }
  const display = surfaces.map((forms) => {
    if (typeof forms === 'string') return forms;
    let best = '';
    let count = -1;
    for (const [form, n] of forms) if (n > count || (n === count && form < best)) [best, count] = [form, n];
    return best;
  });
  return {
    documents: texts.length,
    vocabulary,
    display,
    phrase: Uint8Array.from(phrase),
    documentFrequency: Uint32Array.from(df),
    termFrequency: Uint32Array.from(tf),
    documentTerms,
    stopWords,
  };
}

/** A keyword with its z-score (log-odds ratio over its standard error) and its count in the top documents. */
export interface ScoredKeyword {
  /** The surface form shown in labels. */
  term: string;
  /** The folded key that concept search matches. */
  key: string;
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
  /** A phrase replaces its words when its z-score is at least this fraction of theirs (default 0.7). */
  phraseRatio?: number;
  /** Terms in more than this fraction of the corpus never label a feature (default 0.5). */
  maxDocumentFraction?: number;
}

/**
 * Every content term (word or phrase) of the documents `topDocs` (indices into the term index) that occurs in
 * at least two of them (one when there is only one), with the z-score of its log-odds ratio between the top
 * documents and the rest of the corpus; only positive z-scores, best first.
 */
export function scoreTerms(
  index: TermIndex,
  topDocs: readonly number[],
  options: Pick<KeywordOptions, 'priorStrength' | 'maxDocumentFraction'> = {},
): ScoredKeyword[] {
  const alpha = options.priorStrength ?? 10;
  const maxDf = (options.maxDocumentFraction ?? 0.5) * index.documents;
  const m = topDocs.length;
  const n = index.documents;
  if (m === 0) return [];
  const inTop = new Map<number, number>();
  for (const doc of topDocs) {
    for (const term of index.documentTerms[doc]!) inTop.set(term, (inTop.get(term) ?? 0) + 1);
  }
  const needed = Math.min(2, m);
  const scored: ScoredKeyword[] = [];
  const stop = index.stopWords;
  for (const [term, y] of inTop) {
    if (y < needed) continue;
    const df = index.documentFrequency[term]!;
    if (df > maxDf && df > y) continue;
    const key = index.vocabulary[term]!;
    const display = index.display[term]!;
    if (!index.phrase[term] && (!stop.isContentWord(display) || !stop.isContentWord(key))) continue;
    const prior = df / n;
    const a1 = y + alpha * prior;
    const b1 = m - y + alpha * (1 - prior);
    const rest = n - m;
    const a2 = df - y + alpha * prior;
    const b2 = rest - (df - y) + alpha * (1 - prior);
    const delta = Math.log(a1 / b1) - Math.log(a2 / b2);
    const variance = 1 / a1 + 1 / b1 + 1 / a2 + 1 / b2;
    const z = delta / Math.sqrt(variance);
    if (z > 0) scored.push({ term: display, key, z, topDocuments: y });
  }
  scored.sort((a, b) => b.z - a.z || b.topDocuments - a.topDocuments || (a.key < b.key ? -1 : 1));
  return scored;
}

/**
 * The label keywords of a feature: `min`..`max` terms from {@link scoreTerms}, where a phrase takes the place of
 * its words when it is nearly as distinctive (`phraseRatio`), and a word already inside a chosen phrase is not
 * repeated.
 */
export function contrastiveKeywords(
  index: TermIndex,
  topDocs: readonly number[],
  options: KeywordOptions = {},
): ScoredKeyword[] {
  return pickKeywords(scoreTerms(index, topDocs, options), options);
}

/** Picks label keywords from scored terms (see {@link contrastiveKeywords}). */
export function pickKeywords(
  scored: readonly ScoredKeyword[],
  options: KeywordOptions = {},
): ScoredKeyword[] {
  const max = options.max ?? 6;
  const min = options.min ?? 3;
  const minZ = options.minZ ?? 1.96;
  const ratio = options.phraseRatio ?? 0.7;
  const phrasesOf = new Map<string, ScoredKeyword[]>();
  for (const keyword of scored) {
    if (!keyword.key.includes(' ')) continue;
    for (const part of keyword.key.split(' ')) phrasesOf.set(part, [...(phrasesOf.get(part) ?? []), keyword]);
  }
  const out: ScoredKeyword[] = [];
  const covered = new Set<string>();
  for (const keyword of scored) {
    if (out.length >= max) break;
    if (out.length >= min && keyword.z < minZ) break;
    let pick = keyword;
    if (!keyword.key.includes(' ')) {
      if (covered.has(keyword.key)) continue;
      const phrase = (phrasesOf.get(keyword.key) ?? []).find((p) => p.z >= ratio * keyword.z);
      if (phrase) pick = phrase;
    }
    if (out.includes(pick)) continue;
    const parts = pick.key.split(' ');
    if (parts.length > 1 && parts.every((part) => covered.has(part))) continue;
    out.push(pick);
    for (const part of parts) covered.add(part);
  }
  return out;
}

/** The z-score under which a feature's best keyword counts as weak evidence. */
export const WEAK_EVIDENCE_Z = 3;

/**
 * True when a feature's label rests on weak evidence: it fired on fewer than 3 documents, or its best keyword's
 * z-score is under {@link WEAK_EVIDENCE_Z} (nothing sets its top documents apart from the corpus).
 */
export function isWeakEvidence(keywords: readonly ScoredKeyword[], labelDocuments: number): boolean {
  return labelDocuments < 3 || (keywords[0]?.z ?? 0) < WEAK_EVIDENCE_Z;
}

/** The label shown for a feature: its keywords joined by commas. */
export function keywordLabel(keywords: readonly string[]): string {
  return keywords.join(', ');
}
