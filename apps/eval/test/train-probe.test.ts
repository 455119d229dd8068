import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { permutation, predictScores, trainProbe, type ProbeHead } from '../src/train-probe.js';
import { classificationMetrics } from '../src/metrics.js';

/** Plain softmax regression: the smallest head that exercises the loop. */
function softmaxRegression(dim: number, classes: number): ProbeHead {
  const w = tf.variable(tf.zeros([dim, classes]), true, `w${Math.random()}`);
  const b = tf.variable(tf.zeros([classes]), true, `b${Math.random()}`);
  return {
    parameters: () => [
      { name: 'w', variable: w, decay: true },
      { name: 'b', variable: b, decay: false },
    ],
    forward: (x) => tf.add(tf.matMul(x as tf.Tensor2D, w), b) as tf.Tensor2D,
    dispose: () => {
      w.dispose();
      b.dispose();
    },
  };
}

function blobs(n: number, seed: number) {
  const dim = 4;
  const x = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  const order = permutation(n, seed);
  for (let i = 0; i < n; i++) {
    const c = order[i] % 3;
    labels[i] = c;
    for (let d = 0; d < dim; d++) x[i * dim + d] = (d === c ? 2 : 0) + Math.sin(i * 13 + d * 7);
  }
  return { x, sampleShape: [dim], labels };
}

describe('trainProbe', () => {
  it('learns separable classes, lowers the loss, and does not leak tensors', async () => {
    tf.setBackend('cpu');
    const head = softmaxRegression(4, 3);
    const before = tf.memory().numTensors;
    const { epochLosses, steps } = await trainProbe(head, blobs(120, 1), 3, {
      epochs: 8,
      batchSize: 32,
      lr: 0.1,
      weightDecay: 0,
      warmupEpochs: 1,
      seed: 0,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(steps).toBe(8 * 3);
    expect(epochLosses.at(-1)!).toBeLessThan(epochLosses[0] * 0.7);
    const test = blobs(60, 2);
    const { scores, numClasses } = await predictScores(head, test, 16);
    expect(tf.memory().numTensors).toBe(before);
    expect(classificationMetrics({ scores, numClasses }, test.labels).top1).toBeGreaterThan(0.9);
    head.dispose();
  });

  it('rejects labels outside the classes and too few samples', async () => {
    const head = softmaxRegression(4, 3);
    const bad = { ...blobs(10, 1), labels: Int32Array.from({ length: 10 }, () => 5) };
    const recipe = { epochs: 1, batchSize: 4, lr: 0.1, weightDecay: 0, warmupEpochs: 0, seed: 0 };
    await expect(trainProbe(head, bad, 3, recipe)).rejects.toThrow(/label 5 is outside/);
    await expect(trainProbe(head, blobs(1, 1), 3, recipe)).rejects.toThrow(/at least 2 samples/);
    head.dispose();
  });
});

describe('permutation', () => {
  it('is a seeded permutation', () => {
    const p = permutation(50, 3);
    expect([...p].sort((a, b) => a - b)).toEqual([...Array(50).keys()]);
    expect(permutation(50, 3)).toEqual(p);
    expect(permutation(50, 4)).not.toEqual(p);
  });
});
