// What rank 0 tells the user when several ranks on one machine train with the engine on a GPU, and the order in which
// the ranks of a machine tune its GEMM tiles.
import { describe, expect, it } from 'vitest';
import { type Distributed, firstOnEachMachine, sharedGpuLine } from '../src/distributed.js';

const on = (localSize: number) => ({ mpi: { localSize, host: 'node7' } }) as unknown as Distributed;

describe('sharedGpuLine', () => {
  it('says that the ranks of a machine share one GPU unless the launcher isolates devices, and how to have it alone', () => {
    expect(sharedGpuLine(on(4), true)).toBe(
      "engine: each of the 4 ranks on node7 opens the first WebGPU adapter it sees (Dawn's Node binding cannot pick one per rank): " +
        'they share one GPU unless the launcher shows each rank only its own (device isolation, e.g. Slurm with --gpus-per-task ' +
        'and cgroup device constraints); one rank per machine has the GPU to itself (--accum keeps the global batch)',
    );
  });

  it('says nothing for one rank per machine, a software adapter, or no MPI', () => {
    expect(sharedGpuLine(on(1), true)).toBeUndefined();
    expect(sharedGpuLine(on(2), false)).toBeUndefined();
    expect(sharedGpuLine(undefined, true)).toBeUndefined();
  });
});

describe('firstOnEachMachine', () => {
  /** A rank whose barrier and work record, in order, what it did. */
  const rank = (localRank: number, events: string[]) => ({ mpi: { localRank, barrier: () => events.push(`barrier ${localRank}`) } }) as unknown as Distributed;

  it("a machine's first rank works, then reaches the barrier; the others reach it first, then work", async () => {
    const events: string[] = [];
    const work = (r: number) => async () => (events.push(`work ${r}`), r * 10);
    expect(await firstOnEachMachine(rank(0, events), work(0))).toBe(0);
    expect(await firstOnEachMachine(rank(1, events), work(1))).toBe(10);
    expect(events).toEqual(['work 0', 'barrier 0', 'barrier 1', 'work 1']);
  });

  it('a failure on the first rank is thrown before its barrier (the trainer then aborts the job)', async () => {
    const events: string[] = [];
    await expect(firstOnEachMachine(rank(0, events), async () => Promise.reject(new Error('tuning failed')))).rejects.toThrow('tuning failed');
    expect(events).toEqual([]);
  });
});
