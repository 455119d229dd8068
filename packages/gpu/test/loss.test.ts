// The normalised-pixel loss kernel (loss rows + gradient in place of the prediction) vs pixelLossReference on random
// shapes, with the loss scale taken from the per-step uniform; and the summed loss vs apple/ml-aim's on the fixture.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefixLengthsFromMask } from '@aim/model';
import { pixelLoss, pixelLossReference } from '../src/kernels/loss.js';
import { STAT, STATS_FLOATS } from '../src/kernels/optimizer.js';
import { sumIntoSlot } from '../src/kernels/reduce.js';
import { gpuUnavailable, testDevice } from './device.js';
import { readGoldenIo, tensor } from './golden.js';
import { randomArray, relError } from '../src/harness.js';
import { Session, stepValues } from './session.js';

const TOL = 1e-5;
const worst: Record<string, number> = {};
const note = (key: string, err: number): number => {
  worst[key] = Math.max(worst[key] ?? 0, err);
  return err;
};

/** Runs pixelLoss then sumIntoSlot into a stats buffer (slot 0 holding `stat0`); returns grad, loss rows, stats. */
async function runLoss(
  device: GPUDevice,
  a: {
    batch: number;
    k: number;
    pd: number;
    pred: Float32Array;
    patches: Float32Array;
    prefix: Uint32Array;
    lossScale: number;
    stat0?: number;
  },
): Promise<{ grad: Float32Array; rows: Float32Array; stats: Float32Array }> {
  const s = new Session(device);
  try {
    const Pred = s.input('pred', a.pred);
    const Patches = s.input('patches', a.patches);
    const Prefix = s.input('prefix', a.prefix);
    const Rows = s.input('loss rows', new Float32Array(a.batch * a.k).fill(Number.NaN));
    const stats0 = new Float32Array(STATS_FLOATS);
    stats0[STAT.loss] = a.stat0 ?? 0;
    const Stats = s.input('stats', stats0);
    const ops = [
      pixelLoss(s.pb, { batch: a.batch, k: a.k, patchDim: a.pd, pred: Pred, patches: Patches, prefix: Prefix, lossRows: Rows, stats: Stats }),
      sumIntoSlot(s.pb, { n: a.batch * a.k, src: Rows, stats: Stats, slot: STAT.loss }),
    ];
    s.start();
    s.step(stepValues({ lossScale: a.lossScale }));
    s.submit(ops);
    return { grad: await s.read(Pred), rows: await s.read(Rows), stats: await s.read(Stats) };
  } finally {
    s.destroy();
  }
}

describe.skipIf(gpuUnavailable !== undefined)('pixel loss', () => {
  it('matches pixelLossReference (loss via sumIntoSlot, gradient, zero last row) with the step loss scale', async () => {
    const device = await testDevice();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batch: fc.integer({ min: 1, max: 3 }),
          k: fc.integer({ min: 2, max: 20 }),
          pd: fc.oneof(fc.integer({ min: 2, max: 200 }), fc.constantFrom(3, 48, 63, 65, 130, 192)),
          picks: fc.array(fc.integer({ min: 0, max: 1 << 20 }), { minLength: 3, maxLength: 3 }),
          scaleKind: fc.constantFrom('count', 'other'),
          stat0: fc.constantFrom(0, 0.25),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        async ({ batch, k, pd, picks, scaleKind, stat0, seed }) => {
          // Prefix lengths 1 and K - 1 (the extremes of training), K (a padding sample: no weight), or in between.
          const prefix = Uint32Array.from({ length: batch }, (_, b) => {
            const c = picks[b] % 4;
            return c === 0 ? 1 : c === 1 ? k - 1 : c === 2 ? k : 1 + ((picks[b] >> 2) % (k - 1));
          });
          const count = Array.from(prefix).reduce((n, s) => n + Math.max(0, k - s), 0);
          const lossScale = scaleKind === 'count' && count > 0 ? 1 / count : 0.37;
          // Patches with a per-patch offset and scale (the targets are standardised per patch). No constant patch:
          // there 1/std is 1/sqrt(1e-6) = 1000, which magnifies the rounding of the patch mean (WGSL division may be
          // off by 2.5 ulp, 41 / 82 != 0.5 on SwiftShader) to ~1e-5 of the gradient: conditioning, not a kernel fault.
          const patches = randomArray(batch * k * pd, seed).map((v, i) => 0.5 + (1 + (Math.floor(i / pd) % 3)) * v);
          const pred = randomArray(batch * k * pd, seed + 1);
          const got = await runLoss(device, { batch, k, pd, pred, patches, prefix, lossScale, stat0 });
          const want = pixelLossReference(pred, patches, prefix, k, pd, lossScale);
          expect(note('grad', relError(got.grad, want.grad))).toBeLessThan(TOL);
          if (want.loss === 0) expect(got.stats[STAT.loss]).toBe(stat0);
          else expect(note('loss', relError([got.stats[STAT.loss] - stat0], [want.loss]))).toBeLessThan(TOL);
          for (let b = 0; b < batch; b++) {
            // The last position predicts nothing: its gradient row and loss row are exactly 0.
            const last = got.grad.subarray((b * k + k - 1) * pd, (b * k + k) * pd);
            expect(last.every((v) => v === 0 && !Object.is(v, -0))).toBe(true);
            expect(got.rows[b * k + k - 1]).toBe(0);
            // Positions whose target is in the prefix carry no loss and no gradient.
            for (let i = 0; i + 1 < Math.min(prefix[b], k); i++) {
              expect(got.rows[b * k + i]).toBe(0);
              expect(got.grad.subarray((b * k + i) * pd, (b * k + i + 1) * pd).every((v) => v === 0)).toBe(true);
            }
          }
          // Other stats slots untouched.
          expect(Array.from(got.stats.subarray(1))).toEqual(new Array(STATS_FLOATS - 1).fill(0));
        },
      ),
      { numRuns: 30 },
    );
  });

  it("reproduces apple/ml-aim's loss on the golden fixture (lossScale = 1 / weighted positions)", async () => {
    const device = await testDevice();
    const io = await readGoldenIo('aim-golden-small.io.safetensors');
    const patches = tensor(io, 'patches');
    const pred = tensor(io, 'prediction');
    const mask = io.get('prefix_mask')!;
    const [batch, k, pd] = patches.shape;
    expect(pred.shape).toEqual([batch, k, pd]);
    expect(mask.shape).toEqual([batch, k]);
    const prefix = Uint32Array.from(prefixLengthsFromMask(mask.data, batch, k));
    // Weighted positions: targets 1..K-1 that are not in the prefix, counted from the mask itself.
    let count = 0;
    for (let b = 0; b < batch; b++) for (let j = 1; j < k; j++) count += mask.data[b * k + j] ? 1 : 0;
    expect(count).toBeGreaterThan(0);
    const got = await runLoss(device, { batch, k, pd, pred: pred.data, patches: patches.data, prefix, lossScale: 1 / count });
    const want = tensor(io, 'loss').data[0];
    const err = note('golden loss', relError([got.stats[STAT.loss]], [want]));
    expect(err, `loss ${got.stats[STAT.loss]} vs ${want}`).toBeLessThan(TOL);
    // And the float64 reference agrees on the gradient of the fixture's prediction.
    const ref = pixelLossReference(pred.data, patches.data, prefix, k, pd, 1 / count);
    expect(note('golden grad', relError(got.grad, ref.grad))).toBeLessThan(TOL);
    console.info('[loss] golden loss', got.stats[STAT.loss], 'reference', want, 'worst relative errors', worst);
  });
});
