// The amplification experiment on a planted example: amplifying the planted relevant feature raises MRR@10.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EvalDataset } from '../../src/datasets.js';
import {
  amplificationGrid,
  queryRelevantFeature,
  renderAmplify,
  renderAmplifySvg,
  runAmplify,
} from '../../src/experiments/amplify.js';
import { allElements, identitySae, parseXml } from './helpers.js';

test('the paper grid doubles from 0.0004', () => {
  const grid = amplificationGrid(13);
  assert.equal(grid.length, 13);
  assert.equal(grid[0], 0.0004);
  assert.ok(Math.abs(grid[12]! - 1.6384) < 1e-12);
});

test('the query-relevant feature maximises query x mean relevant activation, with a fallback', () => {
  const query = new Map([
    [0, 1.0],
    [1, 0.2],
  ]);
  const relevant = [
    new Map([
      [1, 0.9],
      [2, 0.4],
    ]),
    new Map([
      [1, 0.5],
      [3, 0.1],
    ]),
  ];
  assert.deepEqual(queryRelevantFeature(query, relevant), { feature: 1, score: 0.2 * 0.7, fallback: false });
  // Nothing shared: the latent with the highest mean over the relevant documents.
  assert.deepEqual(queryRelevantFeature(new Map([[5, 1]]), relevant), {
    feature: 1,
    score: 0.7,
    fallback: true,
  });
  assert.equal(queryRelevantFeature(query, []), null);
  // Contrasted with the corpus: feature 1 is everywhere (corpus mean 0.7), feature 2 only in relevant documents.
  const withTwo = new Map([...query, [2, 0.1]]);
  assert.deepEqual(
    queryRelevantFeature(
      withTwo,
      relevant,
      new Map([
        [1, 0.7],
        [2, 0.05],
      ]),
    ),
    { feature: 2, score: 0.1 * (0.2 - 0.05), fallback: false },
  );
});

// Planted example in 4 dimensions with the identity SAE (latent i = coordinate i, top 2):
// five distractors point along feature 0 (score 0.9 for the query), the relevant document along features 1 and 2
// (score 0.18), so it ranks 6th. Feature 1 is the only latent active in both query and relevant document.
function plantedDataset(): { dataset: EvalDataset; docs: Float32Array; query: Float32Array } {
  const rows = [
    [0.9, 0, 0, 0.4],
    [0.9, 0, 0, 0.3],
    [0.9, 0, 0, 0.2],
    [0.9, 0, 0, 0.1],
    [0.9, 0, 0, 0.35],
    [0, 0.9, 0.4, 0],
  ];
  const documents = rows.map((_, i) => ({ id: `d${i}`, text: `doc ${i}` }));
  const dataset: EvalDataset = {
    name: 'planted',
    layout: 'beir',
    documents,
    queries: [{ id: 'q', text: 'query' }],
    qrels: new Map([['q', new Map([['d5', 1]])]]),
    minRelevantGrade: 1,
    relevanceNote: 'grade >= 1',
  };
  return { dataset, docs: Float32Array.from(rows.flat()), query: Float32Array.from([1, 0.2, 0, 0]) };
}

test('amplifying the planted feature lifts the relevant document to rank 1 on both sides', async () => {
  const { sae, cleanup } = await identitySae(4, 2);
  try {
    const { dataset, docs, query } = plantedDataset();
    const weights = [0.5, 1, 2, 4, 8];
    const result = await runAmplify({
      dataset,
      sae,
      documentVectors: docs,
      queryVectors: query,
      queries: dataset.queries,
      weights,
    });
    assert.equal(result.features.length, 1);
    assert.equal(result.features[0]!.feature, 1);
    assert.equal(result.features[0]!.activeDocuments, 1);
    assert.ok(Math.abs(result.baseline.mrr10 - 1 / 6) < 1e-12);
    // Query side: the relevant document scores 0.9 (0.2 + w) against 0.9 for the distractors: first from w = 1.
    assert.deepEqual(
      result.query.mrr10.map((m) => Number(m.toFixed(6))),
      [0.166667, 1, 1, 1, 1],
    );
    // Document side: its score is 0.18 + w * (q . e1) = 0.18 + 0.2 w; above 0.9 from w = 4.
    assert.deepEqual(
      result.document.mrr10.map((m) => Number(m.toFixed(6))),
      [0.166667, 0.166667, 0.166667, 1, 1],
    );
    assert.deepEqual(result.query.p10, [0.1, 0.1, 0.1, 0.1, 0.1]);

    assert.equal(result.source, 'judgments');
    // Concept search picks the feature instead (here the same one): the judgments only score the result.
    const asked: string[] = [];
    const byConcept = await runAmplify({
      dataset,
      sae,
      documentVectors: docs,
      queryVectors: query,
      queries: dataset.queries,
      weights,
      conceptSearch: async (text) => {
        asked.push(text);
        return { feature: 1, score: 0.9 };
      },
    });
    assert.deepEqual(asked, ['query']);
    assert.equal(byConcept.source, 'concept');
    assert.deepEqual(byConcept.query.mrr10, result.query.mrr10);
    assert.deepEqual(byConcept.features[0], {
      queryId: 'q',
      feature: 1,
      score: 0.9,
      fallback: false,
      activeDocuments: 1,
    });

    const svg = parseXml(renderAmplifySvg([byConcept, result]));
    const series = allElements(svg).filter((e) => e.attributes.class === 'series');
    assert.ok(
      series.some(
        (s) =>
          s.attributes['data-name'] === 'query side, concept search' &&
          s.attributes['data-points']!.endsWith('8:1'),
      ),
    );
    assert.ok(
      series.some((s) => s.attributes['data-name'] === 'document side, from judgments (upper bound)'),
    );
    const md = renderAmplify(
      [byConcept, result],
      'steer experiment amplify --out x',
      new Date('2026-01-02T03:04:00Z'),
      'amplify.svg',
    );
    assert.match(
      md,
      /\| w \| query side MRR@10 \(concept search\) \| document side MRR@10 \(concept search\) \| query side MRR@10 \(from judgments \(upper bound\)\) \|/,
    );
    assert.match(md, /Produced by `steer experiment amplify --out x` on 2026-01-02 03:04 UTC/);
  } finally {
    await cleanup();
  }
});
