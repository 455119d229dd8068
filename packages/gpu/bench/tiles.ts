// The GEMM tiles the bench's sweep compares (and the device parity check runs against the reference on the GPU).
import type { GemmTile } from '../src/kernels/gemm.js';

/**
 * The sweep: block shapes, each with register prefetch, without it, with vec4 blocks per thread, and double-buffered
 * workgroup memory (which stages through the prefetch registers) with scalar and with vec4 reads.
 */
export const TILE_CANDIDATES: GemmTile[] = [
  { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8 },
  { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8 },
  { bm: 128, bn: 64, bk: 16, tm: 8, tn: 4 },
  { bm: 64, bn: 128, bk: 16, tm: 4, tn: 8 },
  { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 },
  { bm: 64, bn: 64, bk: 8, tm: 4, tn: 4 },
].flatMap((t) => [
  { ...t, prefetch: true },
  { ...t, prefetch: false },
  { ...t, prefetch: true, vec4: true },
  { ...t, prefetch: true, doubleBuffer: true },
  { ...t, prefetch: true, vec4: true, doubleBuffer: true },
]);
export const tileName = (t: GemmTile): string =>
  `${t.bm}x${t.bn}x${t.bk}/${t.tm}x${t.tn}${t.prefetch ? '+prefetch' : ''}${t.vec4 ? '+vec4' : ''}${t.doubleBuffer ? '+db' : ''}`;
