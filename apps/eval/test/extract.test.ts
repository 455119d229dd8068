// extractBlockMeans: one trunk pass gives every block set's mean, batch by batch, equal to the blocks' own outputs.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { createAim, numPatches, patchDim, selectBackend } from '@aim/model';
import { extractBlockMeans } from '../src/extract.js';

beforeAll(async () => {
  await selectBackend('cpu');
});

describe('extractBlockMeans', () => {
  it('gives each set the mean of its blocks, summed in the set order, in batches with a remainder', async () => {
    const model = createAim('aim-dev-nano', {}, { seed: 4, pretrainHead: false });
    try {
      const [n, tokens, pd] = [5, numPatches(model.config), patchDim(model.config)];
      const patches = Float32Array.from({ length: n * tokens * pd }, (_, i) => Math.sin(i * 0.113));
      const data = { patches, n, tokens, patchDim: pd, labels: new Int32Array(n) };
      // Batches of 2: 2 + 2 + 1 samples.
      const [b1, b0, mean, reversed] = await extractBlockMeans(model, data, [[1], [0], [0, 1], [1, 0]], 2);
      // Each block's output as the model gives it for all samples at once.
      const whole = tf.tidy(() => model.extractFeatures(tf.tensor3d(patches, [n, tokens, pd]), { blocks: [0, 1] }));
      const [w0, w1] = await Promise.all(whole.map(async (t) => (await t.data()) as Float32Array));
      for (const t of whole) t.dispose();
      expect(b0.data).toHaveLength(n * tokens * model.config.width);
      expect(Math.max(...b0.data.map((v, i) => Math.abs(v - w0[i])))).toBeLessThan(1e-6);
      expect(Math.max(...b1.data.map((v, i) => Math.abs(v - w1[i])))).toBeLessThan(1e-6);
      // The mean of a set, exactly as float32 arithmetic sums and scales it, in the set's own order.
      expect(mean.data).toEqual(b0.data.map((v, i) => Math.fround(Math.fround(v + b1.data[i]) * 0.5)));
      expect(reversed.data).toEqual(b1.data.map((v, i) => Math.fround(Math.fround(v + b0.data[i]) * 0.5)));
      expect({ ...mean, data: null }).toEqual({ data: null, n, tokens, dim: model.config.width });
    } finally {
      model.dispose();
    }
  });

  it('refuses an empty block set', async () => {
    const model = createAim('aim-dev-nano', {}, { seed: 4, pretrainHead: false });
    try {
      const data = {
        patches: new Float32Array(numPatches(model.config) * patchDim(model.config)),
        n: 1,
        tokens: numPatches(model.config),
        patchDim: patchDim(model.config),
        labels: new Int32Array(1),
      };
      await expect(extractBlockMeans(model, data, [[0], []])).rejects.toThrow(/an empty block set/);
    } finally {
      model.dispose();
    }
  });
});
