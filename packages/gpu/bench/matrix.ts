// The bench's --matrix part: what the adapter offers for f16 subgroup-matrix (tensor core) GEMMs, and how close an
// f16 tile's result is to the exact product.
import { SUBGROUP_MATRIX_FEATURES, adapterSubgroupInfo } from '../src/device.js';
import { type GemmTile, gemmReference } from '../src/kernels/gemm.js';
import { randomArray } from '../src/harness.js';
import { runBatchedGemm } from '../src/batched-gemm.js';

/**
 * Rounding both operands to f16 (relative error 2^-11 each) bounds each product's error by about 2^-10 of |a| |b|,
 * so an output may be off by 2^-10 of sum |a| |b|; f32 accumulation adds far less. Twice that is the tolerance.
 */
export const F16_PRODUCT_TOLERANCE = 2 ** -9;

/** Lines describing the adapter's matrix support: the features, its subgroup sizes, every subgroup-matrix config. */
export function describeMatrixSupport(adapter: GPUAdapter): string[] {
  const info = adapterSubgroupInfo(adapter);
  const configs = info.subgroupMatrixConfigs ?? [];
  return [
    `features: ${SUBGROUP_MATRIX_FEATURES.map((f) => `${f} ${adapter.features.has(f) ? 'yes' : 'no'}`).join(', ')}; subgroup size ${info.subgroupMinSize ?? '?'}-${info.subgroupMaxSize ?? '?'}`,
    `subgroup-matrix configs (${configs.length}): ${configs.map((c) => `${c.componentType} x ${c.componentType} -> ${c.resultComponentType} M${c.M} N${c.N} K${c.K}`).join('; ') || 'none'}`,
  ];
}

const [m, n, k, batch] = [300, 260, 203, 2];
const problems = new Map<string, { a: Float32Array; b: Float32Array; want: Float32Array; scale: Float32Array }>();

/** Random operands of one layout, their exact product and each output's sum |a| |b| (computed once, for every tile). */
function problem(transA: boolean, transB: boolean) {
  const key = `${transA}${transB}`;
  const hit = problems.get(key);
  if (hit) return hit;
  const a = randomArray(batch * m * k, 31);
  const b = randomArray(batch * k * n, 32);
  const [lda, ldb] = [transA ? m : k, transB ? k : n];
  const want = new Float32Array(batch * m * n);
  const scale = new Float32Array(batch * m * n);
  const [absA, absB] = [a.map(Math.abs), b.map(Math.abs)];
  for (let z = 0; z < batch; z++) {
    const at = (x: Float32Array, len: number) => x.subarray(z * len);
    gemmReference({ m, n, k, transA, transB, a: at(a, m * k), lda, b: at(b, k * n), ldb, c: at(want, m * n), ldc: n });
    gemmReference({ m, n, k, transA, transB, a: at(absA, m * k), lda, b: at(absB, k * n), ldb, c: at(scale, m * n), ldc: n });
  }
  const made = { a, b, want, scale };
  problems.set(key, made);
  return made;
}

/**
 * The worst error of `tile` over NN, NT and TN on odd sizes (edge tiles, several K-slices, a batch of two), each
 * output's error divided by its sum |a| |b|: within F16_PRODUCT_TOLERANCE when the f16 path computes the product.
 * A kernel that Dawn refuses (validation or internal error, e.g. the backend's shader compiler) throws with
 * Dawn's message: the first GPU run of a path no machine here can execute should say why it failed.
 */
export async function matrixTileError(device: GPUDevice, tile: GemmTile): Promise<number> {
  let worst = 0;
  for (const [transA, transB] of [
    [false, false],
    [false, true],
    [true, false],
  ] as const) {
    const { a, b, want, scale } = problem(transA, transB);
    const got = await runBatchedGemm(device, tile, { m, n, k, batch, transA, transB, a, b });
    for (let i = 0; i < got.length; i++) {
      const err = Math.abs(got[i] - want[i]) / Math.max(scale[i], 1e-30);
      worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
    }
  }
  return worst;
}
