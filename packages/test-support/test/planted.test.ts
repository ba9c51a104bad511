import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalize, plantedWeights } from '@steer/test-support';

test('planted features sit along their directions, extra ones along seeded unit directions', () => {
  const a = normalize(Float32Array.from([3, 4, 0]));
  assert.deepEqual(
    [...a].map((x) => Math.round(x * 1e6) / 1e6),
    [0.6, 0.8, 0],
  );
  const options = { seed: 3, bias: (_j: number, _n: number, planted: boolean) => (planted ? 0 : -0.3) };
  const w = plantedWeights([a], 3, 2, options);
  assert.equal(w.nLatents, 3);
  assert.deepEqual([...w.W_enc.subarray(0, 3)], [...a]);
  assert.deepEqual([w.W_dec[0], w.W_dec[3], w.W_dec[6]], [a[0], a[1], a[2]]);
  assert.deepEqual(
    [...w.b_enc].map((x) => Math.round(x * 10) / 10),
    [0, -0.3, -0.3],
  );
  for (let j = 1; j < 3; j++) {
    const row = w.W_enc.subarray(j * 3, j * 3 + 3);
    assert.ok(Math.abs(Math.hypot(...row) - 1) < 1e-6);
  }
  assert.deepEqual(plantedWeights([a], 3, 2, options), w, 'the same seed gives the same SAE');
});
