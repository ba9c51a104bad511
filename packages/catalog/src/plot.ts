// Rank-frequency plots as hand-written SVG (log-log axes, decade ticks, legend), and the head / torso / tail
// examples of the feature-frequency distribution (the paper's Figure 3 and Table 5).
import type { FeatureStats } from './stats.js';

/** One curve: values are frequencies sorted from the most frequent (rank 1) down; zeros are dropped. */
export interface RankSeries {
  name: string;
  values: readonly number[];
  color?: string;
}

/** Options of {@link rankFrequencySvg}. */
export interface PlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function formatTick(value: number): string {
  if (value >= 1 && value < 1e5) return String(Math.round(value));
  return `1e${Math.round(Math.log10(value))}`;
}

/** Points of a series on log axes, thinned to about 400 log-spaced ranks. */
function thin(values: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let lastLog = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const rank = i + 1;
    if (!(values[i]! > 0)) break;
    const log = Math.log10(rank);
    if (log - lastLog >= 0.01 || i === values.length - 1 || !(values[i + 1]! > 0)) {
      out.push([rank, values[i]!]);
      lastLog = log;
    }
  }
  return out;
}

/**
 * Draws rank (x) against frequency (y) for each series on log-log axes and returns the SVG document.
 * Throws RangeError when no series has a positive value.
 */
export function rankFrequencySvg(series: readonly RankSeries[], options: PlotOptions = {}): string {
  const width = options.width ?? 720;
  const height = options.height ?? 480;
  const margin = { left: 80, right: 24, top: 48, bottom: 64 };
  const points = series.map((s) => thin(s.values));
  const all = points.flat();
  if (all.length === 0) throw new RangeError('plot: no series has a positive value to draw');
  const xMax = Math.max(...all.map(([r]) => r));
  const yMin = Math.min(...all.map(([, v]) => v));
  const yMax = Math.max(...all.map(([, v]) => v));
  const x0 = 0;
  const x1 = Math.max(1, Math.ceil(Math.log10(xMax)));
  const y0 = Math.floor(Math.log10(yMin));
  const y1 = Math.max(y0 + 1, Math.ceil(Math.log10(yMax)));
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const sx = (rank: number): number => margin.left + ((Math.log10(rank) - x0) / (x1 - x0)) * plotW;
  const sy = (value: number): number => margin.top + (1 - (Math.log10(value) - y0) / (y1 - y0)) * plotH;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  if (options.title) {
    parts.push(
      `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`,
    );
  }
  parts.push(`<g class="axes" stroke="#333" fill="none">`);
  parts.push(
    `<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${margin.left + plotW}" y2="${margin.top + plotH}"/>`,
  );
  parts.push(`<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotH}"/>`);
  parts.push('</g>');
  parts.push('<g class="ticks" font-size="11">');
  for (let e = x0; e <= x1; e++) {
    const x = sx(10 ** e).toFixed(1);
    parts.push(
      `<line x1="${x}" y1="${margin.top + plotH}" x2="${x}" y2="${margin.top + plotH + 5}" stroke="#333"/>`,
    );
    parts.push(`<line x1="${x}" y1="${margin.top}" x2="${x}" y2="${margin.top + plotH}" stroke="#eee"/>`);
    parts.push(
      `<text x="${x}" y="${margin.top + plotH + 18}" text-anchor="middle">${formatTick(10 ** e)}</text>`,
    );
  }
  for (let e = y0; e <= y1; e++) {
    const y = sy(10 ** e).toFixed(1);
    parts.push(`<line x1="${margin.left - 5}" y1="${y}" x2="${margin.left}" y2="${y}" stroke="#333"/>`);
    parts.push(`<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}" stroke="#eee"/>`);
    parts.push(
      `<text x="${margin.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(10 ** e)}</text>`,
    );
  }
  parts.push('</g>');
  parts.push(
    `<text x="${margin.left + plotW / 2}" y="${height - 20}" text-anchor="middle">${escapeXml(options.xLabel ?? 'rank (log scale)')}</text>`,
  );
  parts.push(
    `<text transform="translate(20 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel ?? 'frequency (log scale)')}</text>`,
  );
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const path = points[i]!.map(([r, v]) => `${sx(r).toFixed(1)},${sy(v).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline class="series" data-name="${escapeXml(s.name)}" fill="none" stroke="${color}" stroke-width="2" points="${path}"/>`,
    );
  });
  parts.push('<g class="legend">');
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const y = margin.top + 12 + i * 18;
    const x = margin.left + plotW - 200;
    parts.push(`<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${x + 30}" y="${y}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  parts.push('</g>');
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Feature frequencies (fraction of documents) of the live features, most frequent first. */
export function featureFrequencies(stats: FeatureStats): number[] {
  return Array.from(stats.frequency)
    .filter((f) => f > 0)
    .sort((a, b) => b - a);
}

/** Feature ids at the head (most frequent), torso (around the median rank) and tail (rarest) of the live features. */
export function frequencyBuckets(
  stats: FeatureStats,
  perBucket = 3,
): { head: number[]; torso: number[]; tail: number[] } {
  const alive = Array.from({ length: stats.nLatents }, (_, id) => id)
    .filter((id) => stats.count[id]! > 0)
    .sort((a, b) => stats.count[b]! - stats.count[a]! || a - b);
  // Disjoint buckets when there are enough live features; with fewer than 3 * perBucket, thirds.
  const size = Math.min(perBucket, Math.floor(alive.length / 3)) || Math.min(perBucket, alive.length);
  const middle = Math.max(0, Math.floor((alive.length - size) / 2));
  return {
    head: alive.slice(0, size),
    torso: alive.length >= 3 ? alive.slice(middle, middle + size) : [],
    tail: alive.length >= 2 ? alive.slice(alive.length - size) : [],
  };
}
