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
  /** Largest max|a - b| / max|b| accepted against the golden fixtures. */
  relTol: number;
  /** Largest |a_i - b_i| / |b_i| accepted on entries with |b_i| >= 0.1 max|b| (see `parityError`). */
  elemTol: number;
}

// Measured on the 2-core machine, 2026-11-29, worst tensor of golden-parity.test.ts: max|a-b|/max|b| 4.1e-7 (cpu),
// 3.4e-7 (wasm), 3.0e-7 (webgpu on SwiftShader); elementwise 2.2e-6, 1.7e-6, 1.8e-6. The gates sit 2.5x and 2.3x
// above the worst. Spec mutations they must catch (each fails on every backend): LayerNorm eps 1e-5 for 1e-6
// (3.0e-6..4.3e-6 and 1.2e-5..1.5e-5), tanh-approximate GELU (3.0e-5..6.8e-5 and 2.3e-4..4.7e-4).
const PARITY = { relTol: 1e-6, elemTol: 5e-6 } as const;

const ALL: readonly BackendUnderTest[] = [
  { name: 'cpu', ...PARITY },
  { name: 'wasm', ...PARITY },
  { name: 'webgpu', ...PARITY },
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

export const backendsUnderTest: readonly BackendUnderTest[] = ALL.filter((b) => b.name !== 'webgpu' || webgpuUnavailable === undefined);

/** Activates a backend (gradients registered, float32 checked); a failure names the backend and why. */
export async function useBackend(name: string): Promise<void> {
  await selectBackend(name as BackendName, { softwareWebGpuFallback: true });
}
