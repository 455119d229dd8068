// How the ranks of one machine get their GPUs (a device each through the one-device Vulkan layer, or one shared) and
// what rank 0 says about it, and the order in which the ranks of a machine tune its GEMM tiles.
import { describe, expect, it } from 'vitest';
import { type Distributed, firstOnEachMachine, rankGpus, showRankItsGpu } from '../src/distributed.js';

const on = (localSize: number) => ({ mpi: { localSize, host: 'node7' } }) as unknown as Distributed;

describe('rankGpus', () => {
  it('with the one-device layer: every rank its own device, or how many share one when the machine has fewer', () => {
    expect(rankGpus(on(4), true, { index: 0, count: 8 })).toEqual({
      line: "engine: each of the 4 ranks on node7 sees only Vulkan device <local rank> mod 8 (@aim/vulkan-device's layer): a device each",
      ranksPerGpu: 1,
    });
    expect(rankGpus(on(4), false, { index: 0, count: 1 })).toEqual({
      line: "engine: each of the 4 ranks on node7 sees only Vulkan device <local rank> mod 1 (@aim/vulkan-device's layer): up to 4 ranks on a device (more ranks than devices)",
      ranksPerGpu: 4,
    });
    expect(rankGpus(on(3), true, { index: 1, count: 2 }).ranksPerGpu).toBe(2);
  });

  it('without it, on a GPU: that the ranks share one GPU, why the layer is not in use, and how to have a GPU each', () => {
    expect(rankGpus(on(4), true, undefined, 'the layer was not built')).toEqual({
      line:
        'engine: each of the 4 ranks on node7 opens the first WebGPU adapter it sees, as the one-device Vulkan layer is not in use (the layer was not built): ' +
        'they share one GPU unless the launcher shows each rank only its own (device isolation, e.g. Slurm with --gpus-per-task ' +
        'and cgroup device constraints); one rank per machine has the GPU to itself (--accum keeps the global batch)',
      ranksPerGpu: 4,
    });
    expect(rankGpus(on(2), true, undefined).line).toContain(
      '(the Vulkan loader did not load it (VK_ADD_LAYER_PATH needs a Vulkan loader of 1.3.2xx or newer))',
    );
  });

  it('says nothing for one rank per machine, no MPI, or ranks without the layer on a software adapter', () => {
    expect(rankGpus(on(1), true, { index: 0, count: 8 })).toEqual({ ranksPerGpu: 1 });
    expect(rankGpus(undefined, true, undefined)).toEqual({ ranksPerGpu: 1 });
    expect(rankGpus(on(2), false, undefined)).toEqual({ ranksPerGpu: 2 });
  });
});

describe('showRankItsGpu', () => {
  const rank = (localRank: number, localSize: number) => ({ mpi: { localRank, localSize, host: 'node7' } }) as unknown as Distributed;

  it("shows each rank of a machine device <local rank> for the engine's backends, and leaves one-rank machines and tfjs alone", () => {
    const env: NodeJS.ProcessEnv = {};
    expect(showRankItsGpu(rank(3, 4), 'webgpu', env)).toBeUndefined();
    expect(env.AIM_VK_DEVICE_INDEX).toBe('3');
    expect(env.VK_INSTANCE_LAYERS).toBe('VK_LAYER_AIM_one_device');
    for (const [r, backend] of [
      [rank(0, 1), 'webgpu'],
      [rank(1, 2), 'cpu'],
      [undefined, 'auto'],
    ] as const) {
      const untouched: NodeJS.ProcessEnv = {};
      expect(showRankItsGpu(r, backend, untouched)).toBeUndefined();
      expect(untouched).toEqual({});
    }
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
