// GEMM kernel vs its TypeScript reference on random shapes, layouts, epilogues and tiles (fast-check).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GEMM_TILES, type GemmTile, gemm, gemmReference } from '../src/kernels/gemm.js';
import { gpuUnavailable, testDevice } from './device.js';
import { harness, randomArray, relError } from './harness.js';

const tiles: GemmTile[] = [
  GEMM_TILES.small,
  GEMM_TILES.medium,
  GEMM_TILES.large,
  { ...GEMM_TILES.large, prefetch: false },
  { bm: 64, bn: 32, bk: 16, tm: 4, tn: 2, prefetch: true },
  { ...GEMM_TILES.large, vec4: true },
  { bm: 32, bn: 64, bk: 16, tm: 4, tn: 8, vec4: true, prefetch: false },
];

describe.skipIf(gpuUnavailable !== undefined)('gemm', () => {
  it('matches the reference for NN/NT/TN, odd shapes, strides and every epilogue', async () => {
    const device = await testDevice();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          m: fc.integer({ min: 1, max: 70 }),
          n: fc.integer({ min: 1, max: 70 }),
          k: fc.integer({ min: 1, max: 40 }),
          transA: fc.boolean(),
          transB: fc.boolean(),
          pad: fc.integer({ min: 0, max: 3 }),
          epi: fc.constantFrom('none', 'bias', 'add', 'gelu', 'storePre', 'geluGrad', 'accumulate'),
          tile: fc.integer({ min: 0, max: tiles.length - 1 }),
          alpha: fc.constantFrom(1, 0.5),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        async ({ m, n, k, transA, transB, pad, epi, tile, alpha, seed }) => {
          const lda = (transA ? m : k) + pad;
          const ldb = (transB ? k : n) + pad;
          const ldc = n + pad;
          const a = randomArray((transA ? k : m) * lda, seed);
          const b = randomArray((transB ? n : k) * ldb, seed + 1);
          const c0 = randomArray(m * ldc, seed + 2);
          const bias = randomArray(n, seed + 3);
          const aux = randomArray(m * n, seed + 4);
          const h = harness(device);
          const A = h.input('A', a);
          const B = h.input('B', b);
          const C = h.input('C', c0);
          const Bias = h.input('bias', bias);
          const Aux = h.input('aux', aux);
          const e = {
            bias: epi === 'bias',
            aux: epi === 'add' || epi === 'storePre' || epi === 'geluGrad' ? (epi as 'add' | 'storePre' | 'geluGrad') : undefined,
            gelu: epi === 'gelu' || epi === 'storePre',
            accumulate: epi === 'accumulate',
          };
          gemm(h.pb, {
            m,
            n,
            k,
            transA,
            transB,
            alpha,
            tile: tiles[tile],
            ...e,
            a: { buf: A, ld: lda },
            b: { buf: B, ld: ldb },
            c: { buf: C, ld: ldc },
            biasRef: e.bias ? { buf: Bias, offset: 0 } : undefined,
            auxRef: e.aux ? { buf: Aux, ld: n } : undefined,
          });
          const [gotC, gotAux] = await h.run([C, Aux]);
          const wantC = c0.slice();
          const wantAux = aux.slice();
          gemmReference({
            m,
            n,
            k,
            transA,
            transB,
            alpha,
            ...e,
            a,
            lda,
            b,
            ldb,
            c: wantC,
            ldc,
            biasValues: bias,
            auxValues: wantAux,
            ldAux: n,
          });
          expect(relError(gotC, wantC)).toBeLessThan(1e-5);
          expect(relError(gotAux, wantAux)).toBeLessThan(1e-5);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('runs batched, strided heads the way attention reads them', async () => {
    const device = await testDevice();
    // Q K^T per (sample, head) read in place from a [B*K, 3D] qkv activation.
    const [bs, heads, kk, hd] = [2, 3, 10, 4];
    const d = heads * hd;
    const qkv = randomArray(bs * kk * 3 * d, 7);
    const h = harness(device);
    const Q = h.input('qkv', qkv);
    const S = h.input('scores', new Float32Array(bs * heads * kk * kk));
    gemm(h.pb, {
      m: kk,
      n: kk,
      k: hd,
      transB: true,
      alpha: 0.5,
      a: { buf: Q, offset: 0, ld: 3 * d, sOuter: kk * 3 * d, sInner: hd },
      b: { buf: Q, offset: d, ld: 3 * d, sOuter: kk * 3 * d, sInner: hd },
      c: { buf: S, ld: kk, sOuter: heads * kk * kk, sInner: kk * kk },
      batch: { outer: bs, inner: heads },
    });
    const [got] = await h.run([S]);
    for (let b = 0; b < bs; b++) {
      for (let hh = 0; hh < heads; hh++) {
        const want = new Float32Array(kk * kk);
        gemmReference({
          m: kk,
          n: kk,
          k: hd,
          transB: true,
          alpha: 0.5,
          a: qkv.subarray(b * kk * 3 * d + hh * hd),
          lda: 3 * d,
          b: qkv.subarray(b * kk * 3 * d + d + hh * hd),
          ldb: 3 * d,
          c: want,
          ldc: kk,
        });
        const off = (b * heads + hh) * kk * kk;
        expect(relError(got.subarray(off, off + kk * kk), want)).toBeLessThan(1e-5);
      }
    }
  });
});
