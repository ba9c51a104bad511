// Metric functions against hand-computed examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  evaluateRuns,
  ndcgAt,
  perQueryMetrics,
  precisionAt,
  recallAt,
  reciprocalRank,
  topOverlap,
} from '../src/metrics.js';

const judgments = new Map([
  ['a', 3],
  ['b', 1],
  ['c', 2],
  ['z', 2], // relevant but never retrieved
]);
const ranking = ['x', 'b', 'c', 'y', 'a'];
const binary = { cutoff: 10, minRelevantGrade: 2 };

test('reciprocal rank counts only grades at or above the threshold', () => {
  assert.equal(reciprocalRank(ranking, judgments, binary), 1 / 3); // 'b' (grade 1) is not relevant
  assert.equal(reciprocalRank(ranking, judgments, { cutoff: 10, minRelevantGrade: 1 }), 1 / 2);
  assert.equal(reciprocalRank(ranking, judgments, { cutoff: 2, minRelevantGrade: 2 }), 0);
});

test('precision divides by the cutoff, recall by all relevant documents', () => {
  assert.equal(precisionAt(ranking, judgments, binary), 2 / 10);
  assert.equal(recallAt(ranking, judgments, binary), 2 / 3); // a, c of a, c, z
  assert.equal(recallAt(ranking, new Map([['q', 1]]), binary), 0);
});

test('nDCG uses graded gains with a log2 discount', () => {
  // DCG = 1/log2(3) + 2/log2(4) + 3/log2(6); ideal = 3/1 + 2/log2(3) + 2/log2(4) + 1/log2(5)
  const dcg = 1 / Math.log2(3) + 2 / 2 + 3 / Math.log2(6);
  const ideal = 3 + 2 / Math.log2(3) + 2 / 2 + 1 / Math.log2(5);
  assert.ok(Math.abs(ndcgAt(ranking, judgments, { cutoff: 10 }) - dcg / ideal) < 1e-12);
  assert.equal(ndcgAt(['a', 'c', 'z', 'b'], judgments, { cutoff: 10 }), 1);
});

test('evaluateRuns averages over judged queries and skips queries without relevant judgments', () => {
  const qrels = new Map([
    ['q1', judgments],
    ['q2', new Map([['d', 2]])],
    ['q3', new Map([['e', 1]])], // no document at grade >= 2: skipped
  ]);
  const runs = new Map([
    ['q1', ranking],
    ['q2', ['d']],
  ]);
  const summary = evaluateRuns(runs, qrels, 2);
  assert.equal(summary.queries, 2);
  assert.ok(Math.abs(summary.mrr10 - (1 / 3 + 1) / 2) < 1e-12);
  assert.ok(Math.abs(summary.p10 - (0.2 + 0.1) / 2) < 1e-12);
  assert.ok(Math.abs(summary.r10 - (2 / 3 + 1) / 2) < 1e-12);
});

test('per-query metrics list the judged queries in order; the top-10 overlap compares sets', () => {
  const qrels = new Map([
    ['q1', judgments],
    ['q3', new Map([['e', 1]])],
    ['q2', new Map([['d', 2]])],
  ]);
  const per = perQueryMetrics(new Map([['q2', ['x', 'd']]]), qrels, 2);
  assert.deepEqual(per.queryIds, ['q1', 'q2']);
  assert.deepEqual(per.mrr10, [0, 0.5], 'a query without a run scores 0');
  assert.equal(topOverlap(['a', 'b', 'c'], ['c', 'a', 'z']), 2 / 3);
  assert.equal(topOverlap(['a'], []), 1);
  const long = Array.from({ length: 12 }, (_, i) => `d${i}`);
  assert.equal(topOverlap(long.slice(2), long), 0.8, 'only the top 10 of each count');
});
