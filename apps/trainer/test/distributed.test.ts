// What rank 0 tells the user when several ranks on one machine train with the engine on a GPU.
import { describe, expect, it } from 'vitest';
import { type Distributed, sharedGpuLine } from '../src/distributed.js';

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
