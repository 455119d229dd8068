// Global-norm clipping (torch semantics) and derived seeds.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { AdamW, clipScale, deriveSeed, globalNorm, trainPrefixSeed, validationPrefixSeed } from '../src/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('global-norm clipping', () => {
  it('scales all gradients together to the max norm when above it (applied through AdamW gradScale)', () => {
    const grads = [tf.tensor1d([3, 0]), tf.tensor2d([[0, 4]])];
    const norm = globalNorm(grads);
    expect(norm).toBeCloseTo(5, 6);
    const scale = clipScale(norm, 1.0);
    expect(scale * norm).toBeCloseTo(1, 5);
    expect(clipScale(0.5, 1.0)).toBe(1);
    expect(clipScale(5, 0)).toBe(1); // 0 = off
    expect(clipScale(NaN, 1)).toBe(1);
    grads.forEach((t) => t.dispose());
  });

  it('AdamW with gradScale equals AdamW on pre-scaled gradients', () => {
    const run = (scaleInside: boolean): number[] => {
      const w = tf.variable(tf.tensor1d([0.5, -1, 2]), true);
      const opt = new AdamW([{ name: 'w', variable: w, decay: true }]);
      for (const g of [
        [1, 2, 3],
        [-3, 0.5, 1],
      ]) {
        const t = tf.tensor1d(scaleInside ? g : g.map((x) => x * 0.25));
        opt.apply(new Map([['w', t]]), 1e-2, scaleInside ? 0.25 : 1);
        t.dispose();
      }
      const out = Array.from(w.dataSync());
      opt.dispose();
      w.dispose();
      return out;
    };
    const [a, b] = [run(true), run(false)];
    a.forEach((x, i) => expect(x).toBeCloseTo(b[i], 7));
  });
});

describe('deriveSeed', () => {
  it('is deterministic and separates steps, micro-batches, run seeds and streams', () => {
    expect(trainPrefixSeed(1, 5, 0)).toBe(trainPrefixSeed(1, 5, 0));
    const seeds = new Set<number>();
    for (let run = 0; run < 4; run++)
      for (let step = 0; step < 200; step++) for (let micro = 0; micro < 4; micro++) seeds.add(trainPrefixSeed(run, step, micro));
    expect(seeds.size).toBe(4 * 200 * 4);
    expect(validationPrefixSeed(0)).not.toBe(trainPrefixSeed(0, 0, 0));
    expect(deriveSeed(2 ** 40)).not.toBe(deriveSeed(0));
    expect(() => deriveSeed(0.5)).toThrow(/safe integers/);
  });
});
