// The bench's training comparison (bench/training-drift.ts): runs that compute the same train the same (dynamic loss
// scaling within rounding), and a run whose gradients overflow ends at its first step.
import { describe, expect, it } from 'vitest';
import { resolveAimConfig } from '@aim/model';
import { AimEngine } from '../src/index.js';
import { trainingDrift } from '../bench/training-drift.js';
import { gpuUnavailable, testDevice } from './device.js';

const config = resolveAimConfig('aim-dev-nano');
const batch = 2;
const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05, clipNorm: 1 };
const input = { patches: new Float32Array(batch * 16 * 48).map((_, i) => Math.sin(i * 0.37)), prefixLengths: Int32Array.from([3, 15]) };

describe.skipIf(gpuUnavailable !== undefined)('trainingDrift', () => {
  it('a power-of-two loss scale trains like none, bit for bit; dynamic scaling within rounding; an overflow ends a run', async () => {
    const device = await testDevice();
    const probe = await AimEngine.create(device, config, { batch });
    const initial = new Map([...(await probe.readParameters())].map(([name, v]) => [name, v.map((_, i) => 0.05 * Math.cos(i + name.length))]));
    await probe.destroy();
    const o = { batch, input, initial, hyper, steps: 4, seconds: 60 };
    const runs = [
      { scaling: {} },
      { scaling: { gradScale: 2 ** 16 } },
      { scaling: { dynamicScale: { initial: 2 ** 16, growthInterval: 2 } } },
      { scaling: { gradScale: 2 ** 127 } },
    ];
    const { losses, weights, skipped, lossScales } = await trainingDrift(device, config, o, runs);
    expect(losses[0]).toHaveLength(4);
    expect(losses[0][3]).toBeLessThan(losses[0][0]);
    expect(losses[1]).toEqual(losses[0]);
    expect(weights[0]).toBeUndefined();
    expect(weights[1]).toMatchObject({ worst: 0, median: 0 });
    // Dynamic: no overflow at 2^16, the scale doubled every two steps; AdamW's bias correction computed on the GPU.
    expect(weights[2]!.worst).toBeLessThan(1e-5);
    expect([skipped[2], lossScales[2]]).toEqual([0, 2 ** 18]);
    // 2^127 times the gradient overflows float32: the engine's gate refuses the first update and halts.
    expect(losses[3]).toEqual([Number.NaN]);
    expect(weights[3]!.worst).toBeGreaterThan(0); // its weights stayed at the start, the reference's moved
  });
});
