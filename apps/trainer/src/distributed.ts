// The trainer under an MPI launcher (mpirun/mpiexec, Slurm's srun): join the job through @aim/mpi, say who we are,
// and end the whole job when this rank fails, instead of leaving the others waiting in a collective.
import { MpiUnavailableError, detectLaunch, initMpi, type LaunchInfo, type Mpi } from '@aim/mpi';
import { oneDeviceLayer, showOnlyVulkanDevice } from '@aim/vulkan-device';

export interface Distributed {
  readonly mpi: Mpi;
  readonly launch: LaunchInfo;
  /** The one line each rank prints when it joins. */
  readonly line: string;
}

/** Undefined when no MPI launcher started this process; otherwise MPI initialised (or a clear error). */
export function joinDistributed(env: NodeJS.ProcessEnv = process.env): Distributed | undefined {
  const launch = detectLaunch(env);
  if (!launch.launcher) return undefined;
  let mpi: Mpi;
  try {
    mpi = initMpi();
  } catch (err) {
    if (err instanceof MpiUnavailableError) {
      throw new Error(`started by ${launch.launcher} as rank ${launch.rank} of ${launch.size}, but ${err.message}`);
    }
    throw err;
  }
  const line =
    `data parallel: rank ${mpi.rank} of ${mpi.size} (local rank ${mpi.localRank} of ${mpi.localSize} on ${mpi.host}, pid ${process.pid}), ` +
    `launched by ${launch.launcher}, ${mpi.library}`;
  return { mpi, launch, line };
}

/**
 * Before any WebGPU adapter is requested: with several ranks on this machine and a backend that may be the engine,
 * shows this rank only Vulkan device `local rank` (modulo the machine's devices) through @aim/vulkan-device's layer, so
 * that the ranks share out the machine's GPUs instead of all taking the first. Returns why not when the layer is not
 * built.
 */
export function showRankItsGpu(d: Distributed | undefined, backend: string, env: NodeJS.ProcessEnv = process.env): { readonly why: string } | undefined {
  if (!d || d.mpi.localSize < 2 || (backend !== 'webgpu' && backend !== 'auto')) return undefined;
  const layer = oneDeviceLayer();
  if ('why' in layer) return { why: layer.why };
  showOnlyVulkanDevice(d.mpi.localRank, env);
  return undefined;
}

/** How the ranks of a machine reach its GPUs, once the adapter is open: what rank 0 says, and ranks per GPU. */
export interface RankGpus {
  readonly line?: string;
  /** Ranks of this machine that build an engine on this rank's GPU (the memory `--activations auto` splits). */
  readonly ranksPerGpu: number;
}

/**
 * `shown`: the device the layer let this rank see (`shownVulkanDevice`), undefined when it did not run; `notBuilt`:
 * why the layer was not asked for (`showRankItsGpu`'s answer).
 */
export function rankGpus(d: Distributed | undefined, engineOnGpu: boolean, shown: { index: number; count: number } | undefined, notBuilt?: string): RankGpus {
  if (!d || d.mpi.localSize < 2) return { ranksPerGpu: 1 };
  const ranks = d.mpi.localSize;
  if (shown) {
    const ranksPerGpu = Math.ceil(ranks / shown.count);
    const share = ranksPerGpu === 1 ? 'a device each' : `up to ${ranksPerGpu} ranks on a device (more ranks than devices)`;
    return {
      line: `engine: each of the ${ranks} ranks on ${d.mpi.host} sees only Vulkan device <local rank> mod ${shown.count} (@aim/vulkan-device's layer): ${share}`,
      ranksPerGpu,
    };
  }
  if (!engineOnGpu) return { ranksPerGpu: ranks };
  const why = notBuilt ?? 'the Vulkan loader did not load it (VK_ADD_LAYER_PATH needs a Vulkan loader of 1.3.2xx or newer)';
  return {
    line:
      `engine: each of the ${ranks} ranks on ${d.mpi.host} opens the first WebGPU adapter it sees, as the one-device Vulkan layer is not in use (${why}): ` +
      'they share one GPU unless the launcher shows each rank only its own (device isolation, e.g. Slurm with --gpus-per-task ' +
      'and cgroup device constraints); one rank per machine has the GPU to itself (--accum keeps the global batch)',
    ranksPerGpu: ranks,
  };
}

/**
 * `work` on each machine's first rank, then on its other ranks (a barrier between, which every rank reaches once):
 * what the first writes to the machine's cache folder, the others read. For --gpu-tiles auto, whose timings the
 * ranks sharing one GPU would otherwise spoil for each other. A failure on a first rank aborts the job (abortJob),
 * so the others do not wait at the barrier.
 */
export async function firstOnEachMachine<T>(d: Distributed, work: () => Promise<T>): Promise<T> {
  if (d.mpi.localRank === 0) {
    const result = await work();
    d.mpi.barrier();
    return result;
  }
  d.mpi.barrier();
  return work();
}

/** Ends every rank of the job after printing what failed here (MPI_Abort); never returns. */
export function abortJob(d: Distributed, err: unknown): never {
  const cause = err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  process.stderr.write(`rank ${d.mpi.rank} of ${d.mpi.size} failed: ${cause}; aborting the job (MPI_Abort)\n`);
  return d.mpi.abort(1);
}
