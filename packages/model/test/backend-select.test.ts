// selectBackend: explicit names run or say why not, auto skips what it must and says why, gradients always work.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { BACKEND_CHOICES, BackendUnavailableError, SWIFTSHADER_ICD, describeAdapter, selectBackend } from '../src/index.js';

const haveSwiftShader = existsSync(SWIFTSHADER_ICD);
const ci = process.env.CI === 'true';

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/** d/dx sum(erf(x) * w) = w * 2/sqrt(pi) * exp(-x^2): needs the Erf, Mul and Sum gradients. */
async function checkErfGradient(): Promise<void> {
  const xs = [-1.5, -0.3, 0, 0.2, 0.7, 2];
  const ws = [1, -2, 0.5, 3, -1, 0.25];
  const x = tf.tensor1d(xs);
  const w = tf.tensor1d(ws);
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.erf(t), w)))(x);
  const got = await g.data();
  const want = xs.map((v, i) => (ws[i] * 2 * Math.exp(-v * v)) / Math.sqrt(Math.PI));
  for (let i = 0; i < xs.length; i++) expect(got[i]).toBeCloseTo(want[i], 4);
  tf.dispose([x, w, g]);
}

describe('selectBackend', () => {
  it('rejects an unknown name and lists the valid choices', async () => {
    for (const bad of ['gpu', 'WASM', '', 'tfjs-node']) {
      await expect(selectBackend(bad as never)).rejects.toThrow(`unknown backend ${JSON.stringify(bad)}; valid choices: ${BACKEND_CHOICES.join(', ')}`);
    }
  });

  it.each(['cpu', 'wasm'] as const)('activates %s by name, with gradients registered', async (name) => {
    const selection = await selectBackend(name);
    expect(selection.name).toBe(name);
    expect(selection.skipped).toEqual([]);
    expect(tf.getBackend()).toBe(name);
    await checkErfGradient();
  });

  it('says the wasm backend runs the SIMD build from local files', async () => {
    const selection = await selectBackend('wasm');
    expect(selection.reason).toContain('SIMD build');
  });

  it("'tensorflow' by name runs when tfjs-node is installed, else says which packages are missing", async () => {
    if (installed('@tensorflow/tfjs-node-gpu') || installed('@tensorflow/tfjs-node')) {
      expect((await selectBackend('tensorflow')).name).toBe('tensorflow');
      return;
    }
    const err = await selectBackend('tensorflow').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/@tensorflow\/tfjs-node-gpu is not installed.*@tensorflow\/tfjs-node is not installed/);
    expect(tf.getBackend()).not.toBe('tensorflow');
  });

  it.runIf(haveSwiftShader || ci)('auto never picks a software WebGPU adapter and says why it skipped it', async () => {
    expect(haveSwiftShader, `CI=true needs ${SWIFTSHADER_ICD} (Debian package chromium)`).toBe(true);
    const before = process.env.VK_DRIVER_FILES;
    process.env.VK_DRIVER_FILES = SWIFTSHADER_ICD; // the only Vulkan driver auto can see is SwiftShader
    try {
      const selection = await selectBackend('auto');
      expect(selection.name).not.toBe('webgpu');
      const webgpu = selection.skipped.find((s) => s.name === 'webgpu');
      expect(webgpu?.why).toMatch(/software adapter.*swiftshader.*ask for 'webgpu' by name/i);
      expect(selection.skipped.map((s) => s.name)).toEqual(['tensorflow', 'webgpu']);
      expect(selection.name).toBe('wasm');
      expect(selection.reason).toMatch(/^auto: wasm is the first available after tensorflow, webgpu/);
    } finally {
      if (before === undefined) delete process.env.VK_DRIVER_FILES;
      else process.env.VK_DRIVER_FILES = before;
    }
  });

  it.runIf(haveSwiftShader || ci)("'webgpu' by name accepts the software adapter and computes in float32", async () => {
    const selection = await selectBackend('webgpu', { softwareWebGpuFallback: true });
    expect(selection.name).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    await checkErfGradient();
    // A matmul big enough to run on the device, against the same product computed in float64 here.
    const n = 48;
    const a = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i * 0.37));
    const b = Float32Array.from({ length: n * n }, (_, i) => Math.cos(i * 0.11));
    const c = tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n]));
    const got = await c.data();
    let worst = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
        worst = Math.max(worst, Math.abs(got[i * n + j] - s) / (Math.abs(s) + 1));
      }
    }
    expect(worst).toBeLessThan(1e-5);
  });
});

it('describeAdapter names the GPU model with its vendor and driver (the file name of --gpu-tiles auto derives from it)', () => {
  const h100 = { vendor: 'nvidia', architecture: '', device: 'NVIDIA H100 80GB HBM3', description: 'NVIDIA: 580.159.04', software: false };
  expect(describeAdapter(h100)).toBe('nvidia / NVIDIA H100 80GB HBM3 / NVIDIA: 580.159.04');
  expect(describeAdapter({ ...h100, device: 'NVIDIA H200' })).not.toBe(describeAdapter(h100));
  const swiftShader = { vendor: 'google', architecture: 'swiftshader', device: 'swiftshader', description: '', software: true };
  expect(describeAdapter(swiftShader)).toBe('google / swiftshader (software fallback adapter)');
});
