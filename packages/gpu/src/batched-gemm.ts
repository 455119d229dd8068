// One batched GEMM on the device with a given tile, for the checks against gemmReference (the tile check, the bench's
// --matrix).
import { type GemmTile, gemm } from './kernels/gemm.js';
import { harness } from './harness.js';

export interface BatchedGemm {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly batch: number;
  readonly transA: boolean;
  readonly transB: boolean;
  /** `batch` operands back to back, each stored as op(A) / op(B) require (A^T is K x M). */
  readonly a: Float32Array;
  readonly b: Float32Array;
}

/**
 * C = op(A) op(B) for each of the batch, with `tile`. A kernel that Dawn refuses (a validation or internal error,
 * e.g. from the backend's shader compiler) throws with Dawn's message, so a failing tile says why.
 */
export async function runBatchedGemm(device: GPUDevice, tile: GemmTile, g: BatchedGemm): Promise<Float32Array> {
  const { m, n, k, batch, transA, transB } = g;
  const h = harness(device);
  const [A, B, C] = [h.input('A', g.a), h.input('B', g.b), h.input('C', new Float32Array(batch * m * n))];
  gemm(h.pb, {
    m,
    n,
    k,
    transA,
    transB,
    tile,
    batch: { outer: batch, inner: 1 },
    a: { buf: A, ld: transA ? m : k, sOuter: m * k },
    b: { buf: B, ld: transB ? k : n, sOuter: k * n },
    c: { buf: C, ld: n, sOuter: m * n },
  });
  device.pushErrorScope('internal');
  device.pushErrorScope('validation');
  const ran = await h.run([C]).then(
    ([c]) => c,
    (e: Error) => e,
  );
  const validation = await device.popErrorScope();
  const internal = await device.popErrorScope();
  const refused = validation ?? internal;
  if (refused) throw new Error(refused.message.split('\n').slice(0, 3).join(' '));
  if (ran instanceof Error) throw ran;
  return ran;
}
