// A GPU error outside any error scope (a failed command does nothing, and WebGPU only reports it as an event) or a
// lost device stops the engine at its next submit or host read with a GpuDeviceError naming the first error, instead
// of a step that silently computes from whatever its buffers held.
import { describe, expect, it } from 'vitest';
import { resolveAimConfig } from '@aim/model';
import { AimEngine, GpuDeviceError, requestEngineDevice } from '../src/index.js';
import { gpuUnavailable } from './device.js';

const config = resolveAimConfig('aim-dev-nano');
const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05, clipNorm: 1 };
const micro = { patches: new Float32Array(2 * 16 * 48).map((_, i) => Math.sin(i)), prefixLengths: Int32Array.from([1, 15]) };

/**
 * An engine on a device of its own, from an adapter of its own (the shared test device fails the test file on any
 * uncaptured error, and a Dawn adapter gives one device).
 */
async function ownEngine(): Promise<{ device: GPUDevice; engine: AimEngine }> {
  // navigator.gpu is the Dawn instance the probe installed (Node's typings have no navigator).
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  const adapter = await gpu?.requestAdapter();
  if (!adapter) throw new Error('navigator.gpu gave no adapter');
  const device = await requestEngineDevice(adapter);
  const engine = await AimEngine.create(device, config, { batch: 2 });
  return { device, engine };
}

/** Calls `fn` and gives its error, whether it throws at once or rejects. */
async function errorOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe.skipIf(gpuUnavailable !== undefined)('GPU errors outside error scopes', () => {
  it('an uncaptured validation error stops the next step and read with the first error named', async () => {
    const { device, engine } = await ownEngine();
    try {
      expect((await engine.step([micro], hyper)).nonFinite).toBe(false);
      // Two commands that fail validation, as a kernel with a bad binding would.
      device.createBuffer({ size: 2 ** 50, usage: GPUBufferUsage.STORAGE });
      device.createBuffer({ size: 2 ** 50, usage: GPUBufferUsage.STORAGE });
      await device.queue.onSubmittedWorkDone();
      const stepError = await errorOf(() => engine.step([micro], hyper));
      expect(stepError).toBeInstanceOf(GpuDeviceError);
      expect((stepError as Error).message).toMatch(
        /^the GPU device reported an error: Buffer size \(\d+\) exceeds the max buffer size limit .* \(and 1 more\)$/,
      );
      const readError = await errorOf(() => engine.readTensor('parameters', [...engine.program.arena.slots.keys()][0]));
      expect(readError).toBeInstanceOf(GpuDeviceError);
    } finally {
      await engine.destroy();
      device.destroy();
    }
  });

  it('a lost device stops the engine with the loss named', async () => {
    const { device, engine } = await ownEngine();
    try {
      device.destroy();
      await device.lost;
      const err = await errorOf(() => engine.evalLoss(micro));
      expect(err).toBeInstanceOf(GpuDeviceError);
      expect((err as Error).message).toMatch(/^the GPU device was lost \(destroyed/);
    } finally {
      await engine.destroy();
    }
  });
});
