// How much memory the machine's GPUs have free, where a vendor tool says so: WebGPU itself exposes no memory size, and
// Dawn's Node binding offers no memory heaps. NVIDIA's nvidia-smi is asked; other vendors give no reading.
import { spawnSync } from 'node:child_process';

/** One GPU's memory, in bytes, as the tool reported it. */
export interface GpuMemory {
  readonly totalBytes: number;
  readonly usedBytes: number;
  readonly freeBytes: number;
}

/** Every GPU the tool lists (its order), or why there is no reading. */
export type GpuMemoryReading = { readonly gpus: readonly GpuMemory[]; readonly source: string } | { readonly why: string };

const QUERY = ['--query-gpu=memory.total,memory.used,memory.free', '--format=csv,noheader,nounits'];
const MIB = 2 ** 20;

/** nvidia-smi's `memory.total,memory.used,memory.free` CSV (MiB, no header, one line per GPU); throws on anything else. */
export function parseNvidiaSmiMemory(csv: string): GpuMemory[] {
  const lines = csv
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.length === 0) throw new Error('no GPU listed');
  return lines.map((line) => {
    const mib = line.split(',').map((v) => Number(v.trim()));
    if (mib.length !== 3 || mib.some((v) => !Number.isFinite(v) || v < 0)) throw new Error(`unexpected line ${JSON.stringify(line)}`);
    const [total, used, free] = mib;
    return { totalBytes: total * MIB, usedBytes: used * MIB, freeBytes: free * MIB };
  });
}

/** The GPUs' memory by nvidia-smi (on PATH); a reason instead where it is missing, fails or prints something else. */
export function readGpuMemory(): GpuMemoryReading {
  const run = spawnSync('nvidia-smi', QUERY, { encoding: 'utf8', timeout: 30_000 });
  if (run.error) {
    const code = (run.error as NodeJS.ErrnoException).code;
    return { why: code === 'ENOENT' ? 'no nvidia-smi on PATH' : `nvidia-smi failed to run: ${run.error.message}` };
  }
  if (run.status !== 0) {
    const said = `${run.stderr ?? ''}${run.stdout ?? ''}`.trim().split('\n')[0];
    return { why: `nvidia-smi exited with ${run.status ?? run.signal}${said ? `: ${said}` : ''}` };
  }
  try {
    return { gpus: parseNvidiaSmiMemory(run.stdout), source: 'nvidia-smi' };
  } catch (err) {
    return { why: `nvidia-smi: ${(err as Error).message}` };
  }
}
