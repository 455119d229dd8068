// SVG line chart: valid markup, every series drawn, labels escaped, non-finite points skipped, round ticks.
import { describe, expect, it } from 'vitest';
import { lineChartSvg, niceTicks } from '../src/svg-chart.js';

describe('lineChartSvg', () => {
  it('draws one path per series, a legend, escaped labels, and skips non-finite points', () => {
    const svg = lineChartSvg({
      title: 'loss <train & val>',
      xLabel: 'step',
      yLabel: 'loss',
      series: [
        {
          name: 'train',
          points: [
            [0, 1],
            [1, 0.5],
            [2, NaN],
            [3, 0.25],
          ],
        },
        {
          name: 'val',
          points: [
            [0, 0.9],
            [3, 0.3],
          ],
          markers: true,
        },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('loss &lt;train &amp; val&gt;');
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(2);
    const trainPath = /<path d="([^"]+)"/.exec(svg)![1];
    expect(trainPath.split(/[ML]/).filter(Boolean)).toHaveLength(3);
    expect(svg).not.toContain('NaN');
  });

  it('produces round ticks covering the range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.13, 0.97).every((t) => t >= 0.13 && t <= 0.97)).toBe(true);
  });
});
