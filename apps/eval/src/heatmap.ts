// SVG heatmap of a confusion matrix: rows are true classes, columns predictions, shade = row-normalised rate.
import { escapeXml } from '@aim/base/svg';

export interface HeatmapOptions {
  readonly title?: string;
  /** Class names for the axes; indices when absent. */
  readonly classNames?: readonly string[];
  /** Side of one cell in pixels. */
  readonly cell?: number;
}

/**
 * Renders confusion[t][p] (counts) as an SVG document. Each row is normalised by its total so that classes
 * of different sizes read alike; every cell also prints its count.
 */
export function confusionHeatmapSvg(confusion: readonly (readonly number[])[], opts: HeatmapOptions = {}): string {
  const C = confusion.length;
  if (C === 0) throw new Error('confusion matrix is empty');
  for (const row of confusion) {
    if (row.length !== C) throw new Error(`confusion matrix must be square: a row has ${row.length} entries, expected ${C}`);
  }
  const names = opts.classNames ?? confusion.map((_, i) => String(i));
  if (names.length !== C) throw new Error(`${names.length} class names for ${C} classes`);
  const cell = opts.cell ?? Math.max(14, Math.min(40, Math.floor(480 / C)));
  const left = 70;
  const top = 50;
  const size = cell * C;
  const width = left + size + 20;
  const height = top + size + 50;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(opts.title ?? 'Confusion matrix (row-normalised)')}</text>`,
  ];
  const fontSize = Math.max(7, Math.min(12, cell / 3));
  for (let t = 0; t < C; t++) {
    const total = confusion[t].reduce((a, b) => a + b, 0);
    for (let p = 0; p < C; p++) {
      const count = confusion[t][p];
      const rate = total === 0 ? 0 : count / total;
      // White -> dark blue; text flips to white on dark cells.
      const shade = Math.round(255 * (1 - rate));
      const fill = `rgb(${shade},${Math.round(shade * 0.9 + 25 * (1 - rate))},255)`;
      const x = left + p * cell;
      const y = top + t * cell;
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ddd"><title>true ${escapeXml(names[t])}, predicted ${escapeXml(names[p])}: ${count}</title></rect>`,
      );
      if (cell >= 18 && count > 0) {
        parts.push(
          `<text x="${x + cell / 2}" y="${y + cell / 2 + fontSize / 3}" text-anchor="middle" font-size="${fontSize}" fill="${rate > 0.5 ? 'white' : 'black'}">${count}</text>`,
        );
      }
    }
    parts.push(`<text x="${left - 6}" y="${top + t * cell + cell / 2 + 4}" text-anchor="end" font-size="11">${escapeXml(names[t])}</text>`);
  }
  for (let p = 0; p < C; p++) {
    parts.push(`<text x="${left + p * cell + cell / 2}" y="${top + size + 15}" text-anchor="middle" font-size="11">${escapeXml(names[p])}</text>`);
  }
  parts.push(`<text x="${left + size / 2}" y="${top + size + 38}" text-anchor="middle" font-size="12">predicted class</text>`);
  parts.push(`<text x="14" y="${top + size / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${top + size / 2})">true class</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
