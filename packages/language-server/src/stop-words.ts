// Stop words of every language the `stopword` package knows (62), to rank feature labels made of function words
// ("die, und, der, den") below labels made of content words when completing. Ranking only: nothing is hidden.
import * as stopword from 'stopword';

let words: Set<string> | undefined;

function stopWords(): Set<string> {
  if (!words) {
    words = new Set<string>();
    for (const list of Object.values(stopword)) {
      if (Array.isArray(list)) for (const word of list as string[]) words.add(word.toLowerCase());
    }
  }
  return words;
}

/** Builds the stop-word set now (about 13,000 words; ~10 ms) rather than on the first completion. */
export function preloadStopWords(): void {
  stopWords();
}

/** True when `word` (any case) is a stop word in at least one language. */
export function isStopWord(word: string): boolean {
  return stopWords().has(word.toLowerCase());
}

/**
 * The share of a label's words that are content words (not stop words of any language), from 0 to 1; a label
 * with no words counts as content (1). Words are split on anything that is not a letter, digit, `'` or `-`.
 */
export function contentShare(label: string): number {
  const tokens = label.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu) ?? [];
  if (tokens.length === 0) return 1;
  return tokens.filter((token) => !isStopWord(token)).length / tokens.length;
}
