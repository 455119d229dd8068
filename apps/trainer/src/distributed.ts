// The trainer under an MPI launcher (mpirun/mpiexec, Slurm's srun): join the job through @aim/mpi, say who we are,
// and end the whole job when this rank fails, instead of leaving the others waiting in a collective.
import { MpiUnavailableError, detectLaunch, initMpi, type LaunchInfo, type Mpi } from '@aim/mpi';

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
 * What rank 0 says when the ranks on its machine train with the engine on a GPU: Dawn's Node binding gives every
 * process the first adapter it sees (it picks by name only), so they share one GPU unless the launcher shows each rank
 * only its own. Undefined when that does not apply (one rank per machine, or a software adapter).
 */
export function sharedGpuLine(d: Distributed | undefined, engineOnGpu: boolean): string | undefined {
  if (!d || !engineOnGpu || d.mpi.localSize < 2) return undefined;
  return (
    `engine: each of the ${d.mpi.localSize} ranks on ${d.mpi.host} opens the first WebGPU adapter it sees (Dawn's Node binding cannot ` +
    'pick one per rank): they share one GPU unless the launcher shows each rank only its own (device isolation, e.g. Slurm ' +
    'with --gpus-per-task and cgroup device constraints); one rank per machine has the GPU to itself (--accum keeps the global batch)'
  );
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
