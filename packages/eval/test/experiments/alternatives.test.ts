// The rules tried and not adopted: each ranking checked against a brute-force scoring written out here, the cell
// summaries judged by their paired intervals, and the report's section.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '@steer/core';
import { pursueLatents, type SaeWeights, type SparseLatents } from '@steer/sae';
import type { EvalDataset } from '../../src/datasets.js';
import { perQueryMetrics, topOverlap } from '../../src/metrics.js';
import type { EvalMethod, EvalResult, EvalRow, Reconstructions } from '../../src/run-eval.js';
import {
  LONGER_QUERY_FACTORS,
  measureAlternatives,
  PRIOR_WEIGHTS,
  renderAlternatives,
  summarizeAlternatives,
  type AlternativeCell,
  type AlternativeRun,
} from '../../src/experiments/alternatives.js';
import { METHOD_LABELS } from '../../src/experiments/table1.js';

const D = 8;
const N = 48;
const K = 3;
const DOCS = 40;
const QUERIES = 6;

function randomWeights(seed: number): SaeWeights {
  const rand = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const W_dec = Float32Array.from({ length: D * N }, gauss);
  return {
    W_enc: Float32Array.from({ length: N * D }, (_, i) => W_dec[(i % D) * N + Math.floor(i / D)]!),
    b_enc: Float32Array.from({ length: N }, () => 0.1 * gauss()),
    W_dec,
    b_dec: Float32Array.from({ length: D }, () => 0.5 * gauss()),
    dModel: D,
    nLatents: N,
  };
}

/** Encoder pre-activations of one vector, written out plainly. */
function preActivation(w: SaeWeights, x: ArrayLike<number>): number[] {
  return Array.from({ length: N }, (_, j) => {
    let sum = w.b_enc[j]!;
    for (let i = 0; i < D; i++) sum += w.W_enc[j * D + i]! * (x[i]! - w.b_dec[i]!);
    return sum;
  });
}

/** A dense code keeping the m largest positive pre-activations (ties to the lower latent). */
function topCode(z: number[], m: number): number[] {
  const keep = new Set(
    z
      .map((v, j) => [v, j] as const)
      .sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .slice(0, m)
      .map(([, j]) => j),
  );
  return z.map((v, j) => (keep.has(j) && v > 0 ? v : 0));
}

function sparse(codes: number[][], k: number): SparseLatents {
  const indices = new Int32Array(codes.length * k);
  const values = new Float32Array(codes.length * k);
  codes.forEach((code, r) => {
    const order = code
      .map((v, j) => [v, j] as const)
      .sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .slice(0, k);
    order.forEach(([v, j], c) => {
      indices[r * k + c] = j;
      values[r * k + c] = v;
    });
  });
  return { indices, values, batch: codes.length, k };
}

const dense = (latents: SparseLatents, row: number): number[] => {
  const out = new Array<number>(N).fill(0);
  for (let c = 0; c < latents.k; c++)
    out[latents.indices[row * latents.k + c]!]! += latents.values[row * latents.k + c]!;
  return out;
};
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

function fixture() {
  const rand = mulberry32(7);
  const weights = randomWeights(3);
  const vectors = (rows: number) => Float32Array.from({ length: rows * D }, () => rand() * 2 - 1);
  const documents = vectors(DOCS);
  const queries = vectors(QUERIES);
  const docCodes = Array.from({ length: DOCS }, (_, d) =>
    topCode(preActivation(weights, documents.subarray(d * D, (d + 1) * D)), K),
  );
  const queryCodes = Array.from({ length: QUERIES }, (_, q) =>
    topCode(preActivation(weights, queries.subarray(q * D, (q + 1) * D)), K),
  );
  const dataset: EvalDataset = {
    name: 'toy',
    layout: 'beir',
    documents: Array.from({ length: DOCS }, (_, d) => ({ id: `d${d}`, text: `doc ${d}` })),
    queries: Array.from({ length: QUERIES }, (_, q) => ({ id: `q${q}`, text: `query ${q}` })),
    // Three relevant documents per judged query (the last query is unjudged).
    qrels: new Map(
      Array.from({ length: QUERIES - 1 }, (_, q) => [
        `q${q}`,
        new Map([0, 1, 2].map((i) => [`d${(7 * q + 11 * i + 3) % DOCS}`, 1])),
      ]),
    ),
    minRelevantGrade: 1,
    relevanceNote: 'grade >= 1',
  };
  const reconstructions: Reconstructions = {
    documents,
    queries,
    documentsHat: documents.map((v) => v * 0.9),
    queriesHat: queries,
    queriesPursuedHat: queries,
    documentLatents: sparse(docCodes, K),
    queryLatents: sparse(queryCodes, K),
  };
  return { weights, documents, queries, docCodes, queryCodes, dataset, reconstructions };
}

/** MRR@10 per judged query and mean overlap of rankings given as document indices, judged as the module judges. */
function judged(dataset: EvalDataset, rankings: number[][], original: number[][]) {
  const ids = (r: number[]) => r.slice(0, 10).map((d) => `d${d}`);
  const byQuery = new Map(dataset.queries.map((q, i) => [q.id, ids(rankings[i]!)]));
  const overlap =
    rankings.reduce((s, r, i) => s + topOverlap(ids(r), ids(original[i]!), 10), 0) / rankings.length;
  return { mrr10: perQueryMetrics(byQuery, dataset.qrels, 1).mrr10, overlap10: overlap };
}

/** Ranks every document (ties by document order), keeping those `eligible` says. */
function rank(score: (d: number) => number, eligible: (d: number) => boolean = () => true): number[] {
  return Array.from({ length: DOCS }, (_, d) => d)
    .filter(eligible)
    .sort((a, b) => score(b) - score(a) || a - b);
}

test('every rule ranks the documents as its scoring, written out by brute force, does', () => {
  const f = fixture();
  const runs = measureAlternatives(f.dataset, f.weights, K, f.reconstructions);
  const byName = new Map(runs.map((r) => [r.name, r]));
  const original = Array.from({ length: QUERIES }, (_, q) =>
    rank((d) => dot(f.queries.subarray(q * D, (q + 1) * D), f.documents.subarray(d * D, (d + 1) * D))),
  );
  const expectRule = (name: string, rankings: number[][]) => {
    const run = byName.get(name);
    assert.ok(run, `${name} is measured`);
    const expected = judged(f.dataset, rankings, original);
    assert.deepEqual(run.mrr10, expected.mrr10, `${name}: reciprocal ranks`);
    assert.ok(Math.abs(run.overlap10 - expected.overlap10) < 1e-12, `${name}: overlap`);
  };
  const cosine = (queryCode: (q: number) => number[]) =>
    Array.from({ length: QUERIES }, (_, q) => {
      const code = queryCode(q);
      return rank(
        (d) => dot(code, f.docCodes[d]!) / Math.sqrt(dot(f.docCodes[d]!, f.docCodes[d]!)),
        (d) => f.docCodes[d]!.some((v, j) => v > 0 && code[j]! > 0),
      );
    });
  const pursued = pursueLatents(f.weights, f.queries, QUERIES, K);
  expectRule(
    'sparse-query-pursuit',
    cosine((q) => dense(pursued, q)),
  );
  for (const factor of LONGER_QUERY_FACTORS) {
    expectRule(
      `sparse-query-top-${factor}k`,
      cosine((q) => topCode(preActivation(f.weights, f.queries.subarray(q * D, (q + 1) * D)), factor * K)),
    );
  }
  const bias = (d: number) =>
    dot(f.weights.b_dec, f.documents.subarray(d * D, (d + 1) * D)) - dot(f.weights.b_dec, f.weights.b_dec);
  for (const w of PRIOR_WEIGHTS) {
    expectRule(
      `sparse-dot-plus-bias-${w}`,
      Array.from({ length: QUERIES }, (_, q) =>
        rank((d) => dot(f.queryCodes[q]!, f.docCodes[d]!) + w * bias(d)),
      ),
    );
  }
  expectRule(
    'sparse-dot-minus-half-norm',
    Array.from({ length: QUERIES }, (_, q) =>
      rank((d) => dot(f.queryCodes[q]!, f.docCodes[d]!) - dot(f.docCodes[d]!, f.docCodes[d]!) / 2),
    ),
  );
  // Screened pursuit: 8k = 24 of 48 atoms, decoded and ranked by dot product against the reconstructed documents.
  const screened = pursueLatents(f.weights, f.queries, QUERIES, K, { candidates: 8 * K });
  const decoded = (q: number) =>
    Array.from(
      { length: D },
      (_, i) => f.weights.b_dec[i]! + dot(dense(screened, q), f.weights.W_dec.subarray(i * N, (i + 1) * N)),
    );
  expectRule(
    'reconstructed-pursuit-screened',
    Array.from({ length: QUERIES }, (_, q) => {
      const x = decoded(q);
      return rank((d) => dot(x, f.reconstructions.documentsHat.subarray(d * D, (d + 1) * D)));
    }),
  );
  const screenedRun = byName.get('reconstructed-pursuit-screened')!;
  assert.equal(screenedRun.against, 'reconstructed-pursuit');
  assert.ok(screenedRun.queryNmse! > 0, 'the screened queries carry their NMSE');
  assert.ok(
    runs.filter((r) => r.name !== 'reconstructed-pursuit-screened').every((r) => r.against === 'sparse'),
  );
});

test('the screened rule is measured only where 8k atoms are fewer than the SAE has', () => {
  const f = fixture();
  const wide = { ...f.weights };
  const runs = measureAlternatives(f.dataset, wide, 6, {
    ...f.reconstructions,
    documentLatents: sparse(f.docCodes, 6),
    queryLatents: sparse(f.queryCodes, 6),
  });
  assert.ok(!runs.some((r) => r.name === 'reconstructed-pursuit-screened'), '8 × 6 = 48 atoms: no screen');
});

test('vectors of another dataset are refused, naming the fix', () => {
  const f = fixture();
  assert.throws(
    () =>
      measureAlternatives(f.dataset, f.weights, K, {
        ...f.reconstructions,
        queries: f.queries.subarray(0, (QUERIES - 1) * D),
      }),
    /expected the 40 documents and 6 queries of toy as 8-d vectors and their 3-sparse codes; pass the evaluation's own vectors/,
  );
});

/** An evaluation whose rows have the given per-query reciprocal ranks and overlap. */
function evaluation(rr: Partial<Record<EvalMethod, number[]>>, overlap: number): EvalResult {
  const methods = ['original', 'sparse', 'reconstructed-pursuit'] as const;
  const point = (v: number) => ({ value: v, low: v, high: v });
  const rows = methods.map((method): EvalRow => ({
    method,
    k: 32,
    mse: 0,
    mrr10: 0,
    p10: 0,
    r10: 0,
    ndcg10: 0,
    mrr10Ci: point(0),
    ndcg10Ci: point(0),
    retention: point(0),
    overlap10: method === 'original' ? 1 : overlap,
    perQuery: { mrr10: rr[method]!, ndcg10: rr[method]! },
    perQueryOverlap: [],
  }));
  return { rows } as unknown as EvalResult;
}

test('a rule is better or worse only where the paired interval against the adopted rule excludes 0', () => {
  const n = 40;
  const constant = (v: number) => Array.from({ length: n }, () => v);
  const alternating = (a: number, b: number) => Array.from({ length: n }, (_, i) => (i % 2 ? a : b));
  const run = (
    name: string,
    mrr10: number[],
    overlap10: number,
    against: AlternativeRun['against'] = 'sparse',
  ): AlternativeRun => ({
    name,
    rule: `rule ${name}`,
    against,
    mrr10,
    overlap10,
    ...(against === 'reconstructed-pursuit' ? { queryNmse: 0.31 } : {}),
  });
  const cell: AlternativeCell = {
    dataset: 'toy',
    k: 32,
    entries: [0, 1].map((seed) => ({
      result: evaluation(
        { original: constant(0.5), sparse: constant(0.4), 'reconstructed-pursuit': constant(0.45) },
        0.4 + 0.02 * seed,
      ),
      headroom: { nmse: { documents: 0.05, queries: 0.5, queriesPursuit: 0.29 }, shares: [] },
      alternatives: [
        run('higher', constant(0.45), 0.5),
        run('lower', constant(0.3), 0.3),
        run('noisy', alternating(0.8, 0.0), 0.45),
        run('screened', constant(0.45), 0.8, 'reconstructed-pursuit'),
      ],
    })),
  };
  const summaries = summarizeAlternatives([cell]);
  assert.deepEqual(
    summaries.map((s) => [s.name, s.verdict, Number(s.retention.value.toFixed(6))]),
    [
      ['higher', 'better', 0.9],
      ['lower', 'worse', 0.6],
      ['noisy', 'within noise', 0.8],
      ['screened', 'within noise', 0.9],
    ],
  );
  const higher = summaries[0]!;
  assert.ok(
    Math.abs(higher.overlapGain - (0.5 - 0.41)) < 1e-12,
    'overlap gain: mean over seeds of the differences',
  );
  assert.deepEqual(summaries[3]!.queryNmse, { rule: 0.31, adopted: 0.29 });

  const lines = renderAlternatives([cell], METHOD_LABELS).join('\n');
  assert.match(lines, /## Tried and not adopted/);
  assert.match(
    lines,
    /\| toy \| 32 \| `higher` \| sparse \(Steer's rule: cosine\) \| 50\.0% ± 0\.0 \| \+9\.0 \| 90\.0% \[90\.0, 90\.0\] \| \+0\.0500 \[\+0\.0500, \+0\.0500\] \| better \| — \|/,
  );
  assert.match(lines, /\| `lower` .*\| −0\.1000 \[−0\.1000, −0\.1000\] \| worse \|/);
  assert.match(lines, /\| `screened` .*\| within noise \| 0\.310 \/ 0\.290 \|/);
  assert.match(lines, /- `noisy`: rule noisy\./);
  const unmeasured: AlternativeCell = {
    ...cell,
    entries: cell.entries.map(({ alternatives: _a, ...e }) => e),
  };
  assert.deepEqual(
    renderAlternatives([unmeasured], METHOD_LABELS),
    [],
    'no section when no SAE measured them',
  );
});
