// Perspective counting and steering on a toy labelled corpus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  countPerspectives,
  loadPerspectiveQueries,
  perspectiveFeature,
  renderPerspectives,
  runPerspectives,
  PERSPECTIVE_QUERIES_FILE,
  type LabelledPassage,
  type PerspectiveQuery,
} from '../../src/experiments/perspectives.js';
import type { FeatureCatalog } from '@steer/grammar';
import { identitySae } from './helpers.js';

test('counts the top 5 per perspective; unlabelled and other labels count as other', () => {
  const labels = new Map([
    ['a', 'career'],
    ['b', 'growth'],
    ['c', 'career'],
    ['d', 'none'],
    ['e', 'career'],
    ['f', 'growth'],
  ]);
  assert.deepEqual(countPerspectives(['a', 'b', 'c', 'd', 'e', 'f'], labels, ['career', 'growth']), {
    career: 3,
    growth: 1,
    other: 1,
  });
  assert.deepEqual(countPerspectives(['f', 'x'], labels, ['career', 'growth']), {
    career: 0,
    growth: 1,
    other: 1,
  });
  assert.deepEqual(countPerspectives(['a', 'b', 'c'], labels, ['career', 'growth'], 2), {
    career: 1,
    growth: 1,
    other: 0,
  });
});

// Toy corpus in 3 dimensions with the identity SAE (top 2): perspective A passages lean on coordinate 1,
// B passages on coordinate 2; all share the topic coordinate 0. The query sits closer to B.
const passages: LabelledPassage[] = [
  ...[0.5, 0.45, 0.4, 0.35, 0.3].map((v, i) => ({
    id: `a${i}`,
    title: '',
    text: '',
    topic: 't',
    perspective: 'A',
    v: [0.8, v, 0],
  })),
  ...[0.6, 0.55, 0.5, 0.45, 0.42].map((v, i) => ({
    id: `b${i}`,
    title: '',
    text: '',
    topic: 't',
    perspective: 'B',
    v: [0.8, 0, v],
  })),
  { id: 'x', title: '', text: '', topic: 'other', perspective: 'none', v: [0, 0.1, 0.1] },
];
const vectors = Float32Array.from(passages.flatMap((p) => (p as unknown as { v: number[] }).v));
const query: PerspectiveQuery = {
  id: 'q',
  query: 'toy',
  topic: 't',
  perspectives: [
    { name: 'A', description: 'a' },
    { name: 'B', description: 'b' },
  ],
};

test('the perspective feature is the latent most enriched against the other perspective', async () => {
  const { sae, cleanup } = await identitySae(3, 2);
  try {
    const codes = await sae.encode(vectors, passages.length);
    const a = perspectiveFeature(codes, passages, 't', 'A', 'B');
    assert.equal(a.feature, 1);
    assert.ok(Math.abs(a.enrichment - 0.4) < 1e-6);
    assert.equal(a.towardFrequency, 1);
    assert.equal(a.awayFrequency, 0);
    // Feature 1 fires in a0..a4 (0.5 .. 0.3) and in x (0.1): the lower median of the six is 0.35.
    assert.ok(Math.abs(a.typicalActivation - 0.35) < 1e-6);
    assert.equal(perspectiveFeature(codes, passages, 't', 'B', 'A').feature, 2);
    assert.throws(() => perspectiveFeature(codes, passages, 't', 'A', 'C'), /needs labelled passages/);
  } finally {
    await cleanup();
  }
});

/** A toy catalog: concept search maps description 'a' to feature 1 and 'b' to feature 2; 1x = 2 |h|. */
const toyCatalog: FeatureCatalog = {
  nLatents: 3,
  saeId: 'sae-identity',
  get: (id) => (id >= 0 && id < 3 ? { id } : undefined),
  byAliasOrLabel: () => [],
  searchConcept: async () => [],
  resolveConcept: async (text) => [{ feature: { id: text === 'a' ? 1 : 2 }, weight: 1 }],
  strengthCalibration: () => ({ scale: 2 }),
};

test('amplifying a perspective by concept search and by the label-chosen feature moves it into the top 5', async () => {
  const { sae, cleanup } = await identitySae(3, 2);
  try {
    // The query's code is {0: 1, 2: 0.3}, so 1x = 2 x 1.044 = 2.088 latent units.
    const result = await runPerspectives({
      passages,
      documentVectors: vectors,
      queries: [query],
      queryVectors: Float32Array.from([1, 0.1, 0.3]),
      sae,
      catalog: toyCatalog,
      strengths: [0.1, 2],
    });
    assert.equal(result.rows.length, 4);
    for (const source of ['concept', 'labels'] as const) {
      const towardA = result.rows.find((r) => r.toward === 'A' && r.source === source)!;
      assert.deepEqual(towardA.features, [1]);
      assert.deepEqual(towardA.before, { A: 0, B: 5, other: 0 });
      assert.deepEqual(towardA.after[1], { A: 5, B: 0, other: 0 });
      assert.ok(towardA.after[0]!.A! >= towardA.before.A!);
      const towardB = result.rows.find((r) => r.toward === 'B' && r.source === source)!;
      assert.deepEqual(towardB.after[1], { A: 0, B: 5, other: 0 });
    }
    assert.deepEqual(
      result.labelFeatures.map((f) => [f.perspective, f.feature]),
      [
        ['A', 1],
        ['B', 2],
      ],
    );
    const md = renderPerspectives(
      result,
      'steer experiment perspectives --out x',
      new Date(),
      'p.svg',
      'toy',
    );
    assert.match(md, /\| query \| amplify \| features \| before \| 0\.1x \| 2x \|/);
    assert.match(md, /\| toy \| A \| f1 \| 0 \/ 5 \/ 0 \| .* \| 5 \/ 0 \/ 0 \|/);
    assert.match(md, /label-chosen upper bound/);
  } finally {
    await cleanup();
  }
});

test('the shipped perspective queries load and name two perspectives each', async () => {
  const queries = await loadPerspectiveQueries(PERSPECTIVE_QUERIES_FILE.pathname);
  assert.ok(queries.length >= 10);
  for (const q of queries) assert.equal(q.perspectives.length, 2);
  const dir = await mkdtemp(join(tmpdir(), 'steer-eval-persp-'));
  try {
    await writeFile(
      join(dir, 'bad.json'),
      JSON.stringify({ queries: [{ id: 'x', query: 'y', topic: 't', perspectives: [] }] }),
    );
    await assert.rejects(loadPerspectiveQueries(join(dir, 'bad.json')), /two "perspectives"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
