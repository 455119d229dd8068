// Wall-clock timing of tfjs work that ends with a device read, so asynchronous backends (webgpu) are measured whole.
import * as tf from '@tensorflow/tfjs-core';

/**
 * Mean seconds per call of `fn` after `warmup` calls; runs until `minSeconds` have passed and at least `minRuns` calls.
 * `fn` returns a tensor that is read back (await data) and disposed, which waits for the device to finish.
 */
export async function timeIt(
  fn: () => tf.Tensor,
  opts: { minSeconds: number; warmup?: number; minRuns?: number; maxRuns?: number },
): Promise<number> {
  const once = async () => {
    const t = fn();
    await t.data();
    t.dispose();
  };
  for (let i = 0; i < (opts.warmup ?? 1); i++) await once();
  const minRuns = opts.minRuns ?? 1;
  const maxRuns = opts.maxRuns ?? Number.POSITIVE_INFINITY;
  let runs = 0;
  const start = performance.now();
  while (runs < maxRuns && (runs < minRuns || performance.now() - start < opts.minSeconds * 1000)) {
    await once();
    runs++;
  }
  return (performance.now() - start) / 1000 / runs;
}
