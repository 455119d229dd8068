// The wasm BatchMatMul kernel (XNNPACK on views, explicit transposes) computes what the cpu backend computes.
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/index.js';

beforeAll(async () => {
  await selectBackend('cpu');
  await selectBackend('wasm');
});

async function on(backend: 'cpu' | 'wasm', f: () => tf.Tensor): Promise<{ shape: number[]; data: Float32Array }> {
  await tf.setBackend(backend);
  const t = f();
  const out = { shape: t.shape, data: (await t.data()) as Float32Array };
  t.dispose();
  return out;
}

function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.3 + i * 0.61) * 2);
}

describe('wasm BatchMatMul', () => {
  it('matches the cpu backend for batches, broadcasts and transpose flags', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batch: fc.constantFrom<number[]>([], [1], [3], [2, 3]),
          bBroadcast: fc.boolean(),
          m: fc.integer({ min: 1, max: 9 }),
          k: fc.integer({ min: 1, max: 9 }),
          p: fc.integer({ min: 1, max: 9 }),
          transposeA: fc.boolean(),
          transposeB: fc.boolean(),
        }),
        async ({ batch, bBroadcast, m, k, p, transposeA, transposeB }) => {
          const aShape = [...batch, ...(transposeA ? [k, m] : [m, k])];
          const bShape = [...(bBroadcast ? [] : batch), ...(transposeB ? [p, k] : [k, p])];
          const av = values(
            aShape.reduce((x, y) => x * y, 1),
            1,
          );
          const bv = values(
            bShape.reduce((x, y) => x * y, 1),
            2,
          );
          const f = () => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), transposeA, transposeB);
          const want = await on('cpu', f);
          const got = await on('wasm', f);
          expect(got.shape).toEqual(want.shape);
          for (let i = 0; i < want.data.length; i++) expect(Math.abs(got.data[i] - want.data[i])).toBeLessThan(1e-4);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('handles empty operands like the cpu backend', async () => {
    const f = () => tf.matMul(tf.zeros([2, 0, 3]), tf.zeros([2, 3, 4]));
    expect((await on('wasm', f)).shape).toEqual((await on('cpu', f)).shape);
  });

  it('does not leak tensors over repeated batched products', async () => {
    await tf.setBackend('wasm');
    const a = tf.randomNormal([12, 16, 8]);
    const b = tf.randomNormal([12, 16, 8]);
    const run = () => tf.tidy(() => tf.sum(tf.matMul(a, b, false, true)));
    const warm = run();
    await warm.data();
    warm.dispose();
    const before = tf.memory();
    for (let i = 0; i < 20; i++) {
      const s = run();
      await s.data();
      s.dispose();
    }
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    tf.dispose([a, b]);
  });
});
