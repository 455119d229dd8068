// Helpers for tests that start ranks with mpirun (Open MPI): what is missing, and a run with its output.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mpiAvailable } from '../src/index.js';

export function missingMpi(): string | undefined {
  if (spawnSync('mpirun', ['--version'], { encoding: 'utf8' }).status !== 0) return 'mpirun not found (apt-get install openmpi-bin libopenmpi-dev)';
  if (!mpiAvailable()) return '@aim/mpi was not built (npm rebuild @aim/mpi)';
  return undefined;
}

/** mpirun flags for this CI machine: more ranks than cores, root allowed. */
export const MPIRUN_FLAGS = ['--oversubscribe', '--allow-run-as-root', '--bind-to', 'none'];

export function mpirun(
  np: number,
  args: readonly string[],
  options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): SpawnSyncReturns<string> {
  return spawnSync('mpirun', [...MPIRUN_FLAGS, '-np', String(np), ...args], {
    encoding: 'utf8',
    cwd: options.cwd,
    timeout: options.timeoutMs ?? 120_000,
    env: { ...process.env, ...options.env },
  });
}
