// Chooses what computes: the WebGPU engine (@aim/gpu) when asked for by name or, for 'auto', on a hardware adapter;
// otherwise a tfjs backend as @aim/model's selectBackend picks it. With the engine, tfjs runs on cpu and only holds
// the host copy of the weights (checkpoints, probes). The engine's device runs without Dawn's bounds checks unless
// asked (see @aim/gpu's bounds-checks.ts for why that is safe for its kernels).
import { boundsCheck, engineDawnFlags, requestEngineDevice } from '@aim/gpu';
import { type BackendChoice, BackendUnavailableError, describeAdapter, probeWebGpu, selectBackend, vettedWebGpuAdapter } from '@aim/model';

export interface ComputeSelection {
  /** 'webgpu' when the engine computes, else the active tfjs backend. */
  readonly backend: string;
  /** What runs and why it was chosen. */
  readonly reason: string;
  /** Backends tried before, each with the reason it was not used. */
  readonly skipped: readonly { readonly name: string; readonly why: string }[];
  /** The engine's device, when the engine computes; the caller destroys it when done. */
  readonly device?: GPUDevice;
  /** With the engine: whether its adapter is a GPU (not a software fallback such as SwiftShader). */
  readonly hardwareAdapter?: boolean;
  /** With the engine: its adapter, as describeAdapter names it. */
  readonly adapter?: string;
}

/** The device an engine is built on, and its adapter. */
export interface EngineDevice {
  readonly device: GPUDevice;
  /** The adapter, as describeAdapter names it. */
  readonly adapter: string;
  readonly software: boolean;
}

/** The engine's device of a selection (undefined when tfjs computes). */
export const engineDeviceOf = (c: ComputeSelection): EngineDevice | undefined =>
  c.device ? { device: c.device, adapter: c.adapter ?? 'an unnamed adapter', software: c.hardwareAdapter !== true } : undefined;

export interface ComputeOptions {
  /** The engine's device keeps Dawn's clamp of every storage index (slower; to rule the engine's kernels out). */
  readonly boundsChecks?: boolean;
}

async function engineOn(
  explicit: boolean,
  boundsChecks: boolean,
): Promise<{ device: GPUDevice; adapter: string; described: string; hardware: boolean; checks: string } | { why: string }> {
  const probe = await probeWebGpu({ softwareFallback: explicit, dawnFlags: engineDawnFlags(boundsChecks) });
  const adapter = vettedWebGpuAdapter();
  if (!probe.adapter || !adapter) return { why: probe.why ?? 'no WebGPU adapter' };
  const name = describeAdapter(probe.adapter);
  const described = `${name}${probe.usedSoftwareDefault ? ', VK_DRIVER_FILES defaulted to SwiftShader' : ''}`;
  if (probe.adapter.software && !explicit) {
    return { why: `only a software adapter (${described}); auto never uses it: ask for 'webgpu' by name` };
  }
  const device = await requestEngineDevice(adapter);
  // Observed, not assumed: a binding that ignored the toggle would show 'clamped' here.
  const checks = `Dawn's bounds checks ${boundsChecks ? 'on' : 'off'} (a read past a binding: ${await boundsCheck(device)})`;
  return { device, adapter: name, described, hardware: !probe.adapter.software, checks };
}

export async function selectCompute(choice: BackendChoice, options: ComputeOptions = {}): Promise<ComputeSelection> {
  if (choice !== 'webgpu' && choice !== 'auto') {
    const s = await selectBackend(choice);
    return { backend: s.name, reason: s.reason, skipped: s.skipped };
  }
  const engine = await engineOn(choice === 'webgpu', options.boundsChecks === true);
  if ('device' in engine) {
    await selectBackend('cpu');
    const how = choice === 'webgpu' ? 'webgpu asked for by name' : 'auto: webgpu is the first choice';
    return {
      backend: 'webgpu',
      reason: `${how}: the WebGPU engine on Dawn adapter ${engine.described}, ${engine.checks}; tfjs on cpu holds the host copy`,
      skipped: [],
      device: engine.device,
      hardwareAdapter: engine.hardware,
      adapter: engine.adapter,
    };
  }
  if (choice === 'webgpu') throw new BackendUnavailableError('webgpu', engine.why);
  const s = await selectBackend('auto');
  // The engine's reason replaces tfjs-webgpu's: it is what 'webgpu' means here.
  return {
    backend: s.name,
    reason: s.reason,
    skipped: s.skipped.map((x) => (x.name === 'webgpu' ? { name: 'webgpu', why: engine.why } : x)),
  };
}
