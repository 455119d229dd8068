// Loss scaling (AdamWHyper.gradScale): the backward runs on gradScale times the gradient and the update divides it
// out, so with f32 GEMMs a power-of-two scale changes nothing a user sees; a scale that overflows the gradients is
// caught by the non-finite gate. The data-parallel split refuses an update whose scale differs from its gradients'.
// Dynamic scaling (AdamWHyper.dynamicScale, PyTorch's GradScaler): overflowing steps are skipped and halve the scale,
// finite ones grow it, and AdamW's bias correction counts only the updates applied.
import { describe, expect, it } from 'vitest';
import { resolveAimConfig } from '@aim/model';
import { AimEngine, type MicroBatch } from '../src/index.js';
import { gpuUnavailable, testDevice } from './device.js';

const config = resolveAimConfig('aim-dev-nano');
const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-6, weightDecay: 0.05, clipNorm: 0.1 };
const micro = (seed: number): MicroBatch => ({
  patches: new Float32Array(2 * 16 * 48).map((_, i) => Math.sin(i * 0.37 + seed)),
  prefixLengths: Int32Array.from([1 + seed, 15 - seed]),
});

async function engine(): Promise<AimEngine> {
  const e = await AimEngine.create(await testDevice(), config, { batch: 2 });
  e.setParameters(
    new Map([...e.program.arena.slots.values()].map((s) => [s.spec.name, new Float32Array(s.size).map((_, i) => Math.cos(i * 0.1 + s.offset) * 0.2)])),
  );
  return e;
}

const bitwiseEqual = (a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean =>
  [...a].every(([name, v]) => Buffer.from(v.buffer).equals(Buffer.from(b.get(name)!.buffer)));

describe.skipIf(gpuUnavailable !== undefined)('loss scaling', () => {
  it('a power-of-two gradScale gives the same losses, norms and parameters, bit for bit, over two steps', async () => {
    const [plain, scaled] = [await engine(), await engine()];
    try {
      for (const seed of [1, 2]) {
        const a = await plain.step([micro(seed), micro(seed + 5)], hyper);
        const b = await scaled.step([micro(seed), micro(seed + 5)], { ...hyper, gradScale: 1024 });
        expect({ ...b, lossScale: 1 }).toEqual(a);
        expect(b.lossScale).toBe(1024);
        expect(a.gradNorm).toBeGreaterThan(hyper.clipNorm); // clipping was active
      }
      // The gradient arena holds the scaled gradients (exactly 1024 times, a power of two).
      const [g, gs] = [await plain.readGradients(), await scaled.readGradients()];
      for (const [name, v] of g)
        expect(
          Array.from(gs.get(name)!, (x) => x / 1024),
          name,
        ).toEqual(Array.from(v));
      expect(bitwiseEqual(await scaled.readParameters(), await plain.readParameters())).toBe(true);
    } finally {
      await plain.destroy();
      await scaled.destroy();
    }
  });

  it('a scale that overflows the gradients is non-finite: the update is gated and the weights stay', async () => {
    const e = await engine();
    try {
      const before = await e.readParameters();
      const stats = await e.step([micro(1)], { ...hyper, gradScale: 2 ** 127 });
      expect(stats.nonFinite).toBe(true);
      expect(Number.isFinite(stats.loss)).toBe(true); // the loss itself is not scaled
      expect(bitwiseEqual(await e.readParameters(), before)).toBe(true);
    } finally {
      await e.destroy();
    }
  });

  it('bad scales and a data-parallel update with another scale than its gradients are refused', async () => {
    const e = await engine();
    try {
      expect(() => e.step([micro(1)], { ...hyper, gradScale: 0 })).toThrow(/gradScale must be a positive finite number, got 0/);
      e.accumulateGradients([micro(1)], e.lossPositions(micro(1).prefixLengths), 256);
      await e.exchangeGradients(() => {});
      expect(() => e.applyUpdate(hyper)).toThrow(/applyUpdate\(\) with gradScale 1, but the gradients were accumulated with 256/);
      expect((await e.applyUpdate({ ...hyper, gradScale: 256 })).nonFinite).toBe(false);
    } finally {
      await e.destroy();
    }
  });
});

/** Per tensor, max |a - b| / max |b|, the worst over tensors. */
const worstRelative = (a: Map<string, Float32Array>, b: Map<string, Float32Array>): number =>
  Math.max(
    ...[...b].map(([name, w]) => {
      const v = a.get(name)!;
      const scale = Math.max(...Array.from(w, Math.abs), 1e-30);
      return Math.max(...Array.from(w, (x, i) => Math.abs(v[i] - x))) / scale;
    }),
  );

describe.skipIf(gpuUnavailable !== undefined)('dynamic loss scaling', () => {
  it('skips overflowing steps and halves the scale, then updates as the fixed scale it reached does as a first update', async () => {
    const [dynamic, fixed] = [await engine(), await engine()];
    try {
      const start = await dynamic.readParameters();
      // Far above what this model's gradients take in float32 (a few halvings).
      const dynamicScale = { initial: 2 ** 70, growthInterval: 1000 };
      let scale = 2 ** 70;
      let skipped = 0;
      let stats = await dynamic.step([micro(1)], { ...hyper, dynamicScale });
      while (stats.skipped) {
        skipped++;
        expect(stats.nonFinite).toBe(false);
        expect(stats.lossScale).toBe(scale / 2);
        scale = stats.lossScale;
        expect(bitwiseEqual(await dynamic.readParameters(), start)).toBe(true);
        expect(dynamic.updates).toBe(0);
        stats = await dynamic.step([micro(1)], { ...hyper, dynamicScale });
      }
      expect(skipped).toBeGreaterThan(0);
      // AdamW's first update (bias correction at t = 1, not t = skipped + 1), at the scale reached.
      const want = await fixed.step([micro(1)], { ...hyper, gradScale: scale });
      expect(stats).toMatchObject({ loss: want.loss, nonFinite: false, lossScale: scale });
      expect(dynamic.updates).toBe(1);
      // Within float32 rounding: the GPU computes the bias correction from its count (pow), the host from its own.
      expect(worstRelative(await dynamic.readParameters(), await fixed.readParameters())).toBeLessThan(1e-6);
    } finally {
      await dynamic.destroy();
      await fixed.destroy();
    }
  });

  it('doubles the scale after growthInterval finite steps in a row', async () => {
    const e = await engine();
    try {
      const dynamicScale = { initial: 1024, growthInterval: 2 };
      const scales: number[] = [];
      for (let s = 1; s <= 5; s++) {
        const stats = await e.step([micro(s % 3)], { ...hyper, dynamicScale });
        expect(stats).toMatchObject({ skipped: false, nonFinite: false });
        scales.push(stats.lossScale);
      }
      expect(scales).toEqual([1024, 2048, 2048, 4096, 4096]);
      expect(e.updates).toBe(5);
    } finally {
      await e.destroy();
    }
  });

  it('a non-finite loss still halts, and the options are checked', async () => {
    const e = await engine();
    try {
      const bad = micro(1);
      bad.patches[100] = Number.NaN;
      const before = await e.readParameters();
      const stats = await e.step([bad], { ...hyper, dynamicScale: {} });
      expect(stats).toMatchObject({ nonFinite: true, skipped: false });
      expect(bitwiseEqual(await e.readParameters(), before)).toBe(true);
      expect(() => e.step([micro(1)], { ...hyper, gradScale: 2, dynamicScale: {} })).toThrow(/gradScale or dynamicScale, not both/);
      expect(() => e.step([micro(1)], { ...hyper, dynamicScale: { growthInterval: 0 } })).toThrow(/growthInterval must be an integer >= 1, got 0/);
      await expect(e.profileStep(micro(1), { ...hyper, dynamicScale: {} })).rejects.toThrow(/profileStep\(\) takes a fixed gradScale/);
    } finally {
      await e.destroy();
    }
  });
});
