import { describe, expect, it } from 'vitest';
import { confusionHeatmapSvg } from '../src/heatmap.js';

describe('confusionHeatmapSvg', () => {
  it('draws one cell per entry, shaded by the row-normalised rate', () => {
    const svg = confusionHeatmapSvg(
      [
        [3, 1],
        [0, 4],
      ],
      { classNames: ['cat', 'dog'] },
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<rect x=/g)).toHaveLength(4);
    expect(svg).toContain('true cat, predicted dog: 1');
    // A full row (rate 1) is the darkest shade, an empty cell white.
    expect(svg).toContain('fill="rgb(0,0,255)"');
    expect(svg).toContain('fill="rgb(255,255,255)"');
  });

  it('rejects a non-square matrix', () => {
    expect(() => confusionHeatmapSvg([[1, 2], [3]])).toThrow(/square/);
  });
});
