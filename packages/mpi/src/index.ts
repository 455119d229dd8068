// @aim/mpi: MPI for data-parallel training, through a thin Node-API addon (src/mpi.cc). Nothing else in the project
// calls MPI. Every call is synchronous and must come from the main thread (MPI_THREAD_FUNNELED).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Debian packages that provide MPI's runtime and headers. */
export const MPI_DEBIAN_PACKAGES = 'openmpi-bin libopenmpi-dev';

export class MpiUnavailableError extends Error {
  override readonly name = 'MpiUnavailableError';
}

/** What a launcher tells a process about the job, from the environment (before MPI is initialised). */
export interface LaunchInfo {
  /** 'open-mpi' (mpirun/mpiexec), 'slurm' (srun), 'pmi' (MPICH/Hydra-style PMI), or undefined: not launched by MPI. */
  readonly launcher?: 'open-mpi' | 'slurm' | 'pmi';
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
}

const intOf = (v: string | undefined): number | undefined => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);

/** Detects an MPI or Slurm launch from the environment. Plain `node` (no launcher) gives {rank 0, size 1}. */
export function detectLaunch(env: NodeJS.ProcessEnv = process.env): LaunchInfo {
  const ompiSize = intOf(env.OMPI_COMM_WORLD_SIZE);
  if (ompiSize !== undefined) {
    return { launcher: 'open-mpi', size: ompiSize, rank: intOf(env.OMPI_COMM_WORLD_RANK) ?? 0, localRank: intOf(env.OMPI_COMM_WORLD_LOCAL_RANK) ?? 0 };
  }
  const pmixRank = intOf(env.PMIX_RANK);
  const slurmSize = intOf(env.SLURM_NTASKS) ?? intOf(env.SLURM_NPROCS);
  if (env.SLURM_STEP_ID !== undefined && slurmSize !== undefined && intOf(env.SLURM_PROCID) !== undefined) {
    return { launcher: 'slurm', size: slurmSize, rank: intOf(env.SLURM_PROCID) ?? pmixRank ?? 0, localRank: intOf(env.SLURM_LOCALID) ?? 0 };
  }
  const pmiSize = intOf(env.PMI_SIZE);
  if (pmiSize !== undefined) return { launcher: 'pmi', size: pmiSize, rank: intOf(env.PMI_RANK) ?? 0, localRank: intOf(env.MPI_LOCALRANKID) ?? 0 };
  return { rank: 0, size: 1, localRank: 0 };
}

export type ReduceArray = Float32Array | Float64Array;

/** The world communicator after init. */
export interface Mpi {
  readonly rank: number;
  readonly size: number;
  /** Rank among the processes on this host. */
  readonly localRank: number;
  readonly localSize: number;
  /** The MPI library's version string. */
  readonly library: string;
  readonly host: string;
  /**
   * Sums `values` over all ranks, in place (MPI_Allreduce with MPI_IN_PLACE). Any length: buffers above MPI's int
   * count go in chunks of at most `maxChunk` elements (default 2^31-1). Returns the number of MPI calls made.
   */
  allReduceSum(values: ReduceArray, maxChunk?: number): number;
  /** Copies `values` from `root` to every rank, in place (chunked like allReduceSum). */
  broadcast(values: ReduceArray, root?: number, maxChunk?: number): number;
  barrier(): void;
  /** MPI_Wtime. */
  wtime(): number;
  /** Ends every process of the job with `code` (MPI_Abort). Does not return. */
  abort(code?: number): never;
  /** MPI_Finalize (idempotent). */
  finalize(): void;
}

interface Native {
  init(): { rank: number; size: number; localRank: number; localSize: number; library: string; host: string; threadLevel: number };
  allReduceSum(a: ReduceArray, maxChunk?: number): number;
  broadcast(a: ReduceArray, root: number, maxChunk?: number): number;
  barrier(): void;
  wtime(): number;
  abort(code: number): never;
  finalize(): void;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the install step puts the addon. */
export const ADDON_PATH = join(packageRoot, 'build', 'Release', 'aim_mpi.node');

let native: Native | undefined;
let world: Mpi | undefined;

/** True when the addon was built (MPI's headers were present at install). */
export function mpiAvailable(): boolean {
  return existsSync(ADDON_PATH);
}

function loadNative(): Native {
  if (native) return native;
  if (!existsSync(ADDON_PATH)) {
    throw new MpiUnavailableError(
      `distributed training needs the MPI binding @aim/mpi, which was not built (no MPI headers when it was installed): ` +
        `apt-get install ${MPI_DEBIAN_PACKAGES}, then npm rebuild @aim/mpi`,
    );
  }
  try {
    native = createRequire(import.meta.url)(ADDON_PATH) as Native;
  } catch (err) {
    throw new MpiUnavailableError(`cannot load ${ADDON_PATH} (${(err as Error).message}); apt-get install ${MPI_DEBIAN_PACKAGES}, then npm rebuild @aim/mpi`);
  }
  return native;
}

/** Initialises MPI (thread level FUNNELED) once and returns the world communicator. */
export function initMpi(): Mpi {
  if (world) return world;
  const n = loadNative();
  const info = n.init();
  world = Object.freeze({
    rank: info.rank,
    size: info.size,
    localRank: info.localRank,
    localSize: info.localSize,
    library: info.library.replace(/\0.*$/s, '').trim().split('\n')[0],
    host: info.host,
    allReduceSum: (values: ReduceArray, maxChunk?: number) => n.allReduceSum(values, maxChunk),
    broadcast: (values: ReduceArray, root = 0, maxChunk?: number) => {
      if (!(Number.isInteger(root) && root >= 0 && root < info.size)) throw new RangeError(`broadcast: root ${root} is not a rank of 0..${info.size - 1}`);
      return n.broadcast(values, root, maxChunk);
    },
    barrier: () => n.barrier(),
    wtime: () => n.wtime(),
    abort: (code = 1) => n.abort(code),
    finalize: () => n.finalize(),
  });
  return world;
}

/** The chunks (offset, count) a buffer of `length` elements is sent in, at most `maxChunk` each (what the addon does). */
export function chunkRanges(length: number, maxChunk = 2 ** 31 - 1): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let offset = 0; offset < length; offset += maxChunk) out.push([offset, Math.min(maxChunk, length - offset)]);
  return out;
}
