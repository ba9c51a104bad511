// Word tokenisation for labels, keyword search and term statistics: lower-cased words, stop words of each
// text's language removed, a light plural folding so that `sport` and `sports` meet.
import stopwordLists from 'stopword';
import isoLists from 'stopwords-iso/stopwords-iso.json' with { type: 'json' };
import { FUNCTION_WORDS } from './function-words.js';

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

/** ISO 639-1 codes of `stopwords-iso` -> the ISO 639-3 codes of `stopword` (no `en`: see LANGUAGE_LISTS). */
const ISO_639_3: ReadonlyMap<string, string> = new Map(
  (
    'af=afr ar=ara bg=bul bn=ben br=bre ca=cat cs=ces da=dan de=deu el=ell eo=epo es=spa et=est eu=eus ' +
    'fa=fas fi=fin fr=fra ga=gle gl=glg gu=guj ha=hau he=heb hi=hin hr=hrv hu=hun hy=hye id=ind it=ita ' +
    'ja=jpn ko=kor ku=kur la=lat lt=lit lv=lav mr=mar ms=msa nl=nld no=nob pl=pol pt=por ro=ron ru=rus ' +
    'sk=slk sl=slv so=som st=sot sv=swe sw=swa th=tha tl=tgl tr=tur uk=ukr ur=urd vi=vie yo=yor zh=zho ' +
    'zu=zul'
  )
    .split(' ')
    .map((pair) => pair.split('=') as [string, string]),
);

/**
 * The stop words of each language, by ISO 639-3 code (60 languages): the `stopword` package's list, merged with
 * the fuller `stopwords-iso` list (French 168 words -> 692, Spanish 59 -> 732) and {@link FUNCTION_WORDS}.
 * NOTE: English keeps `stopword`'s list only: `stopwords-iso`'s English list (1,298 words) holds content words
 * such as `information`, `research` and `world`.
 */
const LANGUAGE_LISTS: ReadonlyMap<string, ReadonlySet<string>> = (() => {
  const lists = new Map<string, Set<string>>();
  const add = (code: string, list: readonly string[]): void => {
    const set = lists.get(code) ?? new Set<string>();
    for (const word of list) set.add(word.toLowerCase());
    lists.set(code, set);
  };
  for (const [code, list] of Object.entries(stopwordLists)) {
    if (Array.isArray(list) && /^[a-z]{3}$/.test(code)) add(code, list as string[]);
  }
  for (const [code, list] of Object.entries(isoLists as Record<string, string[]>)) {
    const code3 = ISO_639_3.get(code);
    if (code3) add(code3, list);
  }
  for (const [code, list] of Object.entries(FUNCTION_WORDS)) add(code, list);
  return lists;
})();

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

/** How many of `tokens` are stop words of each language. */
function stopWordHits(tokens: readonly string[]): Map<string, number> {
  const hits = new Map<string, number>();
  for (const word of tokens) {
    for (const code of LANGUAGES_OF_WORD.get(word) ?? []) hits.set(code, (hits.get(code) ?? 0) + 1);
  }
  return hits;
}

/**
 * The languages of a corpus, from the stop words its documents use: a document is in the language whose stop
 * words make up the largest share of its words (when that share is at least 15%, as in running text of any
 * language); a language counts when at least 2 documents and 0.5% of them are in it. English is always
 * included (last when no document is in it). Returns ISO 639-3 codes, most documents first.
 */
export function detectLanguages(texts: readonly string[]): string[] {
  const documents = new Map<string, number>();
  for (const text of texts) {
    const tokens = words(text);
    let best: [string, number] | undefined;
    for (const entry of stopWordHits(tokens)) if (!best || entry[1] > best[1]) best = entry;
    if (best && best[1] >= 0.15 * tokens.length) documents.set(best[0], (documents.get(best[0]) ?? 0) + 1);
  }
  const needed = Math.max(2, 0.005 * texts.length);
  const found = [...documents]
    .filter(([, count]) => count >= needed)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([code]) => code);
  return found.includes('eng') ? found : [...found, 'eng'];
}

/**
 * The languages of a corpus (main language first) and the one each text is in, so that a language's stop words
 * apply only to its own texts: German `war`, `die`, `will`, `hat` are content words of English texts.
 */
export class CorpusLanguages {
  /** ISO 639-3 codes, the main language (most documents) first. */
  readonly languages: readonly string[];
  private readonly byLanguage = new Map<string, StopWords>();

  /** `languages`: ISO 639-3 codes, main first (as {@link detectLanguages} returns them); default English. */
  constructor(languages: readonly string[] = ['eng']) {
    this.languages = languages.length > 0 ? [...new Set(languages)] : ['eng'];
  }

  /**
   * The corpus language of the words `tokens`: the one with the most stop words among them (a tie goes to the
   * earlier language) when it has at least 2; otherwise the main language, so that a short query like `war`
   * keeps the main language's reading.
   */
  languageOfWords(tokens: readonly string[]): string {
    const hits = stopWordHits(tokens);
    let best = this.languages[0]!;
    let bestHits = 0;
    for (const code of this.languages) {
      const count = hits.get(code) ?? 0;
      if (count > bestHits) [best, bestHits] = [code, count];
    }
    return bestHits >= 2 ? best : this.languages[0]!;
  }

  /** The corpus language `text` is written in (see {@link CorpusLanguages.languageOfWords}). */
  languageOf(text: string): string {
    return this.languageOfWords(words(text));
  }

  /** The stop words of `language`: the English list plus that language's list. */
  stopWordsOf(language: string): StopWords {
    let stopWords = this.byLanguage.get(language);
    if (!stopWords) this.byLanguage.set(language, (stopWords = new StopWords([language])));
    return stopWords;
  }

  /** The stop words that apply to `text`: those of the language it is written in. */
  stopWordsFor(text: string): StopWords {
    return this.stopWordsOf(this.languageOf(text));
  }
}

/** A corpus in English only. */
export const ENGLISH_CORPUS = new CorpusLanguages(['eng']);

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
