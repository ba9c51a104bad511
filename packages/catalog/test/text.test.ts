// Stop words by language: the fuller per-language lists, and each text judged by its own language, so that
// German `war` or `die` never costs an English text a content word.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conceptTerms } from '../src/lexical-index.js';
import { CorpusLanguages, detectLanguages, StopWords } from '../src/text.js';

test('the lists of a language are merged: stopword, stopwords-iso and the added function words', () => {
  const german = new StopWords(['deu']);
  for (const word of ['und', 'der', 'bevor', 'meisten', 'obwohl', 'sobald'])
    assert.ok(german.has(word), `${word} is a German stop word`);
  const french = new StopWords(['fra']);
  // `plupart` and `avant` come from stopwords-iso, `jamais` from the added function words.
  for (const word of ['les', 'plupart', 'avant', 'lorsque', 'jamais'])
    assert.ok(french.has(word), `${word} is a French stop word`);
  for (const word of ['rhein', 'fleuve', 'krieg']) {
    assert.ok(german.isContentWord(word) && french.isContentWord(word), word);
  }
  // German stop words are English content words: the English list never takes them.
  const english = new StopWords(['eng']);
  for (const word of ['war', 'die', 'hat', 'bevor']) assert.ok(english.isContentWord(word), word);
});

test('each text is in the corpus language whose stop words it uses; short texts keep the main language', () => {
  const languages = new CorpusLanguages(['eng', 'deu', 'fra']);
  assert.equal(
    languages.languageOf('Der Rhein fließt durch Deutschland, bevor er in die Nordsee mündet.'),
    'deu',
  );
  assert.equal(languages.languageOf('La plupart des trains partent avant le lever du soleil.'), 'fra');
  assert.equal(languages.languageOf('The war was over before the winter came to the city.'), 'eng');
  assert.equal(languages.languageOf('war'), 'eng', 'one German stop word does not make a text German');
  assert.equal(languages.languageOf('Krieg und Frieden'), 'eng', 'too few stop words: the main language');
  assert.equal(new CorpusLanguages(['deu', 'eng']).languageOf('war'), 'deu');
  assert.ok(languages.stopWordsFor('Der Krieg war lang und die Not war groß.').has('war'));
  assert.ok(!languages.stopWordsFor('The war was long and the winter was hard.').has('war'));
});

test('English stays among the languages of a corpus, after the detected ones when no document is English', () => {
  const german = [
    'Die Zinsen steigen und die Bank der Stadt erhöht den Leitzins für die Kunden.',
    'Der Leitzins bleibt hoch, und die Sparer in der Stadt freuen sich über die Zinsen.',
  ];
  assert.deepEqual(detectLanguages(german), ['deu', 'eng']);
});

test('a concept query keeps the words that are content words in its own language', () => {
  const languages = new CorpusLanguages(['eng', 'deu']);
  assert.deepEqual(conceptTerms('war', languages), ['war']);
  assert.ok(conceptTerms('the war in the east', languages).includes('war'));
  assert.deepEqual(conceptTerms('der Krieg war blutig, bevor er endete', languages), [
    'krieg',
    'blutig',
    'endete',
  ]);
});
