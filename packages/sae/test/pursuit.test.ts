// Tests of query coding by pursuit over the decoder: planted codes recovered exactly, the refit checked against the
// optimality (KKT) conditions of non-negative least squares in float64, the latents layout, the runtime method and
// bad input.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { mulberry32 } from '@steer/core';
import { loadSae, pursueLatents, SaeError, writeSae } from '../src/index.js';
import { PURSUIT_EXACT_ATOMS, pursuitCandidates } from '../src/pursuit.js';
import { randomVectors, randomWeights, referenceDecode } from '../test-support/reference.js';

/** A decoder of `n` random unit columns in `d` dimensions (W_dec [d, n] row-major) with a small random b_dec. */
function unitDecoder(d: number, n: number, seed: number) {
  const uniform = mulberry32(seed);
  const W_dec = new Float32Array(d * n);
  for (let j = 0; j < n; j++) {
    let norm = 0;
    const column = Array.from({ length: d }, () => uniform() - 0.5);
    for (const v of column) norm += v * v;
    column.forEach((v, i) => (W_dec[i * n + j] = v / Math.sqrt(norm)));
  }
  const b_dec = Float32Array.from({ length: d }, () => (uniform() - 0.5) * 0.2);
  return { W_dec, b_dec, dModel: d, nLatents: n };
}

/** Column j of W_dec in float64. */
function column(
  decoder: { W_dec: ArrayLike<number>; dModel: number; nLatents: number },
  j: number,
): number[] {
  return Array.from({ length: decoder.dModel }, (_, i) => decoder.W_dec[i * decoder.nLatents + j]!);
}

/**
 * Plants `rows` codes of k random atoms (weights 0.5-1.5) in `decoder`, pursues their decodings and checks that each
 * row comes back exactly: the planted atoms, strongest first, and their weights.
 */
function expectRecovered(
  decoder: ReturnType<typeof unitDecoder>,
  k: number,
  rows: number,
  seed: number,
): void {
  const { dModel: d, nLatents: n } = decoder;
  const uniform = mulberry32(seed);
  const x = new Float32Array(rows * d);
  const planted: Array<Map<number, number>> = [];
  for (let row = 0; row < rows; row++) {
    const code = new Map<number, number>();
    while (code.size < k) code.set(Math.floor(uniform() * n), 0.5 + uniform());
    planted.push(code);
    for (let i = 0; i < d; i++) {
      let sum = decoder.b_dec[i]!;
      for (const [j, c] of code) sum += c * decoder.W_dec[i * n + j]!;
      x[row * d + i] = sum;
    }
  }
  const latents = pursueLatents(decoder, x, rows, k);
  assert.equal(latents.batch, rows);
  assert.equal(latents.k, k);
  for (let row = 0; row < rows; row++) {
    const expected = [...planted[row]!].sort((a, b) => b[1] - a[1]);
    assert.deepEqual(
      [...latents.indices.subarray(row * k, (row + 1) * k)],
      expected.map(([j]) => j),
      `row ${row}: the planted atoms, strongest first`,
    );
    expected.forEach(([, c], t) =>
      assert.ok(Math.abs(latents.values[row * k + t]! - c) < 1e-4, `row ${row} weight ${t}`),
    );
  }
}

describe('pursueLatents', () => {
  it('recovers planted non-negative codes exactly: the atoms and their weights', () => {
    expectRecovered(unitDecoder(64, 128, 7), 4, 20, 8);
  });

  it('returns the non-negative least-squares fit on its atoms (KKT conditions in float64) and beats the encoder', async () => {
    const d = 24;
    const n = 96;
    const k = 8;
    const weights = randomWeights(d, n, 5);
    const decoder = { W_dec: weights.W_dec, b_dec: weights.b_dec, dModel: d, nLatents: n };
    const rows = 6;
    const x = randomVectors(rows, d, 13);
    const latents = pursueLatents(decoder, x, rows, k);
    const root = await mkdtemp(join(tmpdir(), 'steer-pursuit-test-'));
    try {
      await writeSae(join(root, 'sae'), weights, {
        k,
        embedding: { model: 'tiny-model', dims: d, normalized: false },
      });
      const sae = await loadSae(join(root, 'sae'));
      try {
        const encoded = await sae.encode(x, rows);
        assert.deepEqual(await sae.encodePursuit(x, rows), latents, 'the runtime method is the function');
        for (let row = 0; row < rows; row++) {
          const target = Array.from(x.subarray(row * d, (row + 1) * d), (v, i) => v - weights.b_dec[i]!);
          const code = new Map<number, number>();
          for (let t = 0; t < k; t++) code.set(latents.indices[row * k + t]!, latents.values[row * k + t]!);
          assert.equal(code.size, k, `row ${row}: k distinct features`);
          const decoded = referenceDecode(weights, code);
          const residual = target.map((v, i) => v + weights.b_dec[i]! - decoded[i]!);
          let scale = 0;
          for (const j of code.keys()) scale = Math.max(scale, Math.abs(dot(column(decoder, j), target)));
          for (const [j, c] of code) {
            const gradient = dot(column(decoder, j), residual);
            assert.ok(c >= 0, `row ${row}: feature ${j} is non-negative`);
            if (c > 0)
              assert.ok(
                Math.abs(gradient) < 1e-4 * scale,
                `row ${row}: feature ${j} at its optimum (${gradient})`,
              );
            else
              assert.ok(
                gradient < 1e-4 * scale,
                `row ${row}: feature ${j} at 0 could not grow (${gradient})`,
              );
          }
          for (let t = 1; t < k; t++) {
            assert.ok(latents.values[row * k + t]! <= latents.values[row * k + t - 1]!, `row ${row} sorted`);
          }
          const encoderCode = new Map<number, number>();
          for (let t = 0; t < k; t++)
            encoderCode.set(encoded.indices[row * k + t]!, encoded.values[row * k + t]!);
          const error = (h: Map<number, number>): number =>
            referenceDecode(weights, h).reduce((sum, v, i) => sum + (v - x[row * d + i]!) ** 2, 0);
          assert.ok(
            error(code) < error(encoderCode),
            `row ${row}: pursuit error ${error(code)} below the (random) encoder's ${error(encoderCode)}`,
          );
        }
      } finally {
        await sae.dispose();
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('stops when no atom is aligned with the remainder and pads the row with zeros on unused features', () => {
    const decoder = unitDecoder(8, 16, 3);
    // The vector is b_dec itself: nothing is left to explain.
    const latents = pursueLatents(decoder, decoder.b_dec.slice(), 1, 3);
    assert.deepEqual([...latents.values], [0, 0, 0]);
    assert.deepEqual([...latents.indices], [0, 1, 2]);
  });

  it('is exact up to 4,096 atoms and screens a larger SAE to max(8k, 4,096) candidates', () => {
    assert.equal(pursuitCandidates(2048, 128), 2048);
    assert.equal(pursuitCandidates(PURSUIT_EXACT_ATOMS, 1), PURSUIT_EXACT_ATOMS);
    assert.equal(pursuitCandidates(196_608, 128), 4096);
    assert.equal(pursuitCandidates(196_608, 1024), 8192);
    assert.equal(pursuitCandidates(5000, 1000), 5000, 'never more than the SAE has');
  });

  it('over a screened SAE, equals exact pursuit over the atoms best aligned with x - b_dec', () => {
    const d = 12;
    const n = 6000;
    const k = 6;
    const decoder = unitDecoder(d, n, 21);
    const candidates = pursuitCandidates(n, k);
    assert.ok(candidates < n, 'this SAE is screened');
    const x = randomVectors(4, d, 22);
    expectScreened(decoder, x, k, candidates, pursueLatents(decoder, x, 4, k));
  });

  it('screens a small SAE to the candidates it is given, and pursues exactly when given all its atoms', () => {
    const d = 10;
    const n = 300;
    const k = 4;
    const decoder = unitDecoder(d, n, 41);
    const x = randomVectors(5, d, 42);
    expectScreened(decoder, x, k, 32, pursueLatents(decoder, x, 5, k, { candidates: 32 }));
    assert.deepEqual(pursueLatents(decoder, x, 5, k, { candidates: n }), pursueLatents(decoder, x, 5, k));
    for (const bad of [k - 1, n + 1, 2.5]) {
      assert.throws(
        () => pursueLatents(decoder, x, 5, k, { candidates: bad }),
        (error: unknown) =>
          error instanceof SaeError &&
          error.code === 'invalid_input' &&
          error.message.includes(`between k = ${k} and the SAE's ${n} candidate atoms; got ${bad}`),
      );
    }
  });

  it('recovers planted codes exactly through the screen', () => {
    expectRecovered(unitDecoder(48, 8192, 31), 5, 3, 32);
  });

  it('rejects a wrong-sized input, a non-finite value and a k outside 1..nLatents, naming the fix', () => {
    const decoder = unitDecoder(8, 16, 3);
    const invalid = (pattern: RegExp) => (error: unknown) =>
      error instanceof SaeError && error.code === 'invalid_input' && pattern.test(error.message);
    assert.throws(
      () => pursueLatents(decoder, new Float32Array(7), 1, 2),
      invalid(/expects 1 × 8; pass \[batch, 8\]/),
    );
    const nan = new Float32Array(8);
    nan[3] = Number.NaN;
    assert.throws(() => pursueLatents(decoder, nan, 1, 2), invalid(/row 0 has value NaN at dimension 3/));
    assert.throws(
      () => pursueLatents(decoder, new Float32Array(8), 1, 0),
      invalid(/between 1 and the SAE's 16 latents; got 0/),
    );
    assert.throws(() => pursueLatents(decoder, new Float32Array(8), 1, 17), invalid(/got 17/));
  });
});

function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** Checks `latents` against exact pursuit of each row over the `candidates` atoms best aligned with x - b_dec. */
function expectScreened(
  decoder: ReturnType<typeof unitDecoder>,
  x: Float32Array,
  k: number,
  candidates: number,
  latents: ReturnType<typeof pursueLatents>,
): void {
  const { dModel: d, nLatents: n } = decoder;
  for (let row = 0; row < latents.batch; row++) {
    // The screen, computed independently: atoms ranked by alignment with x - b_dec (unit columns here).
    const target = Array.from(x.subarray(row * d, (row + 1) * d), (v, i) => v - decoder.b_dec[i]!);
    const kept = Array.from({ length: n }, (_, j) => j)
      .sort((a, b) => dot(column(decoder, b), target) - dot(column(decoder, a), target) || a - b)
      .slice(0, candidates)
      .sort((a, b) => a - b);
    const sub = {
      W_dec: new Float32Array(d * candidates),
      b_dec: decoder.b_dec,
      dModel: d,
      nLatents: candidates,
    };
    kept.forEach((j, c) => column(decoder, j).forEach((v, i) => (sub.W_dec[i * candidates + c] = v)));
    const exact = pursueLatents(sub, x.subarray(row * d, (row + 1) * d), 1, k);
    assert.deepEqual(
      [...latents.indices.subarray(row * k, (row + 1) * k)],
      [...exact.indices].map((c) => kept[c]!),
      `row ${row}: the same atoms`,
    );
    assert.deepEqual([...latents.values.subarray(row * k, (row + 1) * k)], [...exact.values], `row ${row}`);
  }
}
