import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classificationMetrics } from '../src/metrics.js';

describe('classificationMetrics', () => {
  it('counts top-1, top-5, per-class accuracy and the confusion matrix', () => {
    // 4 samples, 6 classes.
    const scores = new Float32Array([
      9,
      1,
      0,
      0,
      0,
      0, // true 0, predicted 0
      0,
      1,
      9,
      0,
      0,
      0, // true 1, predicted 2, rank 1
      0,
      6,
      5,
      4,
      3,
      2, // true 5, predicted 1, rank 4 -> in top 5
      1,
      2,
      3,
      4,
      5,
      6, // true 0, predicted 5, rank 5 -> outside top 5
    ]);
    const m = classificationMetrics({ scores, numClasses: 6 }, [0, 1, 5, 0]);
    expect(m.top1).toBe(0.25);
    expect(m.top5).toBe(0.75);
    expect(m.numSamples).toBe(4);
    expect(m.perClass).toEqual([0.5, 0, null, null, null, 0]);
    expect(m.confusion[0]).toEqual([1, 0, 0, 0, 0, 1]);
    expect(m.confusion[1]).toEqual([0, 0, 1, 0, 0, 0]);
    expect(m.confusion[5]).toEqual([0, 1, 0, 0, 0, 0]);
  });

  it('breaks ties the same way for top-1 and the confusion diagonal', () => {
    const m = classificationMetrics({ scores: new Float32Array([1, 1, 1, 1, 1, 1]), numClasses: 3 }, [0, 2]);
    expect(m.top1).toBe(0.5); // argmax picks class 0
    expect(m.confusion[0][0] + m.confusion[2][2]).toBe(1);
  });

  it('agrees with its own confusion matrix and bounds top-1 <= top-5 on random inputs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 30 }), fc.integer(), (C, N, seed) => {
        let s = seed >>> 0;
        const rnd = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
        const scores = Float32Array.from({ length: N * C }, () => Math.floor(rnd() * 4));
        const labels = Array.from({ length: N }, () => Math.floor(rnd() * C));
        const m = classificationMetrics({ scores, numClasses: C }, labels);
        const diag = m.confusion.reduce((a, row, i) => a + row[i], 0);
        expect(m.top1).toBeCloseTo(diag / N, 12);
        expect(m.top1).toBeLessThanOrEqual(m.top5);
        if (C <= 5) expect(m.top5).toBe(1);
        expect(m.confusion.flat().reduce((a, b) => a + b, 0)).toBe(N);
      }),
    );
  });

  it('rejects labels outside the classes and mismatched lengths', () => {
    expect(() => classificationMetrics({ scores: new Float32Array(4), numClasses: 2 }, [0, 2])).toThrow(/label 2 of sample 1/);
    expect(() => classificationMetrics({ scores: new Float32Array(4), numClasses: 2 }, [0])).toThrow(/1 entries but scores hold 2/);
    expect(() => classificationMetrics({ scores: new Float32Array(5), numClasses: 2 }, [0, 1])).toThrow(/not a multiple/);
  });
});
