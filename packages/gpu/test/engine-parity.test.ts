// The whole engine against the tfjs model (the reference) on the same weights, batch and prefix lengths: the loss and
// every parameter's gradient. (Whole AdamW steps against @aim/train's: packages/train/test/engine-step.test.ts.)
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it, beforeAll } from 'vitest';
import { type AimModel, createAim, selectBackend } from '@aim/model';
import { type ActivationMode, AimEngine } from '../src/index.js';
import { gpuUnavailable, testDevice } from './device.js';
import { randomArray, relError } from '../src/harness.js';

beforeAll(async () => {
  await selectBackend('cpu');
});

/** The model with every parameter perturbed, so zero biases and unit norms do not hide a wrong term. */
function perturbedModel(variant: string, seed: number): AimModel {
  const model = createAim(variant, {}, { seed });
  model.parameters().forEach((p, i) => {
    const v = p.variable.dataSync() as Float32Array;
    const noise = randomArray(v.length, seed * 1000 + i + 1);
    p.variable.assign(
      tf.tensor(
        v.map((x, j) => x + 0.05 * noise[j]),
        p.variable.shape,
      ),
    );
  });
  return model;
}

const values = (model: AimModel): Map<string, Float32Array> => new Map(model.parameters().map((p) => [p.name, p.variable.dataSync().slice() as Float32Array]));

function batchOf(model: AimModel, size: number, seed: number) {
  const k = (model.config.imageSize / model.config.patchSize) ** 2;
  const pd = model.config.patchSize ** 2 * 3;
  return { patches: randomArray(size * k * pd, seed), batchSize: size, numPatches: k, patchDim: pd };
}

describe.skipIf(gpuUnavailable !== undefined).each([
  { variant: 'aim-dev-nano', activations: 'recompute' },
  { variant: 'aim-dev-nano', activations: 'keep' },
  { variant: 'aim-dev-tiny', activations: 'recompute' },
  { variant: 'aim-dev-tiny', activations: 'selective' },
] as const)('engine vs tfjs: $variant (activations $activations)', ({ variant, activations }) => {
  it('loss and every gradient within 1e-4, prefix lengths 1 and K-1 included', async () => {
    const model = perturbedModel(variant, 3);
    const batch = batchOf(model, 3, 11);
    const k = batch.numPatches;
    const prefix = Int32Array.from([1, k - 1, Math.floor(k / 2)]);
    const x = tf.tensor3d(batch.patches, [3, k, batch.patchDim]);
    const vars = model.parameters().map((p) => p.variable);
    const { value, grads } = tf.variableGrads(() => model.pretrainLoss(x, prefix), vars);
    const engine = await AimEngine.create(await testDevice(), model.config, { batch: 4, activations });
    try {
      engine.setParameters(values(model));
      const stats = await engine.step([{ patches: batch.patches, prefixLengths: prefix }], {
        lr: 0,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weightDecay: 0,
        clipNorm: 0,
      });
      expect(relError([stats.loss], [value.dataSync()[0]])).toBeLessThan(1e-4);
      const got = await engine.readGradients();
      for (const p of model.parameters()) {
        const want = grads[p.variable.name].dataSync();
        expect.soft(relError(got.get(p.name)!, want), p.name).toBeLessThan(1e-4);
      }
    } finally {
      await engine.destroy();
      x.dispose();
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
      model.dispose();
    }
  });
});

describe.skipIf(gpuUnavailable !== undefined)('what the backward keeps changes no result', () => {
  it("'selective' and 'recompute' give the loss and every gradient of 'keep', bit for bit", async () => {
    const model = perturbedModel('aim-dev-nano', 5);
    const batch = batchOf(model, 3, 13);
    const prefix = Int32Array.from([1, batch.numPatches - 1, 5]);
    const hyper = { lr: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, clipNorm: 0 };
    const run = async (activations: ActivationMode) => {
      const engine = await AimEngine.create(await testDevice(), model.config, { batch: 3, activations });
      try {
        engine.setParameters(values(model));
        const { loss } = await engine.step([{ patches: batch.patches, prefixLengths: prefix }], hyper);
        return { loss, grads: await engine.readGradients() };
      } finally {
        await engine.destroy();
      }
    };
    try {
      const keep = await run('keep');
      for (const mode of ['selective', 'recompute'] as const) {
        const other = await run(mode);
        expect(other.loss, mode).toBe(keep.loss);
        for (const [name, g] of keep.grads) expect.soft(Buffer.from(other.grads.get(name)!.buffer).equals(Buffer.from(g.buffer)), `${mode} ${name}`).toBe(true);
      }
    } finally {
      model.dispose();
    }
  });
});
