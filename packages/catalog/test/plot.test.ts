import assert from 'node:assert/strict';
import { test } from 'node:test';
import { featureFrequencies, frequencyBuckets, rankFrequencySvg } from '../src/index.js';
import { computeFeatureStats } from '../src/stats.js';

test('rankFrequencySvg draws both series on log-log axes with ticks and a legend', () => {
  const features = Array.from({ length: 300 }, (_, i) => 0.5 / (i + 1));
  const terms = Array.from({ length: 3000 }, (_, i) => 0.9 / (i + 1) ** 1.1);
  const svg = rankFrequencySvg(
    [
      { name: 'SAE features', values: features },
      { name: 'bag-of-words terms', values: terms },
    ],
    { title: 'Rank vs frequency' },
  );
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  const polylines = [...svg.matchAll(/<polyline class="series" data-name="([^"]+)"[^>]* points="([^"]+)"/g)];
  assert.deepEqual(
    polylines.map((m) => m[1]),
    ['SAE features', 'bag-of-words terms'],
  );
  for (const m of polylines) {
    const points = m[2]!.split(' ').map((p) => p.split(',').map(Number));
    assert.ok(points.length > 10);
    for (const [x, y] of points)
      assert.ok(Number.isFinite(x) && Number.isFinite(y) && x! >= 80 && y! >= 48 && y! <= 480 - 64 + 0.01);
    // Frequencies fall with rank: y grows (downwards on screen).
    for (let i = 1; i < points.length; i++) assert.ok(points[i]![1]! >= points[i - 1]![1]! - 1e-9);
  }
  assert.ok(svg.includes('>1000<'), 'decade tick 1000 on the rank axis');
  assert.ok(svg.includes('>1e-4<'), 'decade tick on the frequency axis');
  assert.match(svg, /class="legend"/);
  // Every element is closed: a crude well-formedness check.
  const opened = (svg.match(/<(?!\/)[a-z]+[^>]*[^/]>/g) ?? []).length;
  const closed = (svg.match(/<\/[a-z]+>/g) ?? []).length;
  assert.equal(opened, closed);
  assert.throws(() => rankFrequencySvg([{ name: 'empty', values: [0] }]), /no series/);
});

test('frequencyBuckets picks head, torso and tail by activation frequency', () => {
  // 6 docs, k=2; feature f fires on (f + 1) docs... built as explicit codes.
  const rows: Array<[number, number]> = [
    [0, 1],
    [0, 2],
    [0, 3],
    [0, 4],
    [0, 1],
    [0, 2],
  ];
  const indices = Int32Array.from(rows.flat());
  const values = Float32Array.from(rows.flat().map(() => 1));
  const { stats } = computeFeatureStats({ indices, values, batch: 6, k: 2 }, 8, 3);
  assert.deepEqual(
    featureFrequencies(stats),
    [1, 2 / 6, 2 / 6, 1 / 6, 1 / 6].map((v) => Math.fround(v)),
  );
  const buckets = frequencyBuckets(stats, 1);
  assert.deepEqual(buckets.head, [0]);
  assert.deepEqual(buckets.tail, [4]);
  assert.equal(buckets.torso.length, 1);
});
