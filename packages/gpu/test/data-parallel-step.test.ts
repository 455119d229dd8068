// The data-parallel step in its three parts (accumulateGradients, exchangeGradients, applyUpdate): with one process
// it is engine.step; two engines on the same device sharing a step through an in-process sum take the step that one
// engine accumulating both micro-batches takes, end bitwise identical, and both halt when either sees a NaN. The
// same split under mpirun, one device per rank, is packages/train/test/data-parallel.test.ts.
import { describe, expect, it } from 'vitest';
import { resolveAimConfig } from '@aim/model';
import { AimEngine, type MicroBatch } from '../src/index.js';
import { gpuUnavailable, testDevice } from './device.js';

const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-6, weightDecay: 0.05, clipNorm: 0.5 };
const config = resolveAimConfig('aim-dev-nano');

const microBatch = (seed: number, prefix: number[]): MicroBatch => ({
  patches: new Float32Array(prefix.length * 16 * 48).map((_, i) => Math.sin(i * 0.37 + seed)),
  prefixLengths: Int32Array.from(prefix),
});
const STEPS = [
  [microBatch(1, [1, 9]), microBatch(2, [14, 3])],
  [microBatch(3, [5, 5]), microBatch(4, [2, 15])],
  [microBatch(5, [15, 15]), microBatch(6, [1, 1])],
];

async function engineAt(): Promise<AimEngine> {
  const engine = await AimEngine.create(await testDevice(), config, { batch: 2 });
  engine.setParameters(
    new Map([...engine.program.arena.slots.values()].map((s) => [s.spec.name, new Float32Array(s.size).map((_, i) => Math.cos(i * 0.1 + s.offset) * 0.2)])),
  );
  return engine;
}

const worst = (a: Map<string, Float32Array>, b: Map<string, Float32Array>): number => {
  let w = 0;
  for (const [name, v] of a) v.forEach((x, i) => (w = Math.max(w, Math.abs(x - b.get(name)![i]))));
  return w;
};

const bitwiseEqual = (a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean =>
  [...a].every(([name, v]) => Buffer.from(v.buffer).equals(Buffer.from(b.get(name)!.buffer)));

/** An all-reduce between `n` callers in this process: each waits for the others, then every one holds the sum. */
function inProcessAllReduce(n: number): (values: Float32Array) => Promise<void> {
  let arrived: Float32Array[] = [];
  let release: () => void = () => {};
  let done = new Promise<void>((r) => (release = r));
  return async (values) => {
    arrived.push(values);
    const mine = done;
    if (arrived.length === n) {
      const sum = new Float32Array(values.length);
      for (const a of arrived) a.forEach((x, i) => (sum[i] += x));
      for (const a of arrived) a.set(sum);
      arrived = [];
      release();
      done = new Promise<void>((r) => (release = r));
    }
    await mine;
  };
}

describe.skipIf(gpuUnavailable !== undefined)('the data-parallel step', () => {
  it('with one process (an identity all-reduce) equals engine.step: losses, norms and parameters', async () => {
    const [whole, split] = [await engineAt(), await engineAt()];
    try {
      for (const micro of STEPS) {
        const a = await whole.step(micro, hyper);
        const positions = micro.reduce((n, mb) => n + split.lossPositions(mb.prefixLengths), 0);
        split.accumulateGradients(micro, positions);
        const before = split.counters.hostReads;
        await split.exchangeGradients(() => {});
        expect(split.counters.hostReads - before).toBe(2); // the gradient arena (one staging piece here), the loss
        const b = await split.applyUpdate(hyper);
        expect(Math.abs(a.loss - b.loss)).toBeLessThanOrEqual(1e-6);
        expect(Math.abs(a.gradNorm - b.gradNorm)).toBeLessThanOrEqual(1e-6);
        expect(b.nonFinite).toBe(false);
      }
      expect(split.updates).toBe(whole.updates);
      expect(worst(await whole.readParameters(), await split.readParameters())).toBeLessThanOrEqual(1e-6);
      const [m1, m2] = [await whole.readMoments(), await split.readMoments()];
      expect(worst(m1.m, m2.m)).toBeLessThanOrEqual(1e-6);
      expect(worst(m1.v, m2.v)).toBeLessThanOrEqual(1e-6);
    } finally {
      await whole.destroy();
      await split.destroy();
    }
  });

  it('two engines with one micro-batch each and a summed exchange take the step of one engine accumulating both', async () => {
    const [whole, r0, r1] = [await engineAt(), await engineAt(), await engineAt()];
    try {
      const allReduce = inProcessAllReduce(2);
      for (const micro of STEPS) {
        const a = await whole.step(micro, hyper);
        const positions = micro.reduce((n, mb) => n + whole.lossPositions(mb.prefixLengths), 0);
        const [b0, b1] = await Promise.all(
          [r0, r1].map(async (e, rank) => {
            e.accumulateGradients([micro[rank]], positions);
            await e.exchangeGradients(allReduce);
            return e.applyUpdate(hyper);
          }),
        );
        expect(b0).toEqual(b1);
        expect(Math.abs(a.loss - b0.loss) / a.loss).toBeLessThan(1e-5);
        expect(Math.abs(a.gradNorm - b0.gradNorm) / a.gradNorm).toBeLessThan(1e-5);
      }
      const [p0, p1] = [await r0.readParameters(), await r1.readParameters()];
      expect(bitwiseEqual(p0, p1)).toBe(true);
      expect(worst(await whole.readParameters(), p0)).toBeLessThanOrEqual(1e-5);
    } finally {
      await Promise.all([whole.destroy(), r0.destroy(), r1.destroy()]);
    }
  });

  it("a NaN in one engine's micro-batch halts both at that step, and neither changes a parameter", async () => {
    const [r0, r1] = [await engineAt(), await engineAt()];
    try {
      const allReduce = inProcessAllReduce(2);
      const step = (micro: MicroBatch[]) => {
        const positions = micro.reduce((n, mb) => n + r0.lossPositions(mb.prefixLengths), 0);
        return Promise.all(
          [r0, r1].map(async (e, rank) => {
            e.accumulateGradients([micro[rank]], positions);
            await e.exchangeGradients(allReduce);
            return e.applyUpdate(hyper);
          }),
        );
      };
      expect((await step(STEPS[0])).map((s) => s.nonFinite)).toEqual([false, false]);
      const before = await r0.readParameters();
      const bad = { ...STEPS[1][1], patches: STEPS[1][1].patches.slice() };
      bad.patches[100] = Number.NaN;
      expect((await step([STEPS[1][0], bad])).map((s) => s.nonFinite)).toEqual([true, true]);
      expect(await r0.readParameters()).toEqual(before);
      expect(await r1.readParameters()).toEqual(before);
    } finally {
      await Promise.all([r0.destroy(), r1.destroy()]);
    }
  });

  it('the parts in the wrong order, or a step in the middle, are one-line errors; a failed exchange ends the step', async () => {
    const e = await engineAt();
    try {
      const micro = STEPS[0];
      await expect(e.exchangeGradients(() => {})).rejects.toThrow('engine: exchangeGradients() needs accumulateGradients() first (state: idle)');
      expect(() => e.applyUpdate(hyper)).toThrow('engine: applyUpdate() needs exchangeGradients() first (state: idle)');
      expect(() => e.accumulateGradients(micro, 3)).toThrow(/the step's loss positions \(3\) must be an integer >= this process's \d+/);
      e.accumulateGradients(micro, 1000);
      expect(() => e.step(micro, hyper)).toThrow('engine: step() in the middle of a data-parallel step (state: accumulated)');
      await e.exchangeGradients(() => {});
      expect(() => e.accumulateGradients(micro, 1000)).toThrow('(state: exchanged)');
      await e.applyUpdate(hyper);
      // A failed exchange loses the step, not the engine: the next step starts over.
      e.accumulateGradients(micro, 1000);
      await expect(
        e.exchangeGradients(() => {
          throw new Error('all-reduce failed');
        }),
      ).rejects.toThrow('all-reduce failed');
      expect(() => e.applyUpdate(hyper)).toThrow('(state: idle)');
      expect((await e.step(micro, hyper)).nonFinite).toBe(false);
    } finally {
      await e.destroy();
    }
  });
});
