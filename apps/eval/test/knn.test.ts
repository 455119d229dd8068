import { describe, expect, it } from 'vitest';
import { knnScores } from '../src/knn.js';

describe('knnScores', () => {
  it('weights each of the k nearest neighbours by exp(cos / T)', () => {
    const train = {
      features: new Float32Array([1, 0, 0, 1, 1, 1, -1, 0]), // 4 samples, dim 2
      dim: 2,
      labels: Int32Array.from([0, 1, 1, 2]),
    };
    const query = { features: new Float32Array([2, 0]), dim: 2, labels: Int32Array.from([0]) };
    const T = 0.5;
    const s = knnScores(train, query, 3, { k: 3, temperature: T });
    // Nearest three by cosine: [1,0] (1), [1,1] (0.7071), [0,1] (0); [-1,0] (-1) is left out.
    expect(s[0]).toBeCloseTo(Math.exp(1 / T), 4);
    expect(s[1]).toBeCloseTo(Math.exp(Math.SQRT1_2 / T) + Math.exp(0 / T), 4);
    expect(s[2]).toBe(0);
  });

  it('classifies well-separated clusters and ignores feature scale', () => {
    const dim = 8;
    const centres = [0, 1, 2].map((c) => Float32Array.from({ length: dim }, (_, d) => (d % 3 === c ? 1 : 0)));
    const make = (n: number, scale: number) => {
      const features = new Float32Array(n * dim);
      const labels = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        labels[i] = i % 3;
        for (let d = 0; d < dim; d++) features[i * dim + d] = scale * (centres[i % 3][d] + 0.1 * Math.sin(i * 7 + d));
      }
      return { features, dim, labels };
    };
    const train = make(60, 1);
    const test = make(30, 100);
    const s = knnScores(train, test, 3);
    for (let i = 0; i < 30; i++) {
      const row = Array.from(s.subarray(i * 3, i * 3 + 3));
      expect(row.indexOf(Math.max(...row))).toBe(test.labels[i]);
    }
  });

  it('rejects mismatched dims and out-of-range labels', () => {
    const a = { features: new Float32Array(4), dim: 2, labels: Int32Array.from([0, 1]) };
    const b = { features: new Float32Array(3), dim: 3, labels: Int32Array.from([0]) };
    expect(() => knnScores(a, b, 2)).toThrow(/dim 2, query features 3/);
    expect(() => knnScores(a, a, 1)).toThrow(/train label 1 is outside/);
  });
});
