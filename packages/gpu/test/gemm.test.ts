// GEMM kernel vs its TypeScript reference on random shapes, layouts, epilogues and tiles (fast-check).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GEMM_TILES, type GemmTile, gemm, gemmKernel, gemmReference, gemmWorkgroupBytes } from '../src/kernels/gemm.js';
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

/** Double-buffered tiles: scalar and vec4 reads, BK 8 and 16, square and oblong blocks. */
const doubleBuffered: GemmTile[] = [
  { ...GEMM_TILES.large, doubleBuffer: true },
  { ...GEMM_TILES.medium, doubleBuffer: true },
  { ...GEMM_TILES.large, vec4: true, doubleBuffer: true },
  { bm: 64, bn: 32, bk: 16, tm: 4, tn: 2, prefetch: true, doubleBuffer: true },
  { bm: 32, bn: 64, bk: 16, tm: 4, tn: 8, vec4: true, prefetch: true, doubleBuffer: true },
];

const EPILOGUES = ['none', 'bias', 'add', 'gelu', 'storePre', 'geluGrad', 'accumulate'] as const;
type Epi = (typeof EPILOGUES)[number];

interface Case {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  pad: number;
  epi: Epi;
  tile: GemmTile;
  alpha: number;
  seed: number;
  /** outer x inner matrices, each operand's matrices one after another (strides of whole matrices). */
  outer?: number;
  inner?: number;
}

/** The drawn part of a case: sizes (M, N up to maxMN, K up to maxK), padding of the leading dimensions, tile, alpha. */
function drawn(maxMN: number, maxK: number, from: GemmTile[]) {
  return {
    m: fc.integer({ min: 1, max: maxMN }),
    n: fc.integer({ min: 1, max: maxMN }),
    k: fc.integer({ min: 1, max: maxK }),
    pad: fc.integer({ min: 0, max: 3 }),
    tile: fc.constantFrom(...from),
    alpha: fc.constantFrom(1, 0.5),
    seed: fc.integer({ min: 1, max: 1 << 30 }),
  };
}

/** Runs one GEMM case on the device and checks C (and aux) against gemmReference, matrix by matrix. */
async function check(device: GPUDevice, c: Case): Promise<void> {
  const { m, n, k, transA, transB, pad, epi, alpha, seed } = c;
  const [outer, inner] = [c.outer ?? 1, c.inner ?? 1];
  const lda = (transA ? m : k) + pad;
  const ldb = (transB ? k : n) + pad;
  const ldc = n + pad;
  const [sa, sb, sc] = [(transA ? k : m) * lda, (transB ? n : k) * ldb, m * ldc];
  const count = outer * inner;
  if (count > 1 && epi === 'storePre') throw new Error('check: storePre writes aux, which has no batch stride');
  const a = randomArray(count * sa, seed);
  const b = randomArray(count * sb, seed + 1);
  const c0 = randomArray(count * sc, seed + 2);
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
    aux: epi === 'add' || epi === 'storePre' || epi === 'geluGrad' ? epi : undefined,
    gelu: epi === 'gelu' || epi === 'storePre',
    accumulate: epi === 'accumulate',
  };
  const strides = (s: number) => ({ sOuter: inner * s, sInner: s });
  gemm(h.pb, {
    m,
    n,
    k,
    transA,
    transB,
    alpha,
    tile: c.tile,
    ...e,
    a: { buf: A, ld: lda, ...strides(sa) },
    b: { buf: B, ld: ldb, ...strides(sb) },
    c: { buf: C, ld: ldc, ...strides(sc) },
    biasRef: e.bias ? { buf: Bias, offset: 0 } : undefined,
    auxRef: e.aux ? { buf: Aux, ld: n } : undefined,
    batch: count > 1 ? { outer, inner } : undefined,
  });
  const [gotC, gotAux] = await h.run([C, Aux]);
  const wantC = c0.slice();
  const wantAux = aux.slice();
  for (let z = 0; z < count; z++) {
    // aux has no batch stride: every matrix reads the same aux (check() keeps 'storePre', which writes it, unbatched).
    gemmReference({
      m,
      n,
      k,
      transA,
      transB,
      alpha,
      ...e,
      a: a.subarray(z * sa),
      lda,
      b: b.subarray(z * sb),
      ldb,
      c: wantC.subarray(z * sc),
      ldc,
      biasValues: bias,
      auxValues: wantAux,
      ldAux: n,
    });
  }
  expect(relError(gotC, wantC)).toBeLessThan(1e-5);
  expect(relError(gotAux, wantAux)).toBeLessThan(1e-5);
}

describe('gemm tiles', () => {
  it('rejects double buffering without register prefetch (it stages slices through the prefetch registers)', () => {
    const tile = { ...GEMM_TILES.large, prefetch: false, doubleBuffer: true };
    expect(() => gemmKernel({ transA: false, transB: false, tile })).toThrow(/not valid/);
  });

  it('sizes workgroup memory: two stages with doubleBuffer', () => {
    expect(gemmWorkgroupBytes(GEMM_TILES.large)).toBe(8 * (132 + 128) * 4);
    expect(gemmWorkgroupBytes({ ...GEMM_TILES.large, doubleBuffer: true })).toBe(2 * 8 * (132 + 128) * 4);
  });
});

describe.skipIf(gpuUnavailable !== undefined)('gemm', () => {
  it('matches the reference for NN/NT/TN, odd shapes, strides and every epilogue', async () => {
    const device = await testDevice();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          ...drawn(70, 40, tiles),
          transA: fc.boolean(),
          transB: fc.boolean(),
          epi: fc.constantFrom(...EPILOGUES),
        }),
        (c) => check(device, c),
      ),
      { numRuns: 40 },
    );
  });

  it('double-buffered: every layout x epilogue on random shapes, K-slice counts, strides and batches', async () => {
    const device = await testDevice();
    // Each (layout, epilogue) pair is checked every run (random draws alone would leave some out); the rest is drawn.
    // K up to 50 gives 1 to 7 slices of BK 8 (odd and even counts: the loop ends on either stage); M, N up to 140
    // cross block edges of every tile here.
    for (const [transA, transB] of [
      [false, false],
      [false, true],
      [true, false],
    ]) {
      for (const epi of EPILOGUES) {
        await fc.assert(
          fc.asyncProperty(
            fc.record({
              ...drawn(140, 50, doubleBuffered),
              outer: fc.integer({ min: 1, max: 2 }),
              inner: fc.integer({ min: 1, max: 2 }),
            }),
            (c) => check(device, { ...c, transA, transB, epi, ...(epi === 'storePre' ? { outer: 1, inner: 1 } : {}) }),
          ),
          { numRuns: 1 },
        );
      }
    }
  });

  it('runs batched, strided heads the way attention reads them (default and double-buffered tiles)', async () => {
    const device = await testDevice();
    // Q K^T per (sample, head) read in place from a [B*K, 3D] qkv activation; head width 12 is two K-slices of BK 8.
    for (const tile of [undefined, { ...GEMM_TILES.medium, doubleBuffer: true }]) {
      const [bs, heads, kk, hd] = [2, 3, 10, 12];
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
        tile,
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
    }
  });
});
