// Which activation mode the WebGPU engine trains with: one named by the user, or 'auto', the least recomputation
// whose memory plan fits the GPU. WebGPU tells a program nothing of the GPU's memory, so 'auto' reads it where a vendor
// tool reports it (@aim/model's readGpuMemory: nvidia-smi); without a reading it takes 'recompute', the mode that
// needs least. Every mode gives the same losses, gradients and weights bit for bit, so the choice is speed against
// memory only, and a run may resume in another mode.
import { ACTIVATION_MODES, type ActivationMode, planMemory } from '@aim/gpu';
import type { AimConfig, GpuMemoryReading } from '@aim/model';

export const AUTO_ACTIVATIONS = 'auto';
export const ACTIVATION_CHOICES = [AUTO_ACTIVATIONS, ...ACTIVATION_MODES] as const;
export type ActivationChoice = (typeof ACTIVATION_CHOICES)[number];

/**
 * The share of the GPU's free memory 'auto' lets a plan take. The rest is for what a plan does not count: Dawn's
 * pipelines, staging and uniform buffers, and the driver's own allocations.
 */
export const AUTO_MEMORY_SHARE = 0.9;

/** Bytes each mode would allocate at one micro-batch (least memory first); undefined where a buffer would pass the binding limit. */
export type ActivationPlans = ReadonlyMap<ActivationMode, number | undefined>;

export function activationPlans(config: AimConfig, batch: number, maxBindingBytes: number): ActivationPlans {
  return new Map(
    ACTIVATION_MODES.map((activations) => {
      try {
        return [activations, planMemory(config, batch, { activations, maxBindingBytes }).totalBytes];
      } catch {
        return [activations, undefined];
      }
    }),
  );
}

/** Where the engine runs, as 'auto' needs to know it. */
export interface ActivationTarget {
  /** A software adapter (SwiftShader) computes in host memory: no GPU reading applies. */
  readonly software: boolean;
  /** The machine's GPUs' memory (readGpuMemory); read only for a hardware adapter. */
  readonly memory: () => GpuMemoryReading;
  /** Processes that each build an engine on this GPU (MPI ranks of a machine with fewer GPUs than ranks). */
  readonly ranksPerGpu: number;
}

export interface ActivationDecision {
  readonly mode: ActivationMode;
  /** Why 'auto' chose `mode`; undefined for a mode named by the user. */
  readonly why?: string;
}

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/** A named mode as it is; 'auto' as the first of keep, selective, recompute whose plan fits, else recompute. */
export function decideActivations(choice: ActivationChoice, plans: ActivationPlans, target: ActivationTarget): ActivationDecision {
  if (choice !== AUTO_ACTIVATIONS) return { mode: choice };
  if (target.software) return { mode: 'recompute', why: "a software adapter, whose memory is the host's" };
  const reading = target.memory();
  if ('why' in reading) return { mode: 'recompute', why: `no reading of the GPU's memory (${reading.why})` };
  // The least free of the GPUs listed: which of them is this process's adapter is unknown (Vulkan lists devices in an
  // order of its own, which the one-device layer's index follows and nvidia-smi's need not).
  const free = Math.min(...reading.gpus.map((g) => g.freeBytes));
  const ranks = target.ranksPerGpu;
  const budget = (free * AUTO_MEMORY_SHARE) / ranks;
  const where =
    `${Math.round(AUTO_MEMORY_SHARE * 100)}% of the ${gib(free)} free on the GPU (${reading.source}` +
    `${reading.gpus.length > 1 ? `; the least of ${reading.gpus.length} GPUs` : ''})` +
    (ranks > 1 ? `, shared by the ${ranks} ranks on this GPU` : '');
  for (const mode of [...ACTIVATION_MODES].reverse()) {
    const bytes = plans.get(mode);
    if (bytes !== undefined && bytes <= budget) return { mode, why: `the least recomputation whose plan (${gib(bytes)}) fits ${where}` };
  }
  const least = plans.get('recompute');
  return { mode: 'recompute', why: `no plan fits ${where}${least === undefined ? '' : ` (recompute needs ${gib(least)})`}` };
}
