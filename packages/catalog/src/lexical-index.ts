// The lexical half of concept search: an inverted index from label keywords, LLM label words and alias parts
// to features, with prefix lookups over a sorted vocabulary (for completion while the user types).
import { isContentWord, words } from './text.js';

/** Words of one feature with their weights in (0, 1]. */
export interface LexicalEntry {
  feature: number;
  terms: Array<{ term: string; weight: number }>;
}

/** A prefix of a word counts this much of an exact match. */
const PREFIX_WEIGHT = 0.6;
/** At most this many vocabulary words are expanded per prefix. */
const MAX_PREFIX_EXPANSION = 64;

/** Query terms of a concept: its content words, or all its words when it has only stopwords. */
export function conceptTerms(text: string): string[] {
  const all = words(text);
  const content = all.filter(isContentWord);
  return [...new Set(content.length > 0 ? content : all)];
}

/** Inverted index term -> (feature, weight), with prefix search. */
export class LexicalIndex {
  private readonly postings = new Map<string, Array<[number, number]>>();
  private readonly vocabulary: string[];

  constructor(entries: Iterable<LexicalEntry>) {
    for (const entry of entries) {
      // One posting per term of an entry, with its largest weight. A feature with several entries may get two
      // postings for a term; match() keeps the best one per feature.
      const own = new Map<string, number>();
      for (const { term, weight } of entry.terms) own.set(term, Math.max(own.get(term) ?? 0, weight));
      for (const [term, weight] of own) {
        let list = this.postings.get(term);
        if (!list) this.postings.set(term, (list = []));
        list.push([entry.feature, weight]);
      }
    }
    this.vocabulary = [...this.postings.keys()].sort();
  }

  /** Number of distinct terms. */
  get size(): number {
    return this.vocabulary.length;
  }

  private firstAtLeast(prefix: string): number {
    let lo = 0;
    let hi = this.vocabulary.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.vocabulary[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Scores features against query terms: each term contributes its best match per feature (exact = weight,
   * prefix of a longer word = 0.6 * weight, for terms of 2+ characters), averaged over the terms. Returns
   * feature -> score in (0, 1].
   */
  match(terms: readonly string[]): Map<number, number> {
    const total = new Map<number, number>();
    if (terms.length === 0) return total;
    for (const term of terms) {
      const best = new Map<number, number>();
      const add = (feature: number, score: number): void => {
        if (score > (best.get(feature) ?? 0)) best.set(feature, score);
      };
      for (const [feature, weight] of this.postings.get(term) ?? []) add(feature, weight);
      if (term.length >= 2) {
        const end = Math.min(this.vocabulary.length, this.firstAtLeast(term) + MAX_PREFIX_EXPANSION + 1);
        for (let i = this.firstAtLeast(term); i < end; i++) {
          const word = this.vocabulary[i]!;
          if (!word.startsWith(term)) break;
          if (word === term) continue;
          for (const [feature, weight] of this.postings.get(word)!) add(feature, PREFIX_WEIGHT * weight);
        }
      }
      for (const [feature, score] of best)
        total.set(feature, (total.get(feature) ?? 0) + score / terms.length);
    }
    return total;
  }
}
