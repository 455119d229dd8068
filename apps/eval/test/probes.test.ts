import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@aim/model';
import { modelHeads } from '../src/heads.js';
import { recipeOf, runProbe, type LabeledFeatures, type ProbeSettings } from '../src/probes.js';
import { permutation } from '../src/train-probe.js';

const K = 4;
const D = 8;
const C = 3;

/** Class c puts a bump on channel c of one token (position varies); the rest is noise. */
function synthetic(n: number, seed: number): LabeledFeatures {
  const data = new Float32Array(n * K * D);
  const labels = new Int32Array(n);
  const order = permutation(n * K * D + n, seed);
  const noise = (i: number) => (order[i] / (n * K * D + n) - 0.5) * 0.6;
  for (let s = 0; s < n; s++) {
    const c = s % C;
    labels[s] = c;
    for (let j = 0; j < K * D; j++) data[s * K * D + j] = noise(s * K * D + j);
    const token = order[n * K * D + s] % K;
    data[(s * K + token) * D + c] += 3;
  }
  return { features: { data, n, tokens: K, dim: D }, labels };
}

const settings: ProbeSettings = {
  epochs: 12,
  batchSize: 32,
  lr: 3e-2,
  weightDecay: 0.01,
  warmupEpochs: 1,
  seed: 1,
  knnK: 10,
  knnTemperature: 0.07,
};

describe('runProbe', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it.each(['attentive', 'linear', 'knn'] as const)('%s probe separates synthetic classes without leaking tensors', async (kind) => {
    const train = synthetic(192, 1);
    const test = synthetic(60, 2);
    const before = tf.memory().numTensors;
    const { metrics, epochLosses } = await runProbe(kind, train, test, C, settings, modelHeads(2));
    expect(tf.memory().numTensors).toBe(before);
    expect(metrics.top1).toBeGreaterThan(0.9);
    expect(metrics.numSamples).toBe(60);
    if (kind === 'knn') expect(epochLosses).toEqual([]);
    else expect(epochLosses.at(-1)!).toBeLessThan(epochLosses[0]);
  });

  it('is reproducible for a seed', async () => {
    const train = synthetic(96, 3);
    const test = synthetic(30, 4);
    const a = await runProbe('attentive', train, test, C, { ...settings, epochs: 2 }, modelHeads(2));
    const b = await runProbe('attentive', train, test, C, { ...settings, epochs: 2 }, modelHeads(2));
    expect(a.epochLosses).toEqual(b.epochLosses);
  });

  it('rejects train and test features of different shapes', async () => {
    const train = synthetic(32, 1);
    const test = { features: { ...synthetic(8, 1).features, tokens: 2, dim: 16 }, labels: new Int32Array(8) };
    await expect(runProbe('linear', train, test, C, settings, modelHeads(2))).rejects.toThrow(/\[\*, 4, 8\] but test features \[\*, 2, 16\]/);
  });

  it('records the recipe a reader needs to rerun the probe', () => {
    expect(recipeOf('attentive', settings)).toMatchObject({ optimizer: 'AdamW', lr: 3e-2, epochs: 12, batchSize: 32 });
    expect(recipeOf('knn', settings)).toMatchObject({ k: 10, temperature: 0.07, similarity: 'cosine' });
  });
});
