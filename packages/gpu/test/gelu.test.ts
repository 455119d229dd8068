// The elementwise GELU (what selective recomputation runs in the backward) against float64, and against the GELU of
// fc1's GEMM epilogue, which it must reproduce exactly: the backward then sees the activation the forward computed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { geluForward, geluReference } from '../src/kernels/gelu.js';
import { gemm } from '../src/kernels/gemm.js';
import { gpuUnavailable, testDevice } from './device.js';
import { harness, randomArray } from '../src/harness.js';

describe.skipIf(gpuUnavailable !== undefined)('gelu', () => {
  it("matches float64 GELU within 1e-6 of the inputs' scale and the GEMM epilogue bit for bit, on lengths that are not multiples of the workgroup", async () => {
    const device = await testDevice();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 1 << 30 }), async (n, seed) => {
        // Up to |x| = 8: past the erf approximation's clamp at 4 / sqrt(1/2) as well.
        const x = randomArray(n, seed).map((v) => 8 * v);
        const h = harness(device);
        const X = h.input('x', x);
        const one = h.input('one', Float32Array.of(1));
        const out = h.input('out', new Float32Array(n).fill(Number.NaN));
        const epilogue = h.input('epilogue', new Float32Array(n));
        const pre = h.input('pre', new Float32Array(n));
        const ops = [
          geluForward(h.pb, { n, x: X, out }),
          // x as an n x 1 matrix times [1]: fc1's epilogue (pre-activation kept, GELU stored) on the same values.
          gemm(h.pb, {
            m: n,
            n: 1,
            k: 1,
            a: { buf: X, ld: 1 },
            b: { buf: one, ld: 1 },
            c: { buf: epilogue, ld: 1 },
            aux: 'storePre',
            auxRef: { buf: pre, ld: 1 },
            gelu: true,
          }),
        ];
        const [got, fromGemm, kept] = await h.run([out, epilogue, pre], ops);
        expect(kept).toEqual(x);
        // Absolute error against the input's scale: far below zero GELU is ~1e-15, which float32 rounds to 0.
        const want = geluReference(x);
        const worst = Math.max(...Array.from(got, (g, i) => Math.abs(g - want[i])));
        expect(worst).toBeLessThan(1e-6 * Math.max(1, ...Array.from(x, Math.abs)));
        expect(Buffer.from(got.buffer).equals(Buffer.from(fromGemm.buffer))).toBe(true);
      }),
      { numRuns: 20 },
    );
  });
});
