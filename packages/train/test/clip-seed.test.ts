// Global-norm clipping (torch semantics) and derived seeds.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { clipByGlobalNorm, deriveSeed, trainPrefixSeed, validationPrefixSeed } from '../src/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('clipByGlobalNorm', () => {
  it('scales all gradients together to the max norm when above it', () => {
    const grads = new Map<string, tf.Tensor>([
      ['a', tf.tensor1d([3, 0])],
      ['b', tf.tensor2d([[0, 4]])],
    ]);
    const { grads: out, norm } = clipByGlobalNorm(grads, 1.0);
    expect(norm).toBeCloseTo(5, 6);
    const a = out.get('a')!.dataSync();
    const b = out.get('b')!.dataSync();
    expect(Math.hypot(...a, ...b)).toBeCloseTo(1, 5);
    expect(a[0] / b[1]).toBeCloseTo(0.75, 6);
    out.forEach((t) => t.dispose());
    grads.forEach((t) => t.dispose());
  });

  it('leaves gradients below the max norm unchanged', () => {
    const grads = new Map<string, tf.Tensor>([['a', tf.tensor1d([0.3, 0.4])]]);
    const { grads: out, norm } = clipByGlobalNorm(grads, 1.0);
    expect(norm).toBeCloseTo(0.5, 6);
    expect(Array.from(out.get('a')!.dataSync())).toEqual(Array.from(grads.get('a')!.dataSync()));
    out.forEach((t) => t.dispose());
    grads.forEach((t) => t.dispose());
  });
});

describe('deriveSeed', () => {
  it('is deterministic and separates steps, micro-batches, run seeds and streams', () => {
    expect(trainPrefixSeed(1, 5, 0)).toBe(trainPrefixSeed(1, 5, 0));
    const seeds = new Set<number>();
    for (let run = 0; run < 4; run++) for (let step = 0; step < 200; step++) for (let micro = 0; micro < 4; micro++) seeds.add(trainPrefixSeed(run, step, micro));
    expect(seeds.size).toBe(4 * 200 * 4);
    expect(validationPrefixSeed(0)).not.toBe(trainPrefixSeed(0, 0, 0));
    expect(deriveSeed(2 ** 40)).not.toBe(deriveSeed(0));
    expect(() => deriveSeed(0.5)).toThrow(/safe integers/);
  });
});
