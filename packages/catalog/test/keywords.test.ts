// Labels from contrastive keywords: content words and phrases only, stop words of the corpus' languages never,
// singular and plural as one term, weak evidence flagged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTermIndex, contrastiveKeywords, isWeakEvidence, scoreTerms } from '../src/keywords.js';
import { CorpusLanguages, detectLanguages, foldWord } from '../src/text.js';

const english = [
  'Interest rates rose again as the central bank fought inflation.',
  'The bank kept interest rates on hold while inflation eased.',
  'Savers welcome higher interest rates; borrowers do not.',
  'Mortgage costs follow interest rates set by the bank.',
];
const filler = Array.from(
  { length: 30 },
  (_, i) => `Local news story number ${i} about the weather and the town fair.`,
);
const german = [
  'Die Zinsen steigen und die Bank der Stadt erhöht den Leitzins für die Kunden.',
  'Der Leitzins bleibt hoch, und die Sparer in der Stadt freuen sich über die Zinsen.',
  'Die Kunden der Bank zahlen mehr für den Kredit, und der Zins steigt.',
];

test('the languages of a corpus come from the stop words its documents use', () => {
  assert.deepEqual(detectLanguages([...english, ...filler]), ['eng']);
  assert.deepEqual(detectLanguages([...english, ...filler, ...german]), ['eng', 'deu']);
});

test("a phrase takes its words' place; no stop word of the corpus' languages labels a feature", () => {
  const texts = [...english, ...filler, ...german];
  const index = buildTermIndex(texts, new CorpusLanguages(detectLanguages(texts)));
  const rates = contrastiveKeywords(index, [0, 1, 2, 3]);
  assert.equal(rates[0]!.term, 'interest rates', JSON.stringify(rates));
  assert.ok(!rates.some((k) => k.term === 'interest' || k.term === 'rates'), 'no word already in the phrase');
  const germanTop = texts.length - 3;
  const keywords = contrastiveKeywords(index, [germanTop, germanTop + 1, germanTop + 2]);
  assert.ok(keywords.length >= 3, JSON.stringify(keywords));
  for (const stop of ['die', 'und', 'der', 'den', 'für', 'sich', 'über'])
    assert.ok(
      !keywords.some((k) => k.term.split(' ').includes(stop)),
      `'${stop}' in ${JSON.stringify(keywords)}`,
    );
  assert.ok(keywords.some((k) => /zins|leitzins|kunden|bank|stadt/.test(k.term)));
  // With the English list only, the German stop words would have labelled the feature.
  const englishOnly = contrastiveKeywords(buildTermIndex(texts, new CorpusLanguages(['eng'])), [
    germanTop,
    germanTop + 1,
    germanTop + 2,
  ]);
  assert.ok(
    englishOnly.some((k) => k.term.split(' ').some((w) => ['die', 'und', 'der'].includes(w))),
    JSON.stringify(englishOnly),
  );
});

test('singular and plural count as one term, shown in the commoner form; weak evidence is flagged', () => {
  assert.equal(foldWord('sports'), 'sport');
  assert.equal(foldWord('companies'), 'company');
  assert.equal(foldWord('taxes'), 'tax');
  assert.equal(foldWord('business'), 'business');
  assert.equal(foldWord('electric cars'), 'electric car');
  const cars = [
    'cars and more cars on the road',
    'a car crash',
    'cars, cars, cars',
    'old cars rust',
    'cars park',
  ];
  const texts = [...cars, ...filler, ...filler];
  const index = buildTermIndex(texts);
  const scored = scoreTerms(index, [0, 1, 2, 3, 4]);
  assert.equal(scored.filter((k) => k.key === 'car').length, 1);
  assert.equal(scored.find((k) => k.key === 'car')!.term, 'cars');
  assert.equal(scored.find((k) => k.key === 'car')!.topDocuments, 5);
  assert.equal(isWeakEvidence(contrastiveKeywords(index, [0, 1, 2, 3, 4]), 5), false);
  assert.equal(isWeakEvidence(contrastiveKeywords(index, [0, 1]), 2), true, 'two documents are too few');
  assert.equal(
    isWeakEvidence(contrastiveKeywords(index, [8, 9, 10]), 3),
    true,
    'filler words set nothing apart',
  );
});
