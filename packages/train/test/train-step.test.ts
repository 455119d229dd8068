// The optimiser step on a real (nano) AIM model: exact accumulation, NaN guard, no leaks, fixed validation prefixes.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createAim, samplePrefixLengths, selectBackend, type AimModel } from '@aim/model';
import { AdamW, NonFiniteLossError, trainPrefixSeed, trainStep, validationLoss, type PatchBatchLike, type PrefixSampler } from '../src/index.js';

beforeAll(async () => {
  await selectBackend('cpu');
});

const VARIANT = 'aim-dev-nano'; // 16 px, patch 4: K = 16, patch vector 48

function batch(size: number, seed: number, fill?: number): PatchBatchLike {
  const K = 16;
  const P = 48;
  const patches = new Float32Array(size * K * P);
  let s = seed;
  for (let i = 0; i < patches.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    patches[i] = fill ?? s / 2 ** 31 - 1;
  }
  return { patches, batchSize: size, numPatches: K, patchDim: P };
}

function slice(b: PatchBatchLike, from: number, to: number): PatchBatchLike {
  const per = b.numPatches * b.patchDim;
  return { ...b, patches: b.patches.slice(from * per, to * per), batchSize: to - from };
}

const weights = (m: AimModel): Float32Array[] => m.parameters().map((p) => p.variable.dataSync().slice() as Float32Array);

describe('trainStep', () => {
  it('accumulating 2 micro-batches of 4 gives the same update and loss as one batch of 8', () => {
    const full = batch(8, 1);
    // Prefix lengths chosen so the two halves have different numbers of weighted positions.
    const prefixes = Int32Array.from([1, 2, 3, 4, 12, 13, 14, 15]);
    const sampler =
      (micro: 'one' | 'two'): PrefixSampler =>
      (_b, _K, seed) => {
        if (micro === 'one') return prefixes;
        return seed === trainPrefixSeed(0, 0, 0) ? prefixes.slice(0, 4) : prefixes.slice(4, 8);
      };
    const run = (mode: 'one' | 'two') => {
      const model = createAim(VARIANT, {}, { seed: 3 });
      const opt = new AdamW(model.parameters());
      const micro = mode === 'one' ? [full] : [slice(full, 0, 4), slice(full, 4, 8)];
      const r = trainStep({ model, optimizer: opt, samplePrefixLengths: sampler(mode), runSeed: 0, clipNorm: 1.0 }, 0, micro, 1e-3);
      const w = weights(model);
      opt.dispose();
      model.dispose();
      return { r, w };
    };
    const one = run('one');
    const two = run('two');
    expect(two.r.loss).toBeCloseTo(one.r.loss, 5);
    expect(two.r.gradNorm).toBeCloseTo(one.r.gradNorm, 4);
    expect(two.r.images).toBe(8);
    one.w.forEach((w, i) => {
      const maxDiff = w.reduce((m, x, j) => Math.max(m, Math.abs(x - two.w[i][j])), 0);
      expect(maxDiff).toBeLessThan(2e-6);
    });
  });

  it('a NaN loss stops with an error naming the step and leaves the weights untouched', () => {
    const model = createAim(VARIANT, {}, { seed: 1 });
    const opt = new AdamW(model.parameters());
    const before = weights(model);
    expect(() => trainStep({ model, optimizer: opt, samplePrefixLengths, runSeed: 0, clipNorm: 1 }, 41, [batch(2, 1, NaN)], 1e-3)).toThrow(NonFiniteLossError);
    expect(() => trainStep({ model, optimizer: opt, samplePrefixLengths, runSeed: 0, clipNorm: 1 }, 41, [batch(2, 1, NaN)], 1e-3)).toThrow(
      /loss is NaN at step 42/,
    );
    expect(weights(model)).toEqual(before);
    expect(opt.updateCount).toBe(0);
    opt.dispose();
    model.dispose();
  });

  it('lowers the loss on a fixed batch and does not leak tensors', () => {
    const model = createAim(VARIANT, {}, { seed: 2 });
    const opt = new AdamW(model.parameters());
    const options = { model, optimizer: opt, samplePrefixLengths: () => Int32Array.from([4, 4]), runSeed: 0, clipNorm: 1 };
    const b = batch(2, 9);
    const first = trainStep(options, 0, [b], 1e-3);
    const tensors = tf.memory().numTensors;
    let last = first;
    for (let s = 1; s < 8; s++) last = trainStep(options, s, [b], 1e-3);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(last.loss).toBeLessThan(first.loss);
    opt.dispose();
    model.dispose();
  });
});

describe('validationLoss', () => {
  it('is deterministic (fixed prefixes) and weights batches by their target positions', async () => {
    const model = createAim(VARIANT, {}, { seed: 4 });
    const batches = [batch(3, 5), batch(2, 6)];
    async function* gen() {
      yield* batches;
    }
    const a = await validationLoss(model, samplePrefixLengths, gen(), 10);
    const b = await validationLoss(model, samplePrefixLengths, gen(), 10);
    expect(a).toEqual(b);
    expect(a.images).toBe(5);
    const onlyFirst = await validationLoss(model, samplePrefixLengths, gen(), 1);
    expect(onlyFirst.images).toBe(3);
    expect(onlyFirst.loss).not.toBe(a.loss);
    await expect(validationLoss(model, samplePrefixLengths, (async function* () {})(), 1)).rejects.toThrow(/no batches/);
    model.dispose();
  });
});
