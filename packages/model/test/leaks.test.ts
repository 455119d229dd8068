// Tensor memory is part of the contract: repeated calls leave tf.memory().numTensors unchanged, on every backend.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AimModel, AttentiveProbe, LinearProbe, createAim, numPatches, patchDim, samplePrefixLengths } from '../src/index.js';
import { backendsUnderTest, useBackend } from './backends.js';

const REPEATS = 3;

/** Runs `step` once to warm caches, then REPEATS more times; the tensor count must not move. */
async function expectNoLeak(step: () => Promise<void> | void): Promise<void> {
  await step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < REPEATS; i++) await step();
  expect(tf.memory().numTensors).toBe(before);
}

/** A plain SGD update through variableGrads, as a trainer does it (grads disposed after use). */
function sgdStep(lossFn: () => tf.Scalar, vars: tf.Variable[]): void {
  const { value, grads } = tf.variableGrads(lossFn, vars);
  tf.tidy(() => {
    for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], 1e-3)));
  });
  value.dispose();
  tf.dispose(grads);
}

for (const backend of backendsUnderTest) {
  describe(`no tensor leaks on ${backend.name}`, () => {
    let model: AimModel;
    let patches: tf.Tensor3D;
    let prefix: Int32Array;
    let images: tf.Tensor4D;

    beforeAll(async () => {
      await useBackend(backend.name);
      model = createAim('aim-dev-nano', {}, { seed: 1 });
      const c = model.config;
      patches = tf.randomNormal([2, numPatches(c), patchDim(c)], 0, 1, 'float32', 1) as tf.Tensor3D;
      images = tf.randomNormal([2, 3, c.imageSize, c.imageSize], 0, 1, 'float32', 2) as tf.Tensor4D;
      prefix = samplePrefixLengths(2, numPatches(c), 4);
    });

    afterAll(() => {
      model.dispose();
      tf.dispose([patches, images]);
    });

    it('patchify + pretraining forward', async () => {
      await expectNoLeak(async () => {
        const p = model.patchify(images);
        const pred = model.forwardPretrain(p, prefix);
        await pred.data();
        tf.dispose([p, pred]);
      });
    });

    it('loss', async () => {
      await expectNoLeak(async () => {
        const loss = model.pretrainLoss(patches, prefix);
        await loss.data();
        loss.dispose();
      });
    });

    it('a gradient step (variableGrads + apply)', async () => {
      const vars = model.parameters().map((p) => p.variable);
      await expectNoLeak(async () => {
        sgdStep(() => model.pretrainLoss(patches, prefix), vars);
        await vars[0].data();
      });
    });

    it('a gradient step with activation checkpointing (recomputeBlocks)', async () => {
      const twin = createAim('aim-dev-nano', {}, { seed: 1, recomputeBlocks: true });
      const vars = twin.parameters().map((p) => p.variable);
      await expectNoLeak(async () => {
        sgdStep(() => twin.pretrainLoss(patches, prefix), vars);
        await vars[0].data();
      });
      twin.dispose();
    });

    it('feature extraction, encode and probe features', async () => {
      await expectNoLeak(async () => {
        const feats = model.extractFeatures(patches, { blocks: [1, 0] });
        const enc = model.encode(patches);
        const mean = model.probeFeatures(patches, [0, 1]);
        await mean.data();
        tf.dispose([...feats, enc, mean]);
      });
    });

    it('attentive and linear probes: train forward, eval forward, gradient step', async () => {
      const c = model.config;
      const probes = [
        new AttentiveProbe({ width: c.width, heads: c.heads, numClasses: 5, seed: 1 }),
        new LinearProbe({ width: c.width, numClasses: 5, seed: 1 }),
      ];
      const features = model.probeFeatures(patches, [0, 1]);
      const labels = tf.oneHot(tf.tensor1d([1, 3], 'int32'), 5);
      for (const probe of probes) {
        const vars = probe.parameters().map((p) => p.variable);
        await expectNoLeak(async () => {
          const evalLogits = probe.forward(features, 'eval');
          await evalLogits.data();
          evalLogits.dispose();
          sgdStep(() => tf.losses.softmaxCrossEntropy(labels, probe.forward(features, 'train')) as tf.Scalar, vars);
          await vars[0].data();
        });
        probe.dispose();
      }
      tf.dispose([features, labels]);
    });

    it('creating and disposing a model releases everything', () => {
      const before = tf.memory().numTensors;
      createAim('aim-dev-nano', {}, { seed: 2 }).dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}
