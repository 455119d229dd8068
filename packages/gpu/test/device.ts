// The GPUDevice the engine tests run on: a hardware adapter when there is one, else SwiftShader (Debian chromium),
// without Dawn's bounds checks, as the trainer and the eval app run the engine (so an index past a binding shows as a
// wrong value, not as a clamped one). Without any adapter the tests are skipped with the reason, except under CI=true,
// where that fails the run.
import { probeWebGpu, vettedWebGpuAdapter } from '@aim/model';
import { engineDawnFlags, requestEngineDevice } from '../src/index.js';

export const gpuUnavailable: string | undefined = await (async () => {
  const probe = await probeWebGpu({ softwareFallback: true, dawnFlags: engineDawnFlags() });
  if (probe.adapter) return undefined;
  const why = `WebGPU engine not tested: ${probe.why}`;
  if (process.env.CI === 'true') throw new Error(`${why}. CI=true requires a WebGPU adapter (install Debian's chromium for SwiftShader)`);
  console.warn(`[gpu tests] ${why}`);
  return why;
})();

let device: GPUDevice | undefined;

/** One device shared by a test file (Dawn adapters hand out devices slowly on SwiftShader). */
export async function testDevice(): Promise<GPUDevice> {
  if (device) return device;
  const adapter = vettedWebGpuAdapter();
  if (!adapter) throw new Error(gpuUnavailable ?? 'no adapter');
  device = await requestEngineDevice(adapter);
  device.onuncapturederror = (e) => {
    throw new Error(`WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  };
  return device;
}
