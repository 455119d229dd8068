// Per-kernel time from tf.profile, summed by kernel name: what a step spends its time on.
import type * as tf from '@tensorflow/tfjs-core';

type ProfileInfo = Awaited<ReturnType<typeof tf.profile>>;

/** The `limit` kernels with the most total time, as aligned text lines (name, ms, calls, share). */
export async function topKernels(info: ProfileInfo, limit: number): Promise<string> {
  const byName = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const ms = Number(await k.kernelTimeMs);
    const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += Number.isFinite(ms) ? ms : 0;
    e.calls++;
    byName.set(k.name, e);
  }
  const total = [...byName.values()].reduce((a, e) => a + e.ms, 0);
  const rows = [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, limit);
  return rows
    .map(([name, e]) => `  ${name.padEnd(22)} ${e.ms.toFixed(1).padStart(9)} ms ${String(e.calls).padStart(5)} calls ${((100 * e.ms) / total).toFixed(1).padStart(5)}%`)
    .join('\n');
}
