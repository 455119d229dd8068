// --activations: a named mode is taken as it is; 'auto' takes the least recomputation whose plan fits the share of the
// GPU's free memory this process may use, and 'recompute' where nothing says how much memory there is.
import { describe, expect, it } from 'vitest';
import { type GpuMemoryReading, resolveAimConfig } from '@aim/model';
import { AUTO_MEMORY_SHARE, activationPlans, decideActivations, type ActivationTarget } from '../src/index.js';

const GIB = 2 ** 30;
const MIB = 2 ** 20;
/** aim-600M at micro-batch 64, the paper-scale case: recompute 24.2, selective 50.5, keep 74.6 GiB. */
const plans = activationPlans(resolveAimConfig('aim-600M'), 64, 2 ** 31);
const gpus = (...freeMiB: number[]): GpuMemoryReading => ({
  gpus: freeMiB.map((free) => ({ totalBytes: 81_559 * MIB, usedBytes: (81_559 - free) * MIB, freeBytes: free * MIB })),
  source: 'nvidia-smi',
});
const onGpu = (reading: GpuMemoryReading, ranksPerGpu = 1): ActivationTarget => ({ software: false, memory: () => reading, ranksPerGpu });

describe('decideActivations', () => {
  it('the plans it weighs are the engine plans of each mode, least memory first', () => {
    expect([...plans.keys()]).toEqual(['recompute', 'selective', 'keep']);
    expect([...plans.values()].map((b) => Number((b! / GIB).toFixed(1)))).toEqual([24.2, 50.5, 74.6]);
  });

  it('a mode named by the user is taken as it is, without reading the GPU', () => {
    const never: ActivationTarget = {
      software: false,
      memory: () => {
        throw new Error('read');
      },
      ranksPerGpu: 1,
    };
    for (const mode of ['recompute', 'selective', 'keep'] as const) expect(decideActivations(mode, plans, never)).toEqual({ mode });
  });

  it('auto: keep on a 141 GB GPU, selective on an 80 GB one (keep would leave too little), by their free memory', () => {
    expect(decideActivations('auto', plans, onGpu(gpus(143_000)))).toEqual({
      mode: 'keep',
      why: 'the least recomputation whose plan (74.6 GiB) fits 90% of the 139.6 GiB free on the GPU (nvidia-smi)',
    });
    // 79.2 GiB free: keep's 74.6 fits the card but not 90% of it (71.3).
    expect(decideActivations('auto', plans, onGpu(gpus(81_079))).mode).toBe('selective');
    expect(74.6 * GIB).toBeGreaterThan(AUTO_MEMORY_SHARE * 81_079 * MIB);
  });

  it('auto: ranks on one machine split its free memory; several GPUs count by the least free', () => {
    const shared = decideActivations('auto', plans, onGpu(gpus(81_079), 2));
    expect(shared.mode).toBe('recompute');
    expect(shared.why).toContain('fits 90% of the 79.2 GiB free on the GPU (nvidia-smi), shared by the 2 ranks on this GPU');
    const busy = decideActivations('auto', plans, onGpu(gpus(143_000, 60_000)));
    expect(busy).toEqual({
      mode: 'selective',
      why: 'the least recomputation whose plan (50.5 GiB) fits 90% of the 58.6 GiB free on the GPU (nvidia-smi; the least of 2 GPUs)',
    });
  });

  it('auto: recompute when no plan fits, on a software adapter, or without a memory reading, each saying why', () => {
    expect(decideActivations('auto', plans, onGpu(gpus(20_000)))).toEqual({
      mode: 'recompute',
      why: 'no plan fits 90% of the 19.5 GiB free on the GPU (nvidia-smi) (recompute needs 24.2 GiB)',
    });
    expect(decideActivations('auto', plans, { software: true, memory: () => gpus(143_000), ranksPerGpu: 1 })).toEqual({
      mode: 'recompute',
      why: "a software adapter, whose memory is the host's",
    });
    expect(decideActivations('auto', plans, onGpu({ why: 'no nvidia-smi on PATH' }))).toEqual({
      mode: 'recompute',
      why: "no reading of the GPU's memory (no nvidia-smi on PATH)",
    });
  });
});
