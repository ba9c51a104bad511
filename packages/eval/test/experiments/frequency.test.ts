// Feature and term frequency statistics and the rank-frequency report on a toy corpus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  featureStatsOf,
  logLogSlope,
  renderFrequency,
  renderFrequencySvg,
  runFrequency,
  termDocumentFrequencies,
  documentTerms,
} from '../../src/experiments/frequency.js';
import { allElements, identitySae, parseXml } from './helpers.js';

test('a power law has the log-log slope of its exponent', () => {
  const values = Array.from({ length: 100 }, (_, i) => 1 / (i + 1) ** 1.5);
  assert.ok(Math.abs(logLogSlope(values) + 1.5) < 1e-9);
});

test('feature and term document frequencies count documents, not occurrences', () => {
  const codes = {
    indices: Int32Array.from([0, 1, 0, 2, 3, 0]),
    values: Float32Array.from([0.5, 0.1, 0.4, 0.3, 0.2, 0]),
    batch: 3,
    k: 2,
  };
  const { stats, top } = featureStatsOf(codes, 4, 10);
  assert.deepEqual(Array.from(stats.count), [2, 1, 1, 1]); // the zero activation of row 2 does not count
  assert.deepEqual(top.get(0), [0, 1]);
  const df = termDocumentFrequencies(documentTerms(['the cat the cat', 'the dog', 'a bird']));
  assert.deepEqual(
    [...df],
    [
      ['the', 2 / 3],
      ['cat', 1 / 3],
      ['dog', 1 / 3],
      ['a', 1 / 3],
      ['bird', 1 / 3],
    ],
  );
});

test('the frequency report plots both curves and lists head, torso and tail features', async () => {
  const { sae, cleanup } = await identitySae(6, 2);
  try {
    // Feature 0 fires everywhere, 5 rarely: a skewed distribution over 12 documents.
    const rows = Array.from({ length: 12 }, (_, i) => {
      const v = [1, 0, 0, 0, 0, 0];
      v[1 + (i % 5 === 0 ? 4 : i % 4)] = 0.5;
      return v;
    });
    const documents = rows.map((_, i) => ({
      id: `d${i}`,
      title: `title ${i}`,
      text: `word${i % 3} common text`,
    }));
    const result = await runFrequency({
      corpus: 'toy',
      documents,
      documentVectors: Float32Array.from(rows.flat()),
      sae,
      perBucket: 1,
    });
    assert.equal(result.featureFrequencies[0], 1);
    assert.equal(result.liveFeatures, 6);
    assert.deepEqual(
      result.examples.map((e) => e.bucket),
      ['head', 'torso', 'tail'],
    );
    assert.equal(result.examples[0]!.feature, 0);
    const series = allElements(parseXml(renderFrequencySvg(result))).filter(
      (e) => e.attributes.class === 'series',
    );
    assert.equal(series.length, 2);
    assert.match(series[1]!.attributes['data-name']!, /bag-of-words terms/);
    const md = renderFrequency(
      [result, { ...result, saeId: 'sae-second-seed', featureSlope: result.featureSlope + 0.2 }],
      'Produced by `steer experiment frequency`.',
      'f.svg',
    );
    assert.match(md, /^Produced by `steer experiment frequency`\.$/m);
    assert.match(md, new RegExp(`\\| SAE features \\| ${result.saeId} \\| 6 \\| 100\\.00% \\|`));
    assert.match(md, /\| SAE features \| sae-second-seed \| 6 \|/);
    // slope mean ± sd over the two seeds: sd of (s, s + 0.2) is 0.1414
    assert.match(md, new RegExp(`slope ${(result.featureSlope + 0.1).toFixed(2)} ± 0\\.14`));
    assert.match(md, /\| head \| 0 \| 100\.00% \|/);
  } finally {
    await cleanup();
  }
});
