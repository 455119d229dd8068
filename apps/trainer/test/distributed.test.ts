// What rank 0 tells the user when several ranks on one machine train with the engine on a GPU.
import { describe, expect, it } from 'vitest';
import { type Distributed, sharedGpuLine } from '../src/distributed.js';

const on = (localSize: number) => ({ mpi: { localSize, host: 'node7' } }) as unknown as Distributed;

describe('sharedGpuLine', () => {
  it('says that the ranks of a machine share one GPU, and how to have it alone', () => {
    expect(sharedGpuLine(on(4), true)).toBe(
      "engine: the 4 ranks on node7 all use one GPU: each opens the first WebGPU adapter, and Dawn's Node binding cannot pick " +
        'one of several GPUs per rank; one rank per machine has that GPU to itself (--accum keeps the global batch)',
    );
  });

  it('says nothing for one rank per machine, a software adapter, or no MPI', () => {
    expect(sharedGpuLine(on(1), true)).toBeUndefined();
    expect(sharedGpuLine(on(2), false)).toBeUndefined();
    expect(sharedGpuLine(undefined, true)).toBeUndefined();
  });
});
