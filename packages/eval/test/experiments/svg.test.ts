// The hand-written SVG charts parse as XML and carry the plotted series.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChartSvg, lineChartSvg } from '../../src/experiments/svg.js';
import { allElements, parseXml } from './helpers.js';

test('the line chart is well-formed XML with one polyline per series and the plotted points', () => {
  const svg = lineChartSvg({
    title: 'a <b> & "c"',
    xLabel: 'w',
    yLabel: 'MRR@10',
    xLog: true,
    series: [
      {
        name: 'query side',
        points: [
          [0.0004, 0.1],
          [0.0008, 0.2],
          [1.6384, 0.5],
        ],
      },
      {
        name: 'doc & side',
        points: [
          [0.0004, 0.1],
          [1.6384, 0.3],
        ],
        dashed: true,
      },
    ],
  });
  const root = parseXml(svg);
  assert.equal(root.name, 'svg');
  const lines = allElements(root).filter((e) => e.attributes.class === 'series');
  assert.deepEqual(
    lines.map((e) => e.attributes['data-name']),
    ['query side', 'doc & side'],
  );
  assert.equal(lines[0]!.attributes['data-points'], '0.0004:0.1 0.0008:0.2 1.6384:0.5');
  assert.equal(lines[0]!.attributes.points!.split(' ').length, 3);
  assert.ok(allElements(root).some((e) => e.name === 'text' && e.text === 'a <b> & "c"'));
});

test('a log-scale line chart refuses x <= 0', () => {
  assert.throws(
    () =>
      lineChartSvg({
        title: '',
        xLabel: '',
        yLabel: '',
        xLog: true,
        series: [{ name: 'a', points: [[0, 1]] }],
      }),
    RangeError,
  );
});

test('the bar chart has one bar per series and category with its value', () => {
  const svg = barChartSvg({
    title: 'KL',
    yLabel: 'MRR@10',
    categories: ['K=128 sparse', 'K=128 reconstructed'],
    series: [
      { name: 'with KL', values: [0.5, 0.6] },
      { name: 'without KL', values: [0.4, 0.55] },
    ],
  });
  const bars = allElements(parseXml(svg)).filter((e) => e.attributes.class === 'bar');
  assert.equal(bars.length, 4);
  const without = bars.find(
    (b) =>
      b.attributes['data-series'] === 'without KL' && b.attributes['data-category'] === 'K=128 reconstructed',
  );
  assert.equal(Number(without!.attributes['data-value']), 0.55);
  // Taller value, taller bar.
  const height = (s: string, c: string) =>
    Number(
      bars.find((b) => b.attributes['data-series'] === s && b.attributes['data-category'] === c)!.attributes
        .height,
    );
  assert.ok(height('with KL', 'K=128 reconstructed') > height('with KL', 'K=128 sparse'));
});

test('a bar category with a line break gets two label lines and a one-line data attribute', () => {
  const svg = barChartSvg({
    title: 't',
    yLabel: 'y',
    categories: ['msmarco\nK=128 sparse'],
    series: [{ name: 's', values: [0.5] }],
  });
  const root = parseXml(svg);
  assert.equal(
    allElements(root).find((e) => e.attributes.class === 'bar')!.attributes['data-category'],
    'msmarco K=128 sparse',
  );
  const texts = allElements(root)
    .filter((e) => e.name === 'text')
    .map((e) => e.text);
  assert.ok(texts.includes('msmarco') && texts.includes('K=128 sparse'));
});

test('the XML checker itself rejects malformed documents', () => {
  assert.throws(() => parseXml('<svg><g></svg>'));
  assert.throws(() => parseXml('<svg a="1" a="2"/>'));
  assert.throws(() => parseXml('<svg>a & b</svg>'));
});
