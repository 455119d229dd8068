// Timing of tfjs work that ends with a device read, so asynchronous backends (webgpu) are measured whole.
//
// Two clocks: wall time, and this process's CPU time (user + system). The wasm and cpu backends compute on the
// calling thread, so on a shared, loaded machine their CPU time still measures the work while wall time does not.
import type * as tf from '@tensorflow/tfjs-core';

export interface Timing {
  /** Mean wall seconds per call. */
  wall: number;
  /** Mean CPU seconds (user + system, all threads of this process) per call. */
  cpu: number;
  runs: number;
}

/** Starts both clocks; the returned function gives seconds elapsed on each. */
export function stopwatch(): () => { wall: number; cpu: number } {
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  return () => {
    const c = process.cpuUsage(cpu0);
    return { wall: (performance.now() - wall0) / 1000, cpu: (c.user + c.system) / 1e6 };
  };
}

/**
 * Mean seconds per call of `fn` after `warmup` calls; runs until `minSeconds` of wall time have passed and at least
 * `minRuns` calls. `fn` returns a tensor that is read back (await data) and disposed, which waits for the device.
 */
export async function timeIt(fn: () => tf.Tensor, opts: { minSeconds: number; warmup?: number; minRuns?: number; maxRuns?: number }): Promise<Timing> {
  const once = async () => {
    const t = fn();
    await t.data();
    t.dispose();
  };
  for (let i = 0; i < (opts.warmup ?? 1); i++) await once();
  const minRuns = opts.minRuns ?? 1;
  const maxRuns = opts.maxRuns ?? Number.POSITIVE_INFINITY;
  let runs = 0;
  const elapsed = stopwatch();
  while (runs < maxRuns && (runs < minRuns || elapsed().wall < opts.minSeconds)) {
    await once();
    runs++;
  }
  const { wall, cpu } = elapsed();
  return { wall: wall / runs, cpu: cpu / runs, runs };
}
