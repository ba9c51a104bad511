// The lexical part of concept search: an inverted index from terms (folded words and two-word phrases of
// labels, top documents, token evidence and aliases) to weighted features, scored like a query over a text
// index (idf-weighted, each term's weights relative to its best feature), with prefix lookups over a sorted
// vocabulary for completion while the user types.
import type { CorpusLanguages } from './text.js';
import { foldWord, wordRuns, ENGLISH_CORPUS } from './text.js';

/** Terms of one feature (folded keys, see {@link conceptTerms}) with positive weights. */
export interface LexicalEntry {
  feature: number;
  terms: Array<{ term: string; weight: number }>;
}

/** A prefix of a word counts this much of an exact match. */
const PREFIX_WEIGHT = 0.6;
/** At most this many vocabulary words are expanded per prefix. */
const MAX_PREFIX_EXPANSION = 64;

/**
 * Query terms of a concept: its folded content words and the phrases of two adjacent content words (or all its
 * words when it has only stop words), by the stop words of the corpus language it is written in (`war` is a
 * content word of an English query, a stop word of a German one).
 */
export function conceptTerms(text: string, languages: CorpusLanguages = ENGLISH_CORPUS): string[] {
  const out: string[] = [];
  const all: string[] = [];
  const runs = wordRuns(text);
  const stopWords = languages.stopWordsOf(languages.languageOfWords(runs.flat()));
  for (const run of runs) {
    const content = run.map((word) => stopWords.isContentWord(word));
    run.forEach((word, i) => {
      all.push(foldWord(word));
      if (!content[i]) return;
      out.push(foldWord(word));
      if (content[i + 1]) out.push(foldWord(`${word} ${run[i + 1]!}`));
    });
  }
  return [...new Set(out.length > 0 ? out : all)];
}

/** Serialized form of a {@link LexicalIndex} (see {@link LexicalIndex.toColumns}). */
export interface LexicalColumns {
  /** Sorted terms. */
  vocabulary: string[];
  /** Postings of term i are at offsets[i] .. offsets[i + 1]. [vocabulary.length + 1] */
  offsets: Uint32Array;
  features: Uint32Array;
  weights: Float32Array;
  /** Features with at least one term (the idf's collection size). */
  entries: number;
}

/** Inverted index term -> (feature, weight), with prefix search. */
export class LexicalIndex {
  private constructor(private readonly columns: LexicalColumns) {}

  /** Builds the index; a feature with several entries keeps its largest weight per term. */
  static build(entries: Iterable<LexicalEntry>): LexicalIndex {
    const postings = new Map<string, Map<number, number>>();
    const features = new Set<number>();
    for (const entry of entries) {
      for (const { term, weight } of entry.terms) {
        if (!(weight > 0) || term === '') continue;
        features.add(entry.feature);
        let list = postings.get(term);
        if (!list) postings.set(term, (list = new Map()));
        list.set(entry.feature, Math.max(list.get(entry.feature) ?? 0, weight));
      }
    }
    const vocabulary = [...postings.keys()].sort();
    const offsets = new Uint32Array(vocabulary.length + 1);
    vocabulary.forEach((term, i) => (offsets[i + 1] = offsets[i]! + postings.get(term)!.size));
    const ids = new Uint32Array(offsets[vocabulary.length]!);
    const weights = new Float32Array(ids.length);
    vocabulary.forEach((term, i) => {
      let at = offsets[i]!;
      for (const [feature, weight] of postings.get(term)!) {
        ids[at] = feature;
        weights[at++] = weight;
      }
    });
    return new LexicalIndex({ vocabulary, offsets, features: ids, weights, entries: features.size });
  }

  /** An index from its columns (as {@link toColumns} gave them); the vocabulary must be sorted. */
  static fromColumns(columns: LexicalColumns): LexicalIndex {
    return new LexicalIndex(columns);
  }

  /** The index as flat columns, for persisting. */
  toColumns(): LexicalColumns {
    return this.columns;
  }

  /** Number of distinct terms. */
  get size(): number {
    return this.columns.vocabulary.length;
  }

  private firstAtLeast(prefix: string): number {
    const vocabulary = this.columns.vocabulary;
    let lo = 0;
    let hi = vocabulary.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (vocabulary[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private termId(term: string): number {
    const i = this.firstAtLeast(term);
    return this.columns.vocabulary[i] === term ? i : -1;
  }

  /** Adds `scale` x (weight / the term's best weight) of term i's postings to `best`, keeping the best per feature. */
  private collect(i: number, scale: number, best: Map<number, number>): void {
    const { offsets, features, weights } = this.columns;
    let top = 0;
    for (let p = offsets[i]!; p < offsets[i + 1]!; p++) top = Math.max(top, weights[p]!);
    if (top <= 0) return;
    for (let p = offsets[i]!; p < offsets[i + 1]!; p++) {
      const score = (scale * weights[p]!) / top;
      if (score > (best.get(features[p]!) ?? 0)) best.set(features[p]!, score);
    }
  }

  /**
   * Scores features against query terms: each term gives a feature its weight relative to the term's best
   * feature (a prefix of a longer word: 0.6 of that, for terms of 2+ characters), and the terms are averaged
   * with idf weights (ln(1 + features / postings); a term no feature has counts as the rarest). Returns
   * feature -> score in (0, 1].
   */
  match(terms: readonly string[]): Map<number, number> {
    const total = new Map<number, number>();
    const { offsets, vocabulary } = this.columns;
    const collection = Math.max(1, this.columns.entries);
    let idfSum = 0;
    const perTerm: Array<[Map<number, number>, number]> = [];
    for (const term of terms) {
      const best = new Map<number, number>();
      const exact = this.termId(term);
      let postings = exact >= 0 ? offsets[exact + 1]! - offsets[exact]! : 0;
      if (exact >= 0) this.collect(exact, 1, best);
      if (term.length >= 2 && !term.includes(' ')) {
        const start = this.firstAtLeast(term);
        const end = Math.min(vocabulary.length, start + MAX_PREFIX_EXPANSION + 1);
        for (let i = start; i < end; i++) {
          const word = vocabulary[i]!;
          if (!word.startsWith(term)) break;
          if (i === exact) continue;
          this.collect(i, PREFIX_WEIGHT, best);
          if (exact < 0) postings += offsets[i + 1]! - offsets[i]!;
        }
      }
      // NOTE: a phrase of the query that no feature has adds nothing (its words still count on their own).
      if (postings === 0 && term.includes(' ')) continue;
      const idf = Math.log(1 + collection / Math.max(1, postings));
      idfSum += idf;
      perTerm.push([best, idf]);
    }
    if (idfSum === 0) return total;
    for (const [best, idf] of perTerm)
      for (const [feature, score] of best)
        total.set(feature, (total.get(feature) ?? 0) + (idf * score) / idfSum);
    return total;
  }
}
