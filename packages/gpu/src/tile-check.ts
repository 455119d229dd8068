// Whether a GEMM tile computes the product, checked on the device before the sweep times it (a tile that is fast and
// wrong must never reach the steps or a tiles file): NN, NT and TN on a batch of two odd-sized matrices (edge tiles,
// many K-slices) against gemmReference, once with K odd and once with rows of whole vec4s (where vec4-loading tiles
// read vec4s). On a GPU a workgroup's threads really run concurrently, so a missing barrier shows here.
import { type GemmTile, gemmReference } from './kernels/gemm.js';
import { type BatchedGemm, runBatchedGemm } from './batched-gemm.js';
import { randomArray, relError } from './harness.js';

/** Largest max |error| / max |product| a correct f32 tile may show on these cases (float32 rounding). */
export const TILE_CHECK_TOLERANCE = 1e-5;

export interface TileCheckCase extends BatchedGemm {
  readonly label: string;
  /** The exact product (float64 accumulation), batch after batch. */
  readonly want: Float32Array;
}

/** The cases and their references: three layouts x two shapes (smaller on a software adapter). */
export function tileCheckCases(software: boolean): TileCheckCase[] {
  const shapes = software
    ? [
        [72, 60, 41],
        [72, 60, 44],
      ]
    : [
        [300, 260, 203],
        [300, 260, 204],
      ];
  const batch = 2;
  const cases: TileCheckCase[] = [];
  for (const [m, n, k] of shapes) {
    const a = randomArray(batch * m * k, 21);
    const b = randomArray(batch * k * n, 22);
    for (const [transA, transB] of [
      [false, false],
      [false, true],
      [true, false],
    ]) {
      const [lda, ldb] = [transA ? m : k, transB ? k : n];
      const want = new Float32Array(batch * m * n);
      for (let z = 0; z < batch; z++) {
        const [az, bz, cz] = [a.subarray(z * m * k), b.subarray(z * k * n), want.subarray(z * m * n)];
        gemmReference({ m, n, k, transA, transB, a: az, lda, b: bz, ldb, c: cz, ldc: n });
      }
      const label = `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${batch} x ${m}x${n}x${k}`;
      cases.push({ label, m, n, k, batch, transA, transB, a, b, want });
    }
  }
  return cases;
}

/** The tile's worst error over the cases, and on which; Infinity (with Dawn's message) for a tile that does not run. */
export async function tileError(device: GPUDevice, tile: GemmTile, cases: readonly TileCheckCase[]): Promise<{ error: number; on: string }> {
  let worst = { error: 0, on: '-' };
  for (const c of cases) {
    let got: Float32Array;
    try {
      got = await runBatchedGemm(device, tile, c);
    } catch (e) {
      return { error: Infinity, on: `${c.label}: ${(e as Error).message}` };
    }
    const error = relError(got, c.want);
    if (Number.isNaN(error)) return { error: Infinity, on: `${c.label}: NaN in the output` };
    if (error > worst.error) worst = { error, on: c.label };
  }
  return worst;
}

const casesBySize = new Map<boolean, TileCheckCase[]>();
const checked = new WeakMap<GPUDevice, Map<string, Promise<{ error: number; on: string }>>>();

/**
 * tileError of `tile` on tileCheckCases(`small`), computed once per device: the bench's sweep and the tuning after it
 * check a tile once (each check compiles three kernels, most of a check's time on a GPU).
 */
export function checkTile(device: GPUDevice, tile: GemmTile, small: boolean): Promise<{ error: number; on: string }> {
  let cases = casesBySize.get(small);
  if (!cases) casesBySize.set(small, (cases = tileCheckCases(small)));
  let byTile = checked.get(device);
  if (!byTile) checked.set(device, (byTile = new Map()));
  const key = `${small} ${JSON.stringify(tile)}`;
  let result = byTile.get(key);
  if (!result) byTile.set(key, (result = tileError(device, tile, cases)));
  return result;
}
