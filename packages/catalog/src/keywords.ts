// Keyword labels from contrastive term statistics: words and two-word phrases over-represented in a feature's
// top documents against the rest of the corpus (log-odds ratio with an informative Dirichlet prior, Monroe et
// al. 2008), with the stop words of each document's language removed and singular/plural forms as one term.
import type { CorpusLanguages, StopWords } from './text.js';
import { foldWord, wordRuns, ENGLISH_CORPUS } from './text.js';

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
  /** Distinct term ids of each document, its content terms first. [documents][] */
  documentTerms: Uint32Array[];
  /** How many of each document's terms are content terms (not stop words of its language). [documents] */
  documentContentTerms: Uint32Array;
  /** Documents where each term is a content term. [vocabulary.length] */
  contentFrequency: Uint32Array;
  /** The corpus' languages. */
  languages: CorpusLanguages;
  /** The stop words of each document's language. [documents] */
  documentStopWords: StopWords[];
}

/**
 * Builds the term index of `texts`: every word (stop words included, for word statistics) and every pair of
 * adjacent content words inside a run of words without punctuation (a phrase candidate). A word is a content
 * word of a document when neither it nor its folded form is a stop word of the document's language (one of
 * `languages`), so German `war` is a stop word of German documents only. Terms are folded (`foldWord`) so
 * that plural and singular meet; each keeps its most frequent surface form.
 */
export function buildTermIndex(
  texts: readonly string[],
  languages: CorpusLanguages = ENGLISH_CORPUS,
): TermIndex {
  const ids = new Map<string, number>();
  const vocabulary: string[] = [];
  const phrase: number[] = [];
  const df: number[] = [];
  const contentDf: number[] = [];
  const tf: number[] = [];
  const surfaces: Array<Map<string, number> | string> = [];
  const documentTerms: Uint32Array[] = [];
  const documentContentTerms: number[] = [];
  const documentStopWords: StopWords[] = [];
  const contentByLanguage = new Map<StopWords, Map<string, boolean>>();
  const add = (surface: string, isPhrase: boolean, seen: Set<number>): number => {
    const key = foldWord(surface);
    let id = ids.get(key);
    if (id === undefined) {
      id = vocabulary.length;
      ids.set(key, id);
      vocabulary.push(key);
      phrase.push(isPhrase ? 1 : 0);
      df.push(0);
      contentDf.push(0);
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
    return id;
  };
  for (const text of texts) {
    const runs = wordRuns(text);
    const stopWords = languages.stopWordsOf(languages.languageOfWords(runs.flat()));
    documentStopWords.push(stopWords);
    let content = contentByLanguage.get(stopWords);
    if (!content) contentByLanguage.set(stopWords, (content = new Map()));
    const isContent = (word: string): boolean => {
      let known = content.get(word);
      if (known === undefined) {
        known = stopWords.isContentWord(word) && stopWords.isContentWord(foldWord(word));
        content.set(word, known);
      }
      return known;
    };
    const seen = new Set<number>();
    const contentTerms = new Set<number>();
    for (const run of runs) {
      for (let i = 0; i < run.length; i++) {
        const word = run[i]!;
        const id = add(word, false, seen);
        if (!isContent(word)) continue;
        contentTerms.add(id);
        const next = run[i + 1];
        if (next !== undefined && isContent(next)) contentTerms.add(add(`${word} ${next}`, true, seen));
      }
    }
    for (const id of contentTerms) contentDf[id]!++;
    documentTerms.push(
      Uint32Array.from([...contentTerms, ...[...seen].filter((id) => !contentTerms.has(id))]),
    );
    documentContentTerms.push(contentTerms.size);
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
    documentContentTerms: Uint32Array.from(documentContentTerms),
    contentFrequency: Uint32Array.from(contentDf),
    languages,
    documentStopWords,
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
 * documents and the rest of the corpus; only positive z-scores, best first. A term counts in a document only
 * where it is a content term of the document's language.
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
    const terms = index.documentTerms[doc]!.subarray(0, index.documentContentTerms[doc]!);
    for (const term of terms) inTop.set(term, (inTop.get(term) ?? 0) + 1);
  }
  const needed = Math.min(2, m);
  const scored: ScoredKeyword[] = [];
  for (const [term, y] of inTop) {
    if (y < needed) continue;
    const df = index.contentFrequency[term]!;
    if (df > maxDf && df > y) continue;
    const key = index.vocabulary[term]!;
    const display = index.display[term]!;
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
