// The end of a step: sumOfSquares per chunk + normClipGate + adamw per chunk vs a float64 reference of torch's
// clip_grad_norm_ (scale = clip / (norm + 1e-6) when norm > clip) and AdamW (decay only below decayEnd), over several
// steps; and the non-finite gate (NaN / Infinity in a gradient or in the loss slot), whose halt flag is sticky.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STAT, STATS_FLOATS, SUMSQ_GROUPS, adamw, normClipGate, sumOfSquares } from '../src/kernels/optimizer.js';
import type { StepValues } from '../src/kernels/wgsl.js';
import type { BufferDesc, Op } from '../src/program.js';
import { gpuUnavailable, testDevice } from './device.js';
import { randomArray, relError } from '../src/harness.js';
import { Session } from './session.js';

const TOL = 1e-5;
const worst: Record<string, number> = {};
const note = (key: string, err: number): number => {
  worst[key] = Math.max(worst[key] ?? 0, err);
  return err;
};

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  clip: number;
}

/** The step uniform for update number `t` (1-based), computed as AimEngine.step does. */
function stepFor(h: Hyper, t: number): StepValues {
  return {
    lr: h.lr,
    bc1: 1 - h.beta1 ** t,
    bc2: 1 - h.beta2 ** t,
    beta1: h.beta1,
    oneMinusBeta1: 1 - h.beta1,
    beta2: h.beta2,
    oneMinusBeta2: 1 - h.beta2,
    eps: h.eps,
    decayFactor: h.weightDecay > 0 ? 1 - h.lr * h.weightDecay : 1,
    clip: h.clip,
    lossScale: 1,
    gradScale: 1,
    gradUnscale: 1,
    growthInterval: 0,
  };
}

interface Chunk {
  n: number;
  decayEnd: number;
}

/** Float64 state of the reference optimizer. */
interface RefState {
  w: Float64Array[];
  m: Float64Array[];
  v: Float64Array[];
}

/** torch.nn.utils.clip_grad_norm_ then torch.optim.AdamW (decoupled decay on [0, decayEnd) of each chunk). */
function referenceStep(s: RefState, grads: Float32Array[], chunks: Chunk[], h: Hyper, t: number): { norm: number; scale: number } {
  let sq = 0;
  for (const g of grads) for (const x of g) sq += x * x;
  const norm = Math.sqrt(sq);
  const scale = h.clip > 0 && norm > h.clip ? h.clip / (norm + 1e-6) : 1;
  const bc1 = 1 - h.beta1 ** t;
  const bc2 = 1 - h.beta2 ** t;
  chunks.forEach((c, ci) => {
    for (let i = 0; i < c.n; i++) {
      const g = grads[ci][i] * scale;
      const m = (s.m[ci][i] = h.beta1 * s.m[ci][i] + (1 - h.beta1) * g);
      const v = (s.v[ci][i] = h.beta2 * s.v[ci][i] + (1 - h.beta2) * g * g);
      let w = s.w[ci][i];
      if (i < c.decayEnd) w *= 1 - h.lr * h.weightDecay;
      s.w[ci][i] = w - h.lr * (m / bc1 / (Math.sqrt(v / bc2) + h.eps));
    }
  });
  return { norm, scale };
}

/** A session holding `chunks` of parameters, gradients and moments, with the engine's optimizer ops. */
function optimizerSession(device: GPUDevice, chunks: Chunk[], w0: Float32Array[], m0: Float32Array[], v0: Float32Array[]) {
  const s = new Session(device);
  const params = chunks.map((_c, i) => s.input(`param ${i}`, w0[i]));
  const grads = chunks.map((c, i) => s.input(`grad ${i}`, new Float32Array(c.n)));
  const m = chunks.map((_c, i) => s.input(`m ${i}`, m0[i]));
  const v = chunks.map((_c, i) => s.input(`v ${i}`, v0[i]));
  const partials = s.input('norm partials', new Float32Array(chunks.length * SUMSQ_GROUPS).fill(Number.NaN));
  const stats = s.input('stats', new Float32Array(STATS_FLOATS));
  const ops: Op[] = [];
  // What the engine's startStep does to the stats (slots 0-3 reset, halted kept), then its optimizer ops.
  const reset: Op = { kind: 'clear', buffer: stats, offset: 0, bytes: 4 * STAT.halted };
  chunks.forEach((c, i) => ops.push(sumOfSquares(s.pb, { n: c.n, grads: grads[i], partials, offPart: i * SUMSQ_GROUPS })));
  ops.push(normClipGate(s.pb, { parts: chunks.length * SUMSQ_GROUPS, partials, stats }));
  chunks.forEach((c, i) => ops.push(adamw(s.pb, { n: c.n, decayEnd: c.decayEnd, params: params[i], grads: grads[i], m: m[i], v: v[i], stats })));
  s.start();
  const readAll = async (bufs: BufferDesc[]): Promise<Float32Array[]> => {
    const out: Float32Array[] = [];
    for (const b of bufs) out.push(await s.read(b));
    return out;
  };
  return {
    s,
    /** One step: gradients written, stats slots 0-3 reset and the loss slot set, the optimizer ops submitted. */
    async step(g: Float32Array[], step: StepValues, loss = 1.5): Promise<Float32Array> {
      g.forEach((x, i) => s.write(grads[i], x));
      s.submit([reset]);
      s.write(stats, Float32Array.of(loss), 4 * STAT.loss);
      s.step(step);
      s.submit(ops);
      return s.read(stats);
    },
    state: async () => ({ w: await readAll(params), m: await readAll(m), v: await readAll(v) }),
  };
}

const chunkSize = fc.oneof(
  fc.integer({ min: 0, max: 1500 }).map((i) => 2 * i + 1),
  fc.constantFrom(1, 255, 257, 65537), // around the workgroup, and past one stride of the sum-of-squares grid
);

describe.skipIf(gpuUnavailable !== undefined)('norm, clipping and AdamW', () => {
  // sum_of_squares runs 256 x 256 threads per chunk (about 0.8 s on SwiftShader): few runs, two steps each.
  it('two steps match torch-style clipping and AdamW in float64 (1-3 chunks of odd sizes)', async () => {
    const device = await testDevice();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          sizes: fc.array(chunkSize, { minLength: 1, maxLength: 3 }),
          decayFrac: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 }),
          clip: fc.constantFrom(0, 0.5, 5, 1e4),
          gradScale: fc.constantFrom(0.01, 1, 30),
          lr: fc.constantFrom(1e-3, 3e-2),
          weightDecay: fc.constantFrom(0, 0.05, 0.3),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        async ({ sizes, decayFrac, clip, gradScale, lr, weightDecay, seed }) => {
          const chunks = sizes.map((n, i) => ({ n, decayEnd: Math.round(decayFrac[i] * n) }));
          const hyper: Hyper = { lr, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay, clip };
          const w0 = chunks.map((c, i) => randomArray(c.n, seed + i));
          const m0 = chunks.map((c, i) => randomArray(c.n, seed + 10 + i).map((x) => 0.01 * x));
          const v0 = chunks.map((c, i) => randomArray(c.n, seed + 20 + i).map((x) => 1e-4 * Math.abs(x)));
          const ref: RefState = {
            w: w0.map((x) => Float64Array.from(x)),
            m: m0.map((x) => Float64Array.from(x)),
            v: v0.map((x) => Float64Array.from(x)),
          };
          const o = optimizerSession(device, chunks, w0, m0, v0);
          try {
            const t0 = 4; // resume from a few updates: bias corrections not 1 - beta
            for (let t = t0; t < t0 + 2; t++) {
              const g = chunks.map((c, i) => randomArray(c.n, seed * 7 + t * 31 + i).map((x) => gradScale * x));
              const stats = await o.step(g, stepFor(hyper, t));
              const want = referenceStep(ref, g, chunks, hyper, t);
              expect(note('grad norm', relError([stats[STAT.gradNorm]], [want.norm]))).toBeLessThan(TOL);
              expect(note('clip scale', relError([stats[STAT.clipScale]], [want.scale]))).toBeLessThan(TOL);
              if (want.scale === 1) expect(stats[STAT.clipScale]).toBe(1);
              expect(stats[STAT.nonFinite]).toBe(0);
              expect(stats[STAT.halted]).toBe(0);
            }
            const got = await o.state();
            chunks.forEach((_, i) => {
              expect(note('param', relError(got.w[i], ref.w[i])), `param chunk ${i}`).toBeLessThan(TOL);
              expect(note('m', relError(got.m[i], ref.m[i])), `m chunk ${i}`).toBeLessThan(TOL);
              expect(note('v', relError(got.v[i], ref.v[i])), `v chunk ${i}`).toBeLessThan(TOL);
            });
          } finally {
            o.s.destroy();
          }
        },
      ),
      { numRuns: 10 },
    );
    console.info('[optimizer] worst relative errors', worst);
  }, 180_000);

  const bad: [string, (g: Float32Array[]) => number][] = [
    ['NaN in a gradient', (g) => ((g[1][g[1].length - 1] = Number.NaN), 1.5)],
    ['+Infinity in a gradient', (g) => ((g[0][3] = Number.POSITIVE_INFINITY), 1.5)],
    ['-Infinity in a gradient', (g) => ((g[1][0] = Number.NEGATIVE_INFINITY), 1.5)],
    ['a NaN loss', () => Number.NaN],
    ['an infinite loss', () => Number.POSITIVE_INFINITY],
  ];

  it.each(bad)('%s leaves parameters and moments untouched, sets slots 3 and 4; a later finite step stays halted', async (_, spoil) => {
    const device = await testDevice();
    const chunks = [
      { n: 301, decayEnd: 200 },
      { n: 77, decayEnd: 0 },
    ];
    const hyper: Hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, clip: 1 };
    const w0 = chunks.map((c, i) => randomArray(c.n, 100 + i));
    const m0 = chunks.map((c, i) => randomArray(c.n, 110 + i).map((x) => 0.01 * x));
    const v0 = chunks.map((c, i) => randomArray(c.n, 120 + i).map((x) => 1e-4 * Math.abs(x)));
    const grads = (seed: number): Float32Array[] => chunks.map((c, i) => randomArray(c.n, seed + i));
    const o = optimizerSession(device, chunks, w0, m0, v0);
    try {
      // The first step is spoiled: nothing moves, both flags set (finite steps update: see the test above).
      const before = { w: w0, m: m0, v: v0 };
      const g = grads(300);
      const loss = spoil(g);
      let stats = await o.step(g, stepFor(hyper, 1), loss);
      expect(stats[STAT.nonFinite]).toBe(1);
      expect(stats[STAT.halted]).toBe(1);
      const after = await o.state();
      for (const key of ['w', 'm', 'v'] as const) after[key].forEach((x, i) => expect(x, `${key} chunk ${i}`).toEqual(before[key][i]));
      // A later finite step: its own flag is clear, the halt stays, and still nothing moves.
      stats = await o.step(grads(400), stepFor(hyper, 2));
      expect(stats[STAT.nonFinite]).toBe(0);
      expect(stats[STAT.halted]).toBe(1);
      expect(Number.isFinite(stats[STAT.gradNorm])).toBe(true);
      const later = await o.state();
      for (const key of ['w', 'm', 'v'] as const) later[key].forEach((x, i) => expect(x, `${key} chunk ${i}`).toEqual(before[key][i]));
    } finally {
      o.s.destroy();
    }
  });
});
