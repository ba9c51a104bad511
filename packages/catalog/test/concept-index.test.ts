import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConceptIndex, topIndices } from '../src/concept-index.js';
import { normalize, plantedWeights, seeded } from './helpers/planted.js';

test('topIndices returns exactly the largest values, ties and all', () => {
  const random = seeded(1);
  for (const [n, count] of [
    [10, 3],
    [5000, 64],
    [20000, 1024],
    [300, 300],
  ] as const) {
    const scores = Float32Array.from({ length: n }, () => Math.round(random() * 50));
    const picked = [...topIndices(scores, count)];
    assert.equal(picked.length, Math.min(n, count));
    assert.equal(new Set(picked).size, picked.length);
    const expected = Array.from(scores).sort((a, b) => b - a);
    const got = picked.map((i) => scores[i]!).sort((a, b) => b - a);
    assert.deepEqual(got, expected.slice(0, count));
  }
});

test('the int8 scan plus rescoring matches a float64 reference on the candidates', async () => {
  const dims = 32;
  const random = seeded(9);
  const directions = Array.from({ length: 6 }, () =>
    normalize(Float32Array.from({ length: dims }, () => random() - 0.5)),
  );
  const weights = plantedWeights(directions, dims, 58, 4);
  // Untie encoder and decoder and add biases so that both parts of the score matter.
  for (let i = 0; i < weights.W_dec.length; i++)
    weights.W_dec[i] = weights.W_dec[i]! * 0.5 + (random() - 0.5) * 0.2;
  for (let i = 0; i < weights.b_dec.length; i++) weights.b_dec[i] = (random() - 0.5) * 0.1;
  const index = await ConceptIndex.build(weights, 4, { candidates: 16 });
  try {
    const x = normalize(Float32Array.from(directions[2]!, (v) => v + (random() - 0.5) * 0.3));
    const scores = await index.score(x);
    assert.equal(scores.features.length, 16);
    const n = weights.nLatents;
    const pre = (j: number): number => {
      let s = weights.b_enc[j]!;
      for (let i = 0; i < dims; i++) s += weights.W_enc[j * dims + i]! * (x[i]! - weights.b_dec[i]!);
      return s;
    };
    const cosine = (j: number): number => {
      let dot = 0;
      let norm = 0;
      for (let i = 0; i < dims; i++) {
        dot += weights.W_dec[i * n + j]! * x[i]!;
        norm += weights.W_dec[i * n + j]! ** 2;
      }
      return dot / Math.sqrt(norm);
    };
    for (let c = 0; c < scores.features.length; c++) {
      const j = scores.features[c]!;
      assert.ok(Math.abs(scores.cosine[c]! - cosine(j)) < 0.02, `cosine of ${j}`);
      if (scores.activation[c]! > 0)
        assert.ok(Math.abs(scores.activation[c]! - pre(j)) < 0.02, `activation of ${j}`);
    }
    // The planted feature closest to x is a candidate and the strongest activation.
    const best = scores.features[scores.activation.indexOf(Math.max(...scores.activation))];
    assert.equal(best, 2);
    const exactTop = Array.from({ length: n }, (_, j) => j)
      .sort((a, b) => pre(b) - pre(a))
      .slice(0, 4)
      .filter((j) => pre(j) > 0);
    const active = new Set([...scores.features].filter((_, c) => scores.activation[c]! > 0));
    assert.ok(exactTop.filter((j) => active.has(j)).length >= 3, `exact top ${exactTop} vs ${[...active]}`);
  } finally {
    await index.dispose();
  }
});
