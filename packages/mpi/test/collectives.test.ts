import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chunkRanges, detectLaunch } from '../src/index.js';
import { missingMpi, mpirun } from './mpirun.js';

const here = import.meta.dirname;
const missing = missingMpi();
// As elsewhere in the project: a missing system package skips locally and fails under CI=true.
if (missing && process.env.CI === 'true') throw new Error(`@aim/mpi tests need MPI: ${missing}`);

describe('chunking', () => {
  it('covers any length in pieces of at most maxChunk elements (MPI counts are int)', () => {
    expect(chunkRanges(0)).toEqual([]);
    expect(chunkRanges(1)).toEqual([[0, 1]]);
    expect(chunkRanges(2 ** 31 - 1)).toEqual([[0, 2 ** 31 - 1]]);
    // 2^31 + 5 floats (8 GiB): two calls, the second of 6 elements.
    expect(chunkRanges(2 ** 31 + 5)).toEqual([
      [0, 2 ** 31 - 1],
      [2 ** 31 - 1, 6],
    ]);
    expect(chunkRanges(10, 4)).toEqual([
      [0, 4],
      [4, 4],
      [8, 2],
    ]);
    for (const [n, c] of [
      [1_000_003, 4096],
      [17, 17],
      [18, 17],
    ]) {
      const r = chunkRanges(n, c);
      expect(r.reduce((a, [, k]) => a + k, 0)).toBe(n);
      expect(r.every(([o, k], i) => k <= c && o === i * c)).toBe(true);
    }
  });
});

describe('launch detection', () => {
  it('reads Open MPI, Slurm and PMI environments, and plain node as one process', () => {
    expect(detectLaunch({})).toEqual({ rank: 0, size: 1, localRank: 0 });
    expect(detectLaunch({ OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_LOCAL_RANK: '0' })).toEqual({
      launcher: 'open-mpi',
      size: 4,
      rank: 2,
      localRank: 0,
    });
    expect(detectLaunch({ SLURM_STEP_ID: '0', SLURM_NTASKS: '8', SLURM_PROCID: '5', SLURM_LOCALID: '1' })).toEqual({
      launcher: 'slurm',
      size: 8,
      rank: 5,
      localRank: 1,
    });
    // A Slurm allocation without srun (the batch script itself) is not a launch.
    expect(detectLaunch({ SLURM_NTASKS: '8', SLURM_JOB_ID: '7' }).launcher).toBeUndefined();
    expect(detectLaunch({ PMI_SIZE: '3', PMI_RANK: '1' })).toEqual({ launcher: 'pmi', size: 3, rank: 1, localRank: 0 });
  });
});

describe.skipIf(missing !== undefined)(`collectives under mpirun -np 2${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('all-reduce (awkward lengths, chunked and not, f32 and f64), broadcast and barrier agree with one process', () => {
    const r = mpirun(2, ['node', '--conditions=@aim/source', '--import', 'tsx', join(here, 'ranks', 'collectives.ts')]);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('{'));
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const reports = lines.map((l) => JSON.parse(l) as { rank: number; size: number; failures: string[] });
    expect(reports.map((x) => x.rank).sort()).toEqual([0, 1]);
    for (const x of reports) {
      expect(x.size).toBe(2);
      expect(x.failures).toEqual([]);
    }
  }, 180_000);

  it('a rank that aborts ends the job while another waits in a collective: non-zero exit within seconds, no hang', () => {
    const started = Date.now();
    const r = mpirun(2, ['node', '--conditions=@aim/source', '--import', 'tsx', join(here, 'ranks', 'abort.ts')], { timeoutMs: 60_000 });
    const seconds = (Date.now() - started) / 1000;
    expect(r.error).toBeUndefined(); // not killed by the timeout
    expect(r.status).toBe(3); // mpirun exits with the code given to MPI_Abort
    expect(r.stdout).not.toContain('should not have');
    // Open MPI 4.1's own "MPI_ABORT was invoked on rank 1" notice is sometimes lost (ORTE_ERROR_LOG in show_help.c
    // when the job ends fast), so the aborting rank names itself.
    expect(r.stderr + r.stdout).toContain('rank 1 of 2 failed: test failure');
    expect(seconds).toBeLessThan(30); // start-up included; the abort itself takes well under a second
  }, 90_000);
});
