// GEMM kernel vs its TypeScript reference on random shapes, layouts, epilogues and tiles (fast-check).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GEMM_TILES, type GemmTile, gemm, gemmKernel, gemmReference, gemmWorkgroupBytes, vec4LoadsFit } from '../src/kernels/gemm.js';
import { gpuUnavailable, testDevice } from './device.js';
import { harness, randomArray, relError } from '../src/harness.js';

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

/** Tiles that read A and B as vec4s where the call allows it: with scalar and vec4 workgroup memory, one and two stages. */
const vec4Loading: GemmTile[] = [
  { ...GEMM_TILES.large, vec4Loads: true },
  { ...GEMM_TILES.large, vec4: true, vec4Loads: true },
  { ...GEMM_TILES.large, vec4: true, doubleBuffer: true, vec4Loads: true },
  { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, prefetch: false, vec4Loads: true },
  { bm: 32, bn: 64, bk: 16, tm: 4, tn: 8, vec4: true, prefetch: true, doubleBuffer: true, vec4Loads: true },
  { bm: 64, bn: 128, bk: 8, tm: 8, tn: 16, vec4: true, prefetch: true, vec4Loads: true },
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

/**
 * Runs one GEMM case on the device and checks C (and aux) against gemmReference, matrix by matrix; returns whether the
 * kernel read its operands as vec4s.
 */
async function check(device: GPUDevice, c: Case): Promise<boolean> {
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
  const dispatch = gemm(h.pb, {
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
  return dispatch.kernel.code.includes('A: array<vec4<f32>>');
}

/** `c` with the operands' contiguous extents rounded up to multiples of 4 and a padding of 0 or 4: vec4 rows. */
function vec4Rows(c: Case): Case {
  const up = (x: number): number => Math.ceil(x / 4) * 4;
  return {
    ...c,
    m: c.transA ? up(c.m) : c.m,
    n: c.transB ? c.n : up(c.n),
    k: c.transA && !c.transB ? c.k : up(c.k),
    pad: c.pad % 2 === 0 ? 0 : 4,
  };
}

describe('gemm tiles', () => {
  it('rejects double buffering without register prefetch (it stages slices through the prefetch registers)', () => {
    const tile = { ...GEMM_TILES.large, prefetch: false, doubleBuffer: true };
    expect(() => gemmKernel({ transA: false, transB: false, tile })).toThrow(/not valid/);
  });

  it('rejects vec4 loads where a thread would load part of a vec4 (BM x BK / 4 not a multiple of the threads)', () => {
    const tile = { ...GEMM_TILES.medium, vec4Loads: true };
    expect(() => gemmKernel({ transA: false, transB: false, tile })).toThrow(/not valid/);
  });

  it('reads vec4s only where both operands are whole vec4 rows', () => {
    const a = { buf: { id: 0, label: 'A', bytes: 4, role: 'io' as const }, ld: 64 };
    const call = { m: 30, n: 64, k: 16, a, b: { ...a, ld: 64 } };
    expect(vec4LoadsFit(call)).toBe(true);
    expect(vec4LoadsFit({ ...call, k: 18, a: { ...a, ld: 18 } })).toBe(false); // A's rows end inside a vec4
    expect(vec4LoadsFit({ ...call, transA: true, a: { ...a, ld: 30 } })).toBe(false); // A^T: rows of M = 30
    expect(vec4LoadsFit({ ...call, b: { ...a, ld: 64, offset: 2 } })).toBe(false);
    expect(vec4LoadsFit({ ...call, b: { ...a, ld: 64, sInner: 66 } })).toBe(false);
    expect(vec4LoadsFit({ ...call, transB: true, n: 30, b: { ...a, ld: 16 } })).toBe(true); // B^T: rows of K = 16
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
        async (c) => {
          await check(device, c);
        },
      ),
      { numRuns: 40 },
    );
  });

  /**
   * Checks every (layout, epilogue) pair once (random draws alone would leave some out) with the rest drawn: `from`'s
   * tiles, 1-2 x 1-2 batches, K up to 50 (1 to 7 slices of BK 8: odd and even counts, so a double-buffered loop ends
   * on either stage), M, N up to 140 (across block edges of every tile here). `shape` adjusts each case; returns
   * whether each case's kernel read vec4s.
   */
  async function everyPair(from: GemmTile[], shape: (c: Case) => Case = (c) => c): Promise<boolean[]> {
    const device = await testDevice();
    const vec4Read: boolean[] = [];
    for (const [transA, transB] of [
      [false, false],
      [false, true],
      [true, false],
    ]) {
      for (const epi of EPILOGUES) {
        const batch = (c: { outer: number; inner: number }) => (epi === 'storePre' ? { outer: 1, inner: 1 } : c);
        const cases = fc.record({ ...drawn(140, 50, from), outer: fc.integer({ min: 1, max: 2 }), inner: fc.integer({ min: 1, max: 2 }) });
        await fc.assert(
          fc.asyncProperty(cases, async (c) => {
            vec4Read.push(await check(device, shape({ ...c, transA, transB, epi, ...batch(c) })));
          }),
          { numRuns: 1 },
        );
      }
    }
    return vec4Read;
  }

  it('double-buffered: every layout x epilogue on random shapes, K-slice counts, strides and batches', async () => {
    await everyPair(doubleBuffered);
  });

  it('vec4 loads: every layout x epilogue on random whole-vec4 rows, batches and strides; scalar loads elsewhere', async () => {
    const device = await testDevice();
    expect(await everyPair(vec4Loading, vec4Rows)).toEqual(Array(21).fill(true));
    // K = 13: A's rows (NN) end inside a vec4, so the same tile reads scalars and still computes the product.
    const odd = { m: 20, n: 36, k: 13, transA: false, transB: false, pad: 0, epi: 'bias', tile: vec4Loading[1], alpha: 1, seed: 5 } as const;
    expect(await check(device, odd)).toBe(false);
  });

  it('runs batched, strided heads the way attention reads them (default, double-buffered and vec4-loading tiles)', async () => {
    const device = await testDevice();
    // Q K^T per (sample, head) read in place from a [B*K, 3D] qkv activation; head width 12 is two K-slices of BK 8.
    for (const tile of [undefined, { ...GEMM_TILES.medium, doubleBuffer: true }, { bm: 32, bn: 32, bk: 16, tm: 4, tn: 4, vec4Loads: true }]) {
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
