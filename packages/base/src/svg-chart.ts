// A small dependency-free SVG line chart (loss curves, probe accuracies): pure function from series to markup.

export interface ChartSeries {
  readonly name: string;
  /** [x, y] points; non-finite values are skipped. */
  readonly points: ReadonlyArray<readonly [number, number]>;
  /** CSS colour; a palette colour when absent. */
  readonly color?: string;
  /** Draw a marker on every point (useful for sparse series such as validation). */
  readonly markers?: boolean;
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
  readonly width?: number;
  readonly height?: number;
  /** Logarithmic y axis (all y must be > 0; others are skipped). */
  readonly logY?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/** Text safe inside SVG/XML elements and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** Round "nice" tick values covering [lo, hi] (1, 2, 5 x 10^k steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  // Accept a step a little under the ideal so short ranges still get several ticks.
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * 0.75) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

const formatTick = (v: number): string => {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
};

/**
 * The usable points of a series, thinned to what a `plotWidth`-pixel-wide plot can show. Up to 4 points per pixel
 * column are drawn as given; beyond that each run of consecutive points in one column keeps its first, lowest,
 * highest and last point (in their original order), so the line's envelope and its joins to the neighbouring columns
 * are exactly those of the full series while the markup stays O(plotWidth) for any number of points.
 */
export function envelope(
  points: ReadonlyArray<readonly [number, number]>,
  usable: (x: number, y: number) => boolean,
  column: (x: number) => number,
  plotWidth: number,
): Array<readonly [number, number]> {
  let count = 0;
  for (const [x, y] of points) if (usable(x, y)) count++;
  if (count <= 4 * Math.max(1, plotWidth)) return points.filter(([x, y]) => usable(x, y));
  const out: Array<readonly [number, number]> = [];
  // Indices into `points` of the current column's first, lowest, highest and last point; first < 0: no column yet.
  let [col, first, lo, hi, last] = [NaN, -1, -1, -1, -1];
  const flush = (): void => {
    if (first < 0) return;
    for (const i of [...new Set([first, lo, hi, last])].sort((a, b) => a - b)) out.push(points[i]);
  };
  for (let i = 0; i < points.length; i++) {
    const [x, y] = points[i];
    if (!usable(x, y)) continue;
    const c = column(x);
    if (first < 0 || c !== col) {
      flush();
      [col, first, lo, hi, last] = [c, i, i, i, i];
      continue;
    }
    last = i;
    if (y < points[lo][1]) lo = i;
    if (y > points[hi][1]) hi = i;
  }
  flush();
  return out;
}

/** Renders the series as a standalone SVG document (axes, ticks, grid, legend). */
export function lineChartSvg(options: LineChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  const margin = { left: 70, right: 20, top: 40, bottom: 55 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const ty = (y: number): number => (options.logY ? Math.log10(y) : y);
  const usable = (x: number, y: number): boolean => Number.isFinite(x) && Number.isFinite(y) && (!options.logY || y > 0);

  // Loops, not Math.min(...values): a spread of ~125k arguments overflows the stack, and runs log millions of steps.
  let [xMin, xMax, yMin, yMax] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const s of options.series) {
    for (const [x, y] of s.points) {
      if (!usable(x, y)) continue;
      const v = ty(y);
      if (x < xMin) xMin = x;
      if (x > xMax) xMax = x;
      if (v < yMin) yMin = v;
      if (v > yMax) yMax = v;
    }
  }
  if (xMin > xMax) [xMin, xMax, yMin, yMax] = [0, 1, 0, 1];
  if (xMax === xMin) [xMin, xMax] = [xMin - 1, xMax + 1];
  if (yMax === yMin) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  const pad = (yMax - yMin) * 0.05;
  [yMin, yMax] = [yMin - pad, yMax + pad];
  const px = (x: number): number => margin.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const py = (y: number): number => margin.top + plotH - ((ty(y) - yMin) / (yMax - yMin)) * plotH;
  const f = (n: number): string => n.toFixed(2);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${f(width / 2)}" y="22" text-anchor="middle" font-size="15">${escapeXml(options.title)}</text>`,
  );
  for (const t of niceTicks(xMin, xMax)) {
    const x = px(t);
    parts.push(
      `<line x1="${f(x)}" y1="${margin.top}" x2="${f(x)}" y2="${margin.top + plotH}" stroke="#eee"/>`,
      `<text x="${f(x)}" y="${margin.top + plotH + 16}" text-anchor="middle">${formatTick(t)}</text>`,
    );
  }
  for (const t of niceTicks(yMin, yMax)) {
    const y = margin.top + plotH - ((t - yMin) / (yMax - yMin)) * plotH;
    const label = options.logY ? formatTick(10 ** t) : formatTick(t);
    parts.push(
      `<line x1="${margin.left}" y1="${f(y)}" x2="${margin.left + plotW}" y2="${f(y)}" stroke="#eee"/>`,
      `<text x="${margin.left - 6}" y="${f(y + 4)}" text-anchor="end">${label}</text>`,
    );
  }
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${f(margin.left + plotW / 2)}" y="${height - 12}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(16 ${f(margin.top + plotH / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}${options.logY ? ' (log)' : ''}</text>`,
  );
  options.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = envelope(s.points, usable, (x) => Math.floor(px(x)), plotW);
    if (pts.length > 0) {
      const d = pts.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${f(px(x))} ${f(py(y))}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"><title>${escapeXml(s.name)}</title></path>`);
      if (s.markers) for (const [x, y] of pts) parts.push(`<circle cx="${f(px(x))}" cy="${f(py(y))}" r="3" fill="${color}"/>`);
    }
    const ly = margin.top + 14 + i * 16;
    const lx = margin.left + plotW - 150;
    parts.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 20}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${lx + 26}" y="${ly}">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
