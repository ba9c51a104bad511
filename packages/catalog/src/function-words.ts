// Function words that neither the `stopword` nor the `stopwords-iso` list has, by ISO 639-3 code: closed-class
// words (conjunctions, prepositions, quantifiers, pronominal and sentence adverbs) that labelled demo features.

/**
 * Added to the stop words of their language. Only words that are never content words in that language: no
 * adjective or noun that is also a function word (German `ehe` is also "marriage", `laut` also "loud").
 */
export const FUNCTION_WORDS: Readonly<Record<string, readonly string[]>> = {
  deu: (
    'bevor meist meiste meisten meistens sobald solange sofern falls obwohl obgleich obschon sodass wobei wodurch ' +
    'womit wovon worauf woran worin wozu wofür wogegen worüber weder sowohl zudem ebenfalls bzw usw gemäß gemäss ' +
    'trotz innerhalb außerhalb ausserhalb oberhalb unterhalb anhand aufgrund mittels seitens bezüglich entlang ' +
    'samt sämtliche sämtlichen etliche etlichen mehrere mehreren wenigen andernfalls hierbei hierzu hierfür ' +
    'dorthin schließlich schliesslich inzwischen mittlerweile zumindest nämlich eher fast sogar ziemlich jeweils ' +
    'beziehungsweise binnen entgegen ungeachtet zwecks anstatt anstelle infolge dennoch hingegen ansonsten somit ' +
    'folglich demnach insbesondere manchmal stets niemals sowieso genauso irgendwie irgendwo irgendwann überall ' +
    'nirgends einst bislang seither fortan zuvor zuletzt anschließend anschliessend daraufhin manch jeglicher ' +
    'jegliche jeglichen beides lediglich bloß bloss wenigsten mindestens höchstens ungefähr circa jedenfalls ' +
    'eigentlich herum hinaus heraus hinein herein hindurch voran vorbei nebenbei unterdessen indes indessen weswegen'
  ).split(' '),
  fra: ['jamais', 'déjà', 'presque', 'pourtant', 'ensuite'],
};
