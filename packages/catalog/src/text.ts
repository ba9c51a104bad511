// Word tokenisation for labels, keyword search and term statistics: lower-cased words, stopwords removed.

/** English stopwords (and corpus filler) that never become keywords. */
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
    'look new next number old part people place put right say says second set show shows since small something ' +
    'take three time times type way ways year years usually generally typically include within lets let find ' +
    'finds ask asks reason reasons thousand thousands hundred hundreds million millions often still'
  ).split(' '),
);

const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;

/** Splits `text` into lower-cased words (letters/digits with inner apostrophes or hyphens), keeping stopwords. */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const match of text.toLowerCase().matchAll(WORD)) {
    out.push(match[0].replace(/['’-]+$/u, ''));
  }
  return out;
}

/** True when `word` can be a keyword: at least 3 characters, not a stopword, not only digits. */
export function isContentWord(word: string): boolean {
  return word.length >= 3 && !STOPWORDS.has(word) && !/^[\d'’-]+$/u.test(word);
}

/** Content words of `text` (see {@link isContentWord}), in order, with repeats. */
export function contentWords(text: string): string[] {
  return words(text).filter(isContentWord);
}

/** A short snippet of `text`: whitespace collapsed, cut at a word boundary near `maxChars`, with an ellipsis. */
export function snippet(text: string, maxChars = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= maxChars) return flat;
  const cut = flat.lastIndexOf(' ', maxChars);
  return `${flat.slice(0, cut > maxChars / 2 ? cut : maxChars)}…`;
}
