// The GEMM tiles the bench's sweep compares (and the device parity check runs against the reference on the GPU).
import { type GemmTile, type SubgroupMatrixShape, checkGemmTile, gemmThreads } from './kernels/gemm.js';

/** Whether the kernel can be built with `t`. */
const buildable = (t: GemmTile): boolean => {
  try {
    checkGemmTile(t);
    return true;
  } catch {
    return false;
  }
};

/**
 * The sweep: block shapes, each with register prefetch, without it, with vec4 blocks per thread, and double-buffered
 * workgroup memory (which stages through the prefetch registers) with scalar and with vec4 reads; the vec4 ones also
 * with vec4 global loads where the block shape allows them (the shapes swept have whole-vec4 rows); and two wider
 * blocks with every option.
 */
export const TILE_CANDIDATES: GemmTile[] = [
  { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 },
  { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8 },
  { bm: 128, bn: 64, bk: 16, tm: 8, tn: 4 },
  { bm: 64, bn: 128, bk: 16, tm: 4, tn: 8 },
  { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 },
  { bm: 64, bn: 64, bk: 8, tm: 4, tn: 4 },
]
  .flatMap((t) => [
    { ...t, prefetch: true },
    { ...t, prefetch: false },
    { ...t, prefetch: true, vec4: true },
    { ...t, prefetch: true, doubleBuffer: true },
    { ...t, prefetch: true, vec4: true, doubleBuffer: true },
    { ...t, prefetch: true, vec4: true, vec4Loads: true },
    { ...t, prefetch: true, vec4: true, doubleBuffer: true, vec4Loads: true },
  ])
  .concat(
    // Wider blocks, 8 x 16 outputs per thread (more FMAs per workgroup-memory read, more registers).
    [
      { bm: 128, bn: 256, bk: 8, tm: 8, tn: 16 },
      { bm: 256, bn: 128, bk: 8, tm: 16, tn: 8 },
    ].flatMap((t) => [
      { ...t, prefetch: true, vec4: true, vec4Loads: true },
      { ...t, prefetch: true, vec4: true, doubleBuffer: true, vec4Loads: true },
    ]),
  )
  .filter(buildable);
export const tileName = (t: GemmTile): string =>
  `${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn}${t.prefetch ? '+prefetch' : ''}${t.vec4 ? '+vec4' : ''}${t.doubleBuffer ? '+db' : ''}${t.vec4Loads ? '+vec4loads' : ''}${
    t.matrix ? ` f16 ${t.matrix.m}x${t.matrix.n}x${t.matrix.k}` : ''
  }`;

/**
 * f16 subgroup-matrix tiles for the adapter's matrix shape: workgroups of 4 or 8 subgroups, each computing 2 x 2 to
 * 4 x 4 result matrices, K-slices of 2 or 4 matrix depths; those over 256 threads (subgroups of 64) are left out.
 */
export function matrixTileCandidates(mx: SubgroupMatrixShape): GemmTile[] {
  // [subgroups along M, along N, matrices per subgroup along M, along N, matrix depths per K-slice]
  const blocks = [
    [2, 4, 4, 2, 2],
    [4, 2, 2, 4, 2],
    [4, 2, 2, 2, 2],
    [2, 4, 2, 2, 2],
    [2, 2, 2, 2, 2],
    [2, 2, 4, 4, 2],
    [2, 4, 4, 2, 4],
  ];
  const tiles = blocks.map(([sm, sn, fm, fn, c]) => ({
    bm: sm * fm * mx.m,
    bn: sn * fn * mx.n,
    bk: c * mx.k,
    tm: fm * mx.m,
    tn: fn * mx.n,
    prefetch: true,
    matrix: mx,
  }));
  return [...tiles, { ...tiles[0], prefetch: false }].filter((t) => gemmThreads(t) <= 256);
}
