// Hand-written SVG charts for the experiment reports: grouped bars (Figure 2) and line curves over a log-scale
// x axis (Figure 4). Each series carries `class` and `data-*` attributes so tests can read the plotted values back.

/** Bars: one group per category, one bar per series in each group. */
export interface BarChart {
  title: string;
  yLabel: string;
  categories: readonly string[];
  /**
   * values[i] belongs to categories[i]; a category may hold '\\n' to break its label in two lines. `intervals[i]`,
   * when given, is drawn as a whisker over the bar (e.g. a 95% confidence interval).
   */
  series: ReadonlyArray<{
    name: string;
    values: readonly number[];
    intervals?: ReadonlyArray<readonly [number, number]>;
  }>;
  width?: number;
  height?: number;
}

/** Curves: each series is a list of (x, y) points; x must be > 0 when `xLog` is set. */
export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog: boolean;
  series: ReadonlyArray<{ name: string; points: ReadonlyArray<readonly [number, number]>; dashed?: boolean }>;
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
// NOTE: the legend sits in the right margin, outside the plot, so it never hides a curve or a bar.
const MARGIN = { left: 72, right: 230, top: 48, bottom: 72 };

/** Escapes text for SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A "nice" upper bound for a linear axis starting at 0, and its tick step. */
function niceScale(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step - 1e-9) * step, step };
}

function frame(width: number, height: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`,
  ];
}

function yAxis(
  parts: string[],
  top: number,
  step: number,
  plotW: number,
  plotH: number,
  label: string,
): (v: number) => number {
  const sy = (value: number): number => MARGIN.top + (1 - value / top) * plotH;
  parts.push('<g class="y-ticks" font-size="11">');
  for (let v = 0; v <= top + step / 2; v += step) {
    const y = sy(v).toFixed(1);
    parts.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#eee"/>`);
    parts.push(
      `<text x="${MARGIN.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${Number(v.toFixed(6))}</text>`,
    );
  }
  parts.push('</g>');
  parts.push(
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${MARGIN.left + plotW}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
    `<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(label)}</text>`,
  );
  return sy;
}

function legend(parts: string[], names: readonly string[], x: number, dashed: readonly boolean[] = []): void {
  parts.push('<g class="legend">');
  names.forEach((name, i) => {
    const y = MARGIN.top + 10 + i * 18;
    const dash = dashed[i] ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="3"${dash}/>`,
    );
    parts.push(`<text x="${x + 30}" y="${y}" dominant-baseline="middle">${escapeXml(name)}</text>`);
  });
  parts.push('</g>');
}

/** Draws a grouped bar chart with value labels and returns the SVG document. */
export function barChartSvg(chart: BarChart): string {
  const width = chart.width ?? 900;
  const height = chart.height ?? 420;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const max = Math.max(
    0,
    ...chart.series.flatMap((s) => [...s.values, ...(s.intervals ?? []).map(([, high]) => high)]),
  );
  const { top, step } = niceScale(max * 1.1);
  const parts = frame(width, height, chart.title);
  const sy = yAxis(parts, top, step, plotW, plotH, chart.yLabel);
  const groupW = plotW / Math.max(1, chart.categories.length);
  const barW = (groupW * 0.7) / Math.max(1, chart.series.length);
  chart.categories.forEach((category, c) => {
    const gx = MARGIN.left + c * groupW + groupW * 0.15;
    chart.series.forEach((series, s) => {
      const value = series.values[c] ?? 0;
      const x = gx + s * barW;
      const y = sy(value);
      parts.push(
        `<rect class="bar" data-series="${escapeXml(series.name)}" data-category="${escapeXml(category.replace(/\n/g, ' '))}" data-value="${value}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(MARGIN.top + plotH - y).toFixed(1)}" fill="${PALETTE[s % PALETTE.length]}"/>`,
        `<text x="${(x + barW / 2).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle" font-size="10">${value.toFixed(3)}</text>`,
      );
      const interval = series.intervals?.[c];
      if (interval) {
        const cx = (x + barW / 2 - 1).toFixed(1);
        const [low, high] = [sy(interval[0]), sy(interval[1])];
        parts.push(
          `<path class="interval" data-series="${escapeXml(series.name)}" data-category="${escapeXml(category.replace(/\n/g, ' '))}" data-low="${interval[0]}" data-high="${interval[1]}" d="M${cx},${low.toFixed(1)}V${high.toFixed(1)}M${(Number(cx) - 4).toFixed(1)},${low.toFixed(1)}h8M${(Number(cx) - 4).toFixed(1)},${high.toFixed(1)}h8" stroke="#333" fill="none"/>`,
        );
      }
    });
    // A category label may hold '\n' for a second line.
    const labelLines = category.split('\n');
    labelLines.forEach((line, l) =>
      parts.push(
        `<text x="${(gx + groupW * 0.35).toFixed(1)}" y="${MARGIN.top + plotH + 18 + l * 14}" text-anchor="middle">${escapeXml(line)}</text>`,
      ),
    );
  });
  legend(
    parts,
    chart.series.map((s) => s.name),
    MARGIN.left + plotW + 16,
  );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/**
 * Draws curves with markers (x on a log10 scale when `xLog`) and returns the SVG document.
 * @throws RangeError when a log-scale x is not positive or no series has a point.
 */
export function lineChartSvg(chart: LineChart): string {
  const width = chart.width ?? 900;
  const height = chart.height ?? 440;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const xs = chart.series.flatMap((s) => s.points.map(([x]) => x));
  if (xs.length === 0) throw new RangeError('plot: no series has a point to draw');
  if (chart.xLog && xs.some((x) => !(x > 0))) throw new RangeError('plot: a log-scale x axis needs x > 0');
  const tx = (x: number): number => (chart.xLog ? Math.log10(x) : x);
  let x0 = Math.min(...xs.map(tx));
  let x1 = Math.max(...xs.map(tx));
  if (chart.xLog) {
    x0 = Math.floor(x0);
    x1 = Math.ceil(x1);
  }
  if (x1 === x0) x1 = x0 + 1;
  const sx = (x: number): number => MARGIN.left + ((tx(x) - x0) / (x1 - x0)) * plotW;
  const max = Math.max(0, ...chart.series.flatMap((s) => s.points.map(([, y]) => y)));
  const { top, step } = niceScale(max * 1.05);
  const parts = frame(width, height, chart.title);
  const sy = yAxis(parts, top, step, plotW, plotH, chart.yLabel);
  parts.push('<g class="x-ticks" font-size="11">');
  const ticks = chart.xLog
    ? Array.from({ length: x1 - x0 + 1 }, (_, i) => 10 ** (x0 + i))
    : Array.from({ length: 6 }, (_, i) => x0 + ((x1 - x0) * i) / 5);
  for (const t of ticks) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`);
    const label = chart.xLog ? `1e${Math.round(Math.log10(t))}` : Number(t.toPrecision(3)).toString();
    parts.push(`<text x="${x}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${label}</text>`);
  }
  parts.push('</g>');
  parts.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 24}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
  );
  chart.series.forEach((series, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const points = series.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<polyline class="series" data-name="${escapeXml(series.name)}" data-points="${series.points.map(([x, y]) => `${x}:${y}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2"${dash} points="${points}"/>`,
    );
    for (const [x, y] of series.points) {
      parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${color}"/>`);
    }
  });
  legend(
    parts,
    chart.series.map((s) => s.name),
    MARGIN.left + plotW + 16,
    chart.series.map((s) => s.dashed === true),
  );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
