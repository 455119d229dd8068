// LayerNorm kernels vs their TypeScript references (fast-check): every forward mode (y, mean, 1/std) and every
// backward mode (dx, and dweight / dbias once `colsum` finishes the per-workgroup partial sums), on row counts that
// are not multiples of the backward's row block and widths that are not multiples of the workgroup (> 256 included).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type LayerNormBackwardMode,
  type LayerNormForwardMode,
  layerNormBackward,
  layerNormBackwardReference,
  layerNormForward,
  layerNormForwardReference,
  layerNormPartialRows,
} from '../src/kernels/layernorm.js';
import { colsum } from '../src/kernels/reduce.js';
import { gpuUnavailable, testDevice } from './device.js';
import { harness, randomArray, relError } from '../src/harness.js';

const TOL = 1e-5;
/** Widths 4..300 in steps of 4, with the ones around and above the 256-thread switch drawn often. */
const width = fc.oneof(
  fc.integer({ min: 1, max: 75 }).map((i) => 4 * i),
  fc.constantFrom(252, 256, 260, 300),
);
const worst: Record<string, number> = {};
const note = (key: string, err: number): number => {
  worst[key] = Math.max(worst[key] ?? 0, err);
  return err;
};

describe.skipIf(gpuUnavailable !== undefined)('layernorm', () => {
  it('forward (plain, addPos, residual) gives y, mean and 1/std of the reference', async () => {
    const device = await testDevice();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          rows: fc.integer({ min: 1, max: 40 }),
          d: width,
          mode: fc.constantFrom<LayerNormForwardMode>('plain', 'addPos', 'residual'),
          posDiv: fc.integer({ min: 1, max: 40 }),
          eps: fc.constantFrom(1e-5, 1e-6),
          offset: fc.boolean(),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        async ({ rows, d, mode, posDiv, eps, offset, seed }) => {
          // posRows: a divisor of rows (the engine's position table has K rows, repeated per sample).
          const divisors = Array.from({ length: rows }, (_, i) => i + 1).filter((v) => rows % v === 0);
          const posRows = divisors[posDiv % divisors.length];
          // Values with a large common offset: a one-pass variance would lose them.
          const x = randomArray(rows * d, seed).map((v, i) => 3 * v + (offset ? 10 + (i % 7) : 0));
          const wb = randomArray(2 * d, seed + 1).map((v, i) => (i < d ? 1 + 0.5 * v : 0.5 * v));
          const w = wb.slice(0, d);
          const b = wb.slice(d);
          const pos = randomArray(posRows * d, seed + 2);
          // Offsets into the buffers, so a kernel that ignores one reads the wrong values.
          const [offX, offW, offOut, offStats] = [3, 5, 2, 1];
          const h = harness(device);
          const X = h.input('x', concat(new Float32Array(offX).fill(99), x));
          const W = h.input('w', concat(new Float32Array(offW).fill(99), wb));
          const Out = h.input('out', new Float32Array(offOut + rows * d).fill(Number.NaN));
          const Stats = h.input('stats', new Float32Array(offStats + 2 * rows).fill(Number.NaN));
          const Pos = h.input('pos', pos);
          layerNormForward(h.pb, {
            rows,
            width: d,
            eps,
            mode,
            x: X,
            offX,
            weights: W,
            offW,
            out: Out,
            offOut,
            stats: Stats,
            offStats,
            ...(mode === 'addPos' ? { pos: Pos, posRows } : {}),
          });
          const [out, stats] = await h.run([Out, Stats]);
          const want = layerNormForwardReference(
            x,
            rows,
            d,
            w,
            b,
            eps,
            mode === 'addPos' ? { mode, pos, posRows } : mode === 'residual' ? { mode } : undefined,
          );
          expect(note('forward y', relError(out.subarray(offOut), want.y))).toBeLessThan(TOL);
          expect(note('forward mean', relError(stats.subarray(offStats, offStats + rows), want.mean))).toBeLessThan(TOL);
          expect(note('forward rstd', relError(stats.subarray(offStats + rows), want.rstd))).toBeLessThan(TOL);
          expect(Number.isNaN(out[0]) && Number.isNaN(stats[0])).toBe(true); // nothing written before the offsets
        },
      ),
      { numRuns: 30 },
    );
  });

  it('backward (set, accumulate, dyIsOut) gives dx, and dweight / dbias after colsum of the partials', async () => {
    const device = await testDevice();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          rows: fc.integer({ min: 1, max: 40 }),
          d: width,
          mode: fc.constantFrom<LayerNormBackwardMode>('set', 'accumulate', 'dyIsOut'),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        async ({ rows, d, mode, seed }) => {
          const eps = 1e-5;
          const x = randomArray(rows * d, seed).map((v, i) => 2 * v + (i % 5));
          const wb = randomArray(2 * d, seed + 1).map((v, i) => (i < d ? 1 + 0.5 * v : 0.5 * v));
          const w = wb.slice(0, d);
          const dy = randomArray(rows * d, seed + 2);
          const dx0 = randomArray(rows * d, seed + 3);
          const fwd = layerNormForwardReference(x, rows, d, w, wb.slice(d), eps);
          const parts = layerNormPartialRows(rows);
          const [offX, offDy, offDx, offW, offStats, offGrad] = [2, 3, 1, 4, 5, 3];
          const h = harness(device);
          const X = h.input('x', concat(new Float32Array(offX), x));
          const Dy = h.input('dy', concat(new Float32Array(offDy), dy));
          const W = h.input('w', concat(new Float32Array(offW), wb));
          const Dx = h.input('dx', concat(new Float32Array(offDx), mode === 'dyIsOut' ? dy : dx0));
          const Stats = h.input('stats', concat(new Float32Array(offStats), fwd.mean, fwd.rstd));
          // Partials start as garbage: the backward must overwrite (not add to) its rows.
          const Part = h.input(
            'partials',
            randomArray(parts * 2 * d, seed + 4).map((v) => 1e3 * v),
          );
          const Grad = h.input('dwdb', new Float32Array(offGrad + 2 * d));
          layerNormBackward(h.pb, {
            rows,
            width: d,
            mode,
            x: X,
            offX,
            weights: W,
            offW,
            dx: Dx,
            offDx,
            stats: Stats,
            offStats,
            partials: Part,
            ...(mode === 'dyIsOut' ? {} : { dy: Dy, offDy }),
          });
          colsum(h.pb, { rows: parts, cols: 2 * d, src: Part, dst: Grad, offDst: offGrad });
          const [dx, grad] = await h.run([Dx, Grad]);
          const want = layerNormBackwardReference(x, dy, rows, d, w, eps);
          const wantDx = want.dx.map((v, i) => (mode === 'accumulate' ? dx0[i] + v : mode === 'dyIsOut' ? dy[i] + v : v));
          expect(note(`backward dx (${mode})`, relError(dx.subarray(offDx), wantDx))).toBeLessThan(TOL);
          expect(note('backward dweight', relError(grad.subarray(offGrad, offGrad + d), want.dw))).toBeLessThan(TOL);
          expect(note('backward dbias', relError(grad.subarray(offGrad + d), want.db))).toBeLessThan(TOL);
          expect(Array.from(grad.subarray(0, offGrad))).toEqual(new Array(offGrad).fill(0));
        },
      ),
      { numRuns: 30 },
    );
    console.info('[layernorm] worst relative errors', worst);
  });
});

function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
