// Which tfjs backends the model's parity, gradient and leak tests run on, and their parity tolerances.
//
// cpu and wasm always run. webgpu runs when Dawn finds an adapter; without VK_DRIVER_FILES it falls back to
// SwiftShader from Debian's chromium (/usr/lib/chromium/vk_swiftshader_icd.json). With no adapter at all, the
// webgpu entry is left out with a message, except when CI=true, where a missing adapter fails the run.
// Keep webgpu shapes tiny: SwiftShader runs the shaders on the CPU.
import { selectBackend, type BackendName } from '../src/backend/index.js';
import { probeWebGpu } from '../src/backend/webgpu.js';

export interface BackendUnderTest {
  name: BackendName;
  /** Largest relative error accepted against the golden fixtures. */
  relTol: number;
}

const ALL: readonly BackendUnderTest[] = [
  { name: 'cpu', relTol: 1e-5 },
  { name: 'wasm', relTol: 1e-4 },
  { name: 'webgpu', relTol: 1e-4 },
];

/** Why webgpu is not under test on this machine, or undefined when it is. */
export const webgpuUnavailable: string | undefined = await (async () => {
  const probe = await probeWebGpu({ softwareFallback: true });
  if (probe.adapter) return undefined;
  const why = `webgpu backend not tested: ${probe.why}`;
  if (process.env.CI === 'true') {
    throw new Error(`${why}. CI=true requires a WebGPU adapter (install Debian's chromium for SwiftShader)`);
  }
  console.warn(`[model tests] ${why}; skipping the webgpu entries`);
  return why;
})();

export const backendsUnderTest: readonly BackendUnderTest[] = ALL.filter(
  (b) => b.name !== 'webgpu' || webgpuUnavailable === undefined,
);

/** Activates a backend (gradients registered, float32 checked); a failure names the backend and why. */
export async function useBackend(name: string): Promise<void> {
  await selectBackend(name as BackendName, { softwareWebGpuFallback: true });
}
