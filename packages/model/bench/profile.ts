// Per-kernel time from tf.profile, summed by kernel name (and by name + shapes): what a step spends its time on.
import * as tf from '@tensorflow/tfjs-core';

type ProfileInfo = Awaited<ReturnType<typeof tf.profile>>;

/**
 * Makes the active backend's kernel timer count this process's CPU time instead of wall time. For wasm and cpu,
 * which run kernels synchronously on this thread, that keeps per-kernel times honest on a loaded machine.
 */
export function useCpuTimeForKernels(): void {
  const backend = tf.backend() as unknown as { time: (f: () => void) => Promise<{ kernelMs: number }> };
  backend.time = async (f: () => void) => {
    const start = process.cpuUsage();
    f();
    const used = process.cpuUsage(start);
    return { kernelMs: (used.user + used.system) / 1000 };
  };
}

async function summarise(info: ProfileInfo, key: (k: ProfileInfo['kernels'][number]) => string, limit: number): Promise<string> {
  const groups = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const ms = Number(await k.kernelTimeMs);
    const name = key(k);
    const e = groups.get(name) ?? { ms: 0, calls: 0 };
    e.ms += Number.isFinite(ms) ? ms : 0;
    e.calls++;
    groups.set(name, e);
  }
  const total = [...groups.values()].reduce((a, e) => a + e.ms, 0);
  return [...groups]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, limit)
    .map(
      ([name, e]) =>
        `  ${name.padEnd(40)} ${e.ms.toFixed(1).padStart(9)} ms ${String(e.calls).padStart(5)} calls ${((100 * e.ms) / total).toFixed(1).padStart(5)}%`,
    )
    .join('\n');
}

/** The `limit` kernel names with the most total time, as aligned text lines (name, ms, calls, share). */
export function topKernels(info: ProfileInfo, limit: number): Promise<string> {
  return summarise(info, (k) => k.name, limit);
}

/** The same, split by input shapes (which matmuls, which transposes). */
export function topKernelShapes(info: ProfileInfo, limit: number): Promise<string> {
  return summarise(info, (k) => `${k.name} ${JSON.stringify(k.inputShapes)}`, limit);
}
