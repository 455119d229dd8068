// profileStep: a step with every dispatch timed by GPU timestamp queries (the benchmark's "where the time goes"):
// one entry per dispatch of the step, in order, and the step itself applied exactly as step() applies it.
import { describe, expect, it } from 'vitest';
import { resolveAimConfig } from '@aim/model';
import { AimEngine, requestEngineDevice } from '../src/index.js';
import { gpuUnavailable, testDevice } from './device.js';

const config = resolveAimConfig('aim-dev-nano');
const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05, clipNorm: 1 };
const micro = { patches: new Float32Array(2 * 16 * 48).map((_, i) => Math.sin(i * 0.37)), prefixLengths: Int32Array.from([3, 15]) };

async function engineOn(device: GPUDevice): Promise<AimEngine> {
  const engine = await AimEngine.create(device, config, { batch: 2 });
  engine.setParameters(
    new Map([...engine.program.arena.slots.values()].map((s) => [s.spec.name, new Float32Array(s.size).map((_, i) => Math.cos(i * 0.1 + s.offset) * 0.2)])),
  );
  return engine;
}

describe.skipIf(gpuUnavailable !== undefined)('profileStep', () => {
  it('times every dispatch of the step, in order, and applies the step as step() does, bit for bit', async () => {
    // A device of its own with timestamp queries (the shared test device has none; a Dawn adapter gives one device).
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    const adapter = await gpu?.requestAdapter();
    if (!adapter) throw new Error('navigator.gpu gave no adapter');
    const device = await requestEngineDevice(adapter, { timestamps: true });
    const profiled = await engineOn(device);
    const plain = await engineOn(await testDevice());
    try {
      const before = plain.counters.dispatches;
      await plain.step([micro], hyper);
      const dispatches = plain.counters.dispatches - before;
      const profile = await profiled.profileStep(micro, hyper);
      expect(profile).toHaveLength(dispatches);
      expect(profile[0].kernel).toMatch(/^gemm/); // the patch embedding opens the step
      expect(profile.at(-1)!.kernel).toBe('adamw');
      expect(profile.every((d) => Number.isFinite(d.ns) && d.ns >= 0)).toBe(true);
      expect(profile.reduce((s, d) => s + d.ns, 0)).toBeGreaterThan(0);
      const [a, b] = [await profiled.readParameters(), await plain.readParameters()];
      for (const [name, v] of a) expect(Buffer.from(v.buffer).equals(Buffer.from(b.get(name)!.buffer)), name).toBe(true);
      expect(profiled.updates).toBe(1);
    } finally {
      await profiled.destroy();
      await plain.destroy();
      device.destroy();
    }
  });

  it('names the missing feature on a device without timestamp queries', async () => {
    const engine = await engineOn(await testDevice());
    try {
      await expect(engine.profileStep(micro, hyper)).rejects.toThrow("profiling needs the device feature 'timestamp-query'");
    } finally {
      await engine.destroy();
    }
  });
});
