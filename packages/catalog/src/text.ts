// Word tokenisation for labels, keyword search and term statistics: lower-cased words, stop words of the
// corpus' languages removed, a light plural folding so that `sport` and `sports` meet.
import stopwordLists from 'stopword';

/** English stop words (and corpus filler) that never become keywords, whatever the corpus' languages. */
export const STOPWORDS: ReadonlySet<string> = new Set(
  (
    'a about above after again against all also am an and any are aren as at be because been before being below ' +
    'between both but by can cannot could did do does doing down during each either else etc even ever every few ' +
    'for from further get gets got had has have having he her here hers herself him himself his how however i if in ' +
    'into is isn it its itself just let like made make makes many may me might more most much must my myself near ' +
    'need no nor not now of off often on once one only or other others our ours ourselves out over own per rather ' +
    're same see several shall she should since so some such than that the their theirs them themselves then there ' +
    'these they this those though through thus to too two under until up upon us use used uses using very via was ' +
    'we well were what when where whether which while who whom whose why will with within without would yet you ' +
    'your yours yourself yourselves s t don doesn didn won wouldn couldn shouldn ll ve d m o y also around among ' +
    'another anything around away back based best better called came come comes day days different done first ' +
    'found give given go going good great high however include includes including know known large less long ' +
    'look new next number old part people place put right say says said second set show shows since small something ' +
    'take three time times type way ways year years usually generally typically include within lets let find ' +
    'finds ask asks reason reasons thousand thousands hundred hundreds million millions often still mr mrs ms ' +
    'told added according'
  ).split(' '),
);

/** The stop-word lists of the `stopword` package, by ISO 639-3 code (62 languages). */
const LANGUAGE_LISTS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  Object.entries(stopwordLists)
    .filter((entry): entry is [string, string[]] => Array.isArray(entry[1]) && /^[a-z]{3}$/.test(entry[0]))
    .map(([code, list]) => [code, new Set(list.map((word) => word.toLowerCase()))]),
);

/** ISO 639-3 codes of the languages whose stop words are known. */
export const STOPWORD_LANGUAGES: readonly string[] = [...LANGUAGE_LISTS.keys()].sort();

/** Word -> the languages it is a stop word in. */
const LANGUAGES_OF_WORD = new Map<string, string[]>();
for (const [code, list] of LANGUAGE_LISTS) {
  for (const word of list) {
    const codes = LANGUAGES_OF_WORD.get(word);
    if (codes) codes.push(code);
    else LANGUAGES_OF_WORD.set(word, [code]);
  }
}

const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;

/**
 * Splits `text` into lower-cased words (letters/digits with inner apostrophes or hyphens, an English possessive
 * `'s` dropped), keeping stop words.
 */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const match of text.toLowerCase().matchAll(WORD)) {
    out.push(match[0].replace(/['’]s$/u, '').replace(/['’-]+$/u, ''));
  }
  return out;
}

/**
 * Splits `text` into runs of words that no punctuation separates (sentences, clauses, list items), so that
 * phrases are only formed inside a run.
 */
export function wordRuns(text: string): string[][] {
  return text
    .split(/[.,;:!?()[\]{}"“”«»|/\\—–]+|\s-\s|\n/u)
    .map(words)
    .filter((run) => run.length > 0);
}

/** Words that are never content words: the English list plus the stop words of some languages. */
export class StopWords {
  private readonly extra: ReadonlySet<string>[];

  /** `languages`: ISO 639-3 codes whose stop words are added to the English list (unknown codes are ignored). */
  constructor(readonly languages: readonly string[] = []) {
    this.extra = languages.flatMap((code) => {
      const list = LANGUAGE_LISTS.get(code);
      return list ? [list] : [];
    });
  }

  has(word: string): boolean {
    if (STOPWORDS.has(word)) return true;
    for (const list of this.extra) if (list.has(word)) return true;
    return false;
  }

  /** True when `word` can be a keyword: at least 3 characters, not a stop word, not only digits. */
  isContentWord(word: string): boolean {
    return word.length >= 3 && !this.has(word) && !/^[\d'’.,-]+$/u.test(word);
  }
}

/** English stop words only. */
export const ENGLISH_STOPWORDS = new StopWords(['eng']);

/** True when `word` can be a keyword by the English list: see {@link StopWords.isContentWord}. */
export function isContentWord(word: string): boolean {
  return ENGLISH_STOPWORDS.isContentWord(word);
}

/** Content words of `text` (see {@link isContentWord}), in order, with repeats. */
export function contentWords(text: string): string[] {
  return words(text).filter(isContentWord);
}

/**
 * The languages of a corpus, from the stop words its documents use: a document is in the language whose stop
 * words make up the largest share of its words (when that share is at least 15%, as in running text of any
 * language); a language counts when at least 2 documents and 0.5% of them are in it. English is always
 * included. Returns ISO 639-3 codes, most documents first.
 */
export function detectLanguages(texts: readonly string[]): string[] {
  const documents = new Map<string, number>();
  for (const text of texts) {
    const hits = new Map<string, number>();
    let total = 0;
    for (const word of words(text)) {
      total++;
      for (const code of LANGUAGES_OF_WORD.get(word) ?? []) hits.set(code, (hits.get(code) ?? 0) + 1);
    }
    let best: [string, number] | undefined;
    for (const entry of hits) if (!best || entry[1] > best[1]) best = entry;
    if (best && best[1] >= 0.15 * total) documents.set(best[0], (documents.get(best[0]) ?? 0) + 1);
  }
  const needed = Math.max(2, 0.005 * texts.length);
  const found = [...documents]
    .filter(([, count]) => count >= needed)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([code]) => code);
  return found.includes('eng') ? found : ['eng', ...found];
}

/**
 * A light English inflection key (`sports` -> `sport`, `companies` -> `company`, `taxes` -> `tax`), so that
 * singular and plural forms count as one term in labels and concept search. Words under 4 letters and words in
 * `ss`, `us` or `is` are kept as they are.
 */
export function foldWord(word: string): string {
  if (word.includes(' ')) return word.split(' ').map(foldWord).join(' ');
  if (word.length < 4 || !word.endsWith('s') || /(?:ss|us|is)$/u.test(word)) return word;
  if (word.endsWith('ies') && word.length > 4) return `${word.slice(0, -3)}y`;
  if (/(?:ches|shes|xes|zes|sses)$/u.test(word)) return word.slice(0, -2);
  return word.slice(0, -1);
}

/** A short snippet of `text`: whitespace collapsed, cut at a word boundary near `maxChars`, with an ellipsis. */
export function snippet(text: string, maxChars = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= maxChars) return flat;
  const cut = flat.lastIndexOf(' ', maxChars);
  return `${flat.slice(0, cut > maxChars / 2 ? cut : maxChars)}…`;
}
