// One tensor at a time between the host and the engine's arenas (what checkpoints stream through): loadTensors fills
// an arena from a per-name reader, readTensor returns one tensor, also when it is larger than the staging buffer and
// comes back in pieces; bad names and sizes are errors naming the tensor.
import { describe, expect, it } from 'vitest';
import { resolveAimConfig } from '@aim/model';
import { AimEngine, type ArenaName } from '../src/index.js';
import { gpuUnavailable, testDevice } from './device.js';

// aim-dev-nano with one block whose MLP weights (32 x 140000) outgrow the 2^22-float staging buffer.
const wide = { ...resolveAimConfig('aim-dev-nano'), name: 'nano-wide-mlp', depth: 1, mlpDim: 140_000, probeBlocks: { last: [0], best: [0] } };

/** Distinct values per arena, tensor and index, exact in float32. */
const pattern = (arena: ArenaName, name: string, size: number): Float32Array => {
  const seed = [...`${arena}/${name}`].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 997, 7);
  return new Float32Array(size).map((_, i) => ((i * 13 + seed) % 4093) - 2046);
};

/** Bit-for-bit equality (Buffer.equals: element-wise toEqual takes seconds on millions of values). */
const sameBits = (a: Float32Array | undefined, b: Float32Array): boolean =>
  a !== undefined && a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe.skipIf(gpuUnavailable !== undefined)('engine tensors one at a time', () => {
  it('loadTensors then readTensor and the whole-arena reads give back every tensor of parameters, m and v', async () => {
    const engine = await AimEngine.create(await testDevice(), wide, { batch: 1 });
    try {
      const slots = engine.program.arena.slots;
      const largest = Math.max(...[...slots.values()].map((s) => s.size));
      expect(largest).toBeGreaterThan(engine.program.staging.bytes / 4); // read back in more than one piece
      const sizeOf = (name: string): number => slots.get(name)!.size;
      for (const arena of ['parameters', 'm', 'v'] as const) await engine.loadTensors(arena, (name) => pattern(arena, name, sizeOf(name)));
      const whole = { parameters: await engine.readParameters(), ...(await engine.readMoments()) };
      for (const arena of ['parameters', 'm', 'v'] as const) {
        for (const name of slots.keys()) {
          const want = pattern(arena, name, sizeOf(name));
          expect(sameBits(await engine.readTensor(arena, name), want), `${arena} ${name}`).toBe(true);
          expect(sameBits(whole[arena].get(name), want), `${arena} ${name} (whole arena)`).toBe(true);
        }
      }
    } finally {
      await engine.destroy();
    }
  }, 120_000);

  it('names an unknown tensor, a wrong size, and moments of an engine without the pretraining head', async () => {
    const device = await testDevice();
    const config = resolveAimConfig('aim-dev-nano');
    const engine = await AimEngine.create(device, config, { batch: 1 });
    const trunkOnly = await AimEngine.create(device, config, { batch: 1, pretrainHead: false });
    try {
      await expect(engine.readTensor('parameters', 'trunk.nope')).rejects.toThrow("engine: aim-dev-nano has no parameter 'trunk.nope'");
      await expect(engine.loadTensors('m', () => new Float32Array(3))).rejects.toThrow(/^engine: m '[^']+' has 3 values, expected \d+$/);
      await expect(trunkOnly.loadTensors('v', () => new Float32Array(1))).rejects.toThrow('built without the pretraining head');
      const name = [...trunkOnly.program.arena.slots.keys()][0];
      await expect(trunkOnly.readTensor('gradients', name)).rejects.toThrow('built without the pretraining head');
    } finally {
      await engine.destroy();
      await trunkOnly.destroy();
    }
  });
});
