// Dawn's bounds checks: the engine's tests run without them (test/device.ts), as the trainer and the eval app run the
// engine. This file checks that the toggle took effect on that device, and that the engine computes the same bits on
// a device that keeps them: an index past a binding reads the binding's last element there and whatever lies beyond
// it here, so a kernel that relied on the clamp would differ.
import { create } from 'webgpu';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveAimConfig } from '@aim/model';
import { AimEngine, type MicroBatch, boundsCheck, requestEngineDevice } from '../src/index.js';
import { gpuUnavailable, testDevice } from './device.js';

const config = resolveAimConfig('aim-dev-nano');
const K = 16;
const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-6, weightDecay: 0.05, clipNorm: 0.1 };
const micro = (seed: number, prefixLengths: number[]): MicroBatch => ({
  patches: new Float32Array(prefixLengths.length * K * 48).map((_, i) => Math.sin(i * 0.37 + seed)),
  prefixLengths: Int32Array.from(prefixLengths),
});

/** Dawn's own instance (held for as long as its device lives) and a device that keeps the bounds checks. */
let checked: { gpu: GPU; device: GPUDevice } | undefined;
async function checkedDevice(): Promise<GPUDevice> {
  if (checked) return checked.device;
  // No toggles: the default a browser has. VK_DRIVER_FILES is what test/device.ts's probe settled on.
  const gpu = create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no adapter for a device with bounds checks');
  checked = { gpu, device: await requestEngineDevice(adapter) };
  return checked.device;
}
afterAll(() => checked?.device.destroy());

/** One step with 2-way accumulation and clipping (prefix lengths 1 and K - 1 included), then features of two blocks. */
async function stepAndFeatures(device: GPUDevice) {
  const engine = await AimEngine.create(device, config, { batch: 3 });
  try {
    engine.setParameters(
      new Map([...engine.program.arena.slots.values()].map((s) => [s.spec.name, new Float32Array(s.size).map((_, i) => Math.cos(i * 0.1 + s.offset) * 0.2)])),
    );
    const stats = await engine.step([micro(1, [1, K - 1, 7]), micro(2, [K - 1, 3])], hyper);
    const features = await engine.extractFeatures(micro(3, [1, 2, 3]).patches, { blocks: [0, config.depth - 1] });
    return { stats, parameters: await engine.readParameters(), moments: await engine.readMoments(), features };
  } finally {
    await engine.destroy();
  }
}

const bits = (values: Iterable<Float32Array>): Buffer => Buffer.concat([...values].map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)));

describe.skipIf(gpuUnavailable !== undefined)("Dawn's bounds checks", () => {
  it('the engine tests run without them: a read past a binding is not clamped', async () => {
    expect(await boundsCheck(await testDevice())).not.toBe('clamped');
    expect(await boundsCheck(await checkedDevice())).toBe('clamped');
  });

  it('a step and features compute the same bits with and without them', async () => {
    const without = await stepAndFeatures(await testDevice());
    const withChecks = await stepAndFeatures(await checkedDevice());
    expect(without.stats.nonFinite).toBe(false);
    expect(without.stats.gradNorm).toBeGreaterThan(hyper.clipNorm); // clipping was active
    expect(withChecks.stats).toEqual(without.stats);
    expect([...withChecks.parameters.keys()]).toEqual([...without.parameters.keys()]);
    expect(bits(withChecks.parameters.values()).equals(bits(without.parameters.values()))).toBe(true);
    for (const which of ['m', 'v'] as const) {
      expect(bits(withChecks.moments[which].values()).equals(bits(without.moments[which].values())), which).toBe(true);
    }
    expect(bits(withChecks.features).equals(bits(without.features))).toBe(true);
  });
});
