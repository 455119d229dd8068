// What a step asks of the GPU, checked without timing: the engine allocates exactly what planMemory says, a trunk
// block costs at most 40 dispatches per training micro-batch (forward, recomputation and backward together), a step is a
// handful of command buffers and reads nothing from the GPU before it returns.
import { describe, expect, it } from 'vitest';
import { AIM_VARIANTS, resolveAimConfig } from '@aim/model';
import { ACTIVATION_MODES, type ActivationMode, AimEngine, describeEngine, planMemory } from '../src/index.js';
import { gpuUnavailable, testDevice } from './device.js';

const DEV_VARIANTS = Object.keys(AIM_VARIANTS).filter((n) => n.startsWith('aim-dev-'));
const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05, clipNorm: 1 };

describe.skipIf(gpuUnavailable !== undefined)('planMemory and dispatch counts', () => {
  it.each(DEV_VARIANTS.flatMap((v) => ACTIVATION_MODES.map((mode) => [v, mode] as const)))(
    '%s (activations %s): allocation equals the plan',
    async (name, activations) => {
      const device = await testDevice();
      const config = resolveAimConfig(name);
      const options = { batch: 2, activations, maxBindingBytes: device.limits.maxStorageBufferBindingSize };
      const plan = planMemory(config, options.batch, options);
      const engine = await AimEngine.create(device, config, options);
      try {
        expect(engine.allocatedBytes).toBe(plan.totalBytes);
        expect(plan.parameterCount).toBe(engine.program.arena.parameterCount);
      } finally {
        await engine.destroy();
      }
    },
  );

  it('what each block adds to the plan: its input (recompute), its GEMM outputs (selective), everything (keep)', () => {
    const base = resolveAimConfig('aim-dev-tiny');
    const deeper = { ...base, name: 'deeper', depth: base.depth + 4, probeBlocks: { last: [0], best: [0] } };
    const perBlock = (activations: ActivationMode) =>
      (planMemory(deeper, 8, { activations }).byRole.activations - planMemory(base, 8, { activations }).byRole.activations) / 4 / 4;
    const n = 8 * 16; // rows: batch x patches
    const { width: d, mlpDim: m, heads } = base;
    const input = n * d;
    const gemmOutputs = 3 * n * d + n * d + n * d + n * m + 2 * 2 * n; // qkv, context, residual, MLP pre-activation, both norms' stats
    const cheap = n * d + 8 * heads * 16 * 16 + n * d + n * m; // both norms' outputs, attention probabilities, GELU
    expect(perBlock('recompute')).toBe(input);
    expect(perBlock('selective')).toBe(input + gemmOutputs);
    expect(perBlock('keep')).toBe(input + gemmOutputs + cheap);
  });

  it('selective recomputation runs no dense GEMM twice: the backward recomputes norms, attention scores and GELU only', () => {
    const config = resolveAimConfig('aim-dev-tiny');
    const perBlock = Object.fromEntries(ACTIVATION_MODES.map((a) => [a, describeEngine(config, { batch: 2, activations: a }).dispatchesPerTrunkBlock]));
    // 9 forward, 17 backward; recomputed: 'recompute' 8 (all but fc2), 'selective' 5 (2 norms, scores, softmax, GELU).
    expect(perBlock).toEqual({ recompute: 34, selective: 31, keep: 26 });
    const gemmsPerMicroBatch = (a: ActivationMode) => {
      const { ops } = describeEngine(config, { batch: 2, activations: a });
      return [...ops.embed, ...ops.blocks.flat(), ...ops.afterTrunk].filter((op) => op.kind === 'dispatch' && op.kernel.name.startsWith('gemm')).length;
    };
    expect(gemmsPerMicroBatch('selective') - gemmsPerMicroBatch('keep')).toBe(config.depth); // each block's attention scores
    expect(gemmsPerMicroBatch('recompute') - gemmsPerMicroBatch('keep')).toBe(5 * config.depth + config.headDepth); // qkv, scores, context, proj, fc1; the head's fc1
  });

  it.each(ACTIVATION_MODES)(
    'a trunk block costs at most 40 dispatches per micro-batch; a step is 1 + micro-batches command buffers and no host read (activations %s)',
    async (activations) => {
      const device = await testDevice();
      const counts: number[] = [];
      for (const depth of [2, 3]) {
        const config = { ...resolveAimConfig('aim-dev-nano'), name: `nano-${depth}`, depth, probeBlocks: { last: [0], best: [0] } };
        const engine = await AimEngine.create(device, config, { batch: 2, activations });
        try {
          const patches = new Float32Array(2 * 16 * 48).map((_, i) => Math.sin(i));
          const micro = { patches, prefixLengths: Int32Array.from([1, 15]) };
          const before = engine.counters;
          const pending = engine.step([micro, micro], hyper);
          const after = engine.counters;
          expect(after.hostReads - before.hostReads).toBe(0);
          expect(after.commandBuffers - before.commandBuffers).toBe(3);
          counts.push((after.dispatches - before.dispatches) / 2);
          await pending;
          expect(engine.counters.hostReads - after.hostReads).toBe(1); // the step's statistics, after it
          expect(engine.program.dispatchesPerTrunkBlock).toBeLessThanOrEqual(40);
        } finally {
          await engine.destroy();
        }
      }
      // The optimizer's dispatches are per step, not per micro-batch; per block they cancel out in the difference.
      expect(counts[1] - counts[0]).toBe(describeEngine(resolveAimConfig('aim-dev-nano'), { batch: 2, activations }).dispatchesPerTrunkBlock);
    },
  );
});

describe.skipIf(gpuUnavailable !== undefined)('the non-finite gate', () => {
  it('a NaN in a batch: the step says so, and neither it nor any later step changes a parameter or moment', async () => {
    const device = await testDevice();
    const engine = await AimEngine.create(device, resolveAimConfig('aim-dev-nano'), { batch: 2 });
    try {
      const good = new Float32Array(2 * 16 * 48).map((_, i) => Math.sin(i));
      const prefixLengths = Int32Array.from([1, 7]);
      expect((await engine.step([{ patches: good, prefixLengths }], hyper)).nonFinite).toBe(false);
      const params = await engine.readParameters();
      const moments = await engine.readMoments();
      const bad = good.slice();
      bad[100] = Number.NaN;
      const stats = await engine.step([{ patches: bad, prefixLengths }], hyper);
      expect(stats.nonFinite).toBe(true);
      expect((await engine.step([{ patches: good, prefixLengths }], hyper)).nonFinite).toBe(true); // halted stays set
      const after = await engine.readParameters();
      const afterMoments = await engine.readMoments();
      for (const [name, v] of params) expect(after.get(name), name).toEqual(v);
      for (const [name, v] of moments.m) expect(afterMoments.m.get(name), name).toEqual(v);
    } finally {
      await engine.destroy();
    }
  });
});

describe.skipIf(gpuUnavailable !== undefined)('the parameter arena', () => {
  it('split into many chunks (small bindings) trains like one chunk, and parameters round-trip exactly', async () => {
    const device = await testDevice();
    const config = resolveAimConfig('aim-dev-nano');
    const one = await AimEngine.create(device, config, { batch: 2 });
    const many = await AimEngine.create(device, config, { batch: 2, maxBindingBytes: 32 * 1024 });
    try {
      expect(one.program.arena.chunks).toHaveLength(1);
      expect(many.program.arena.chunks.length).toBeGreaterThan(4);
      const values = new Map(
        [...one.program.arena.slots.values()].map((s) => [s.spec.name, new Float32Array(s.size).map((_, i) => Math.cos(i * 0.1 + s.offset) * 0.2)]),
      );
      many.setParameters(values);
      expect(await many.readParameters()).toEqual(values);
      one.setParameters(values);
      const micro = { patches: new Float32Array(2 * 16 * 48).map((_, i) => Math.sin(i)), prefixLengths: Int32Array.from([3, 9]) };
      for (let i = 0; i < 2; i++) {
        const [a, b] = await Promise.all([one.step([micro], hyper), many.step([micro], hyper)]);
        expect(Math.abs(a.loss - b.loss) / a.loss).toBeLessThan(1e-6);
      }
      const [pa, pb] = [await one.readParameters(), await many.readParameters()];
      for (const [name, v] of pa) {
        const w = pb.get(name)!;
        const err = v.reduce((m, x, i) => Math.max(m, Math.abs(x - w[i])), 0);
        expect(err, name).toBeLessThan(1e-6);
      }
    } finally {
      await one.destroy();
      await many.destroy();
    }
  });
});

describe.skipIf(gpuUnavailable !== undefined)('overlapping calls', () => {
  it('feature extractions and parameter reads started together each get their own result', async () => {
    const device = await testDevice();
    const engine = await AimEngine.create(device, resolveAimConfig('aim-dev-nano'), { batch: 2, pretrainHead: false });
    try {
      const values = new Map(
        [...engine.program.arena.slots.values()].map((s) => [s.spec.name, new Float32Array(s.size).map((_, i) => Math.sin(i + s.offset) * 0.3)]),
      );
      engine.setParameters(values);
      const a = new Float32Array(2 * 16 * 48).map((_, i) => Math.sin(i));
      const b = new Float32Array(2 * 16 * 48).map((_, i) => Math.cos(i * 0.7));
      const alone = [await engine.extractFeatures(a, { blocks: [1] }), await engine.extractFeatures(b, { blocks: [0, 1] })];
      const together = await Promise.all([engine.extractFeatures(a, { blocks: [1] }), engine.readParameters(), engine.extractFeatures(b, { blocks: [0, 1] })]);
      expect(together[0]).toEqual(alone[0]);
      expect(together[1]).toEqual(values);
      expect(together[2]).toEqual(alone[1]);
    } finally {
      await engine.destroy();
    }
  });
});
