// The active backend's own large matrix-multiply rate: the yardstick for the step's FLOP efficiency.
import * as tf from '@tensorflow/tfjs-core';
import { timeIt } from './timing.js';

export interface MatmulRate {
  n: number;
  /** FLOP/s by wall time. */
  flopsPerSecond: number;
  /** FLOP/s by this process's CPU time (meaningful for the wasm and cpu backends, which compute on this thread). */
  flopsPerCpuSecond: number;
}

/** Times C = A @ B for square float32 [n, n] operands (the plain, non-transposed product) on the active backend. */
export async function measureMatmulRate(n: number, minSeconds: number): Promise<MatmulRate> {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  try {
    const t = await timeIt(() => tf.matMul(a, b), { minSeconds, warmup: 2, minRuns: 3 });
    const flops = 2 * n * n * n;
    return { n, flopsPerSecond: flops / t.wall, flopsPerCpuSecond: flops / t.cpu };
  } finally {
    tf.dispose([a, b]);
  }
}
