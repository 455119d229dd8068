// Picks and activates the tfjs backend the model runs on, and says why it skipped the others.
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradientsRegistered } from './gradients.js';
import { loadTensorflowBackend } from './tensorflow.js';
import { configureWasmBackend } from './wasm.js';
import { describeAdapter, probeWebGpu, registeredWebGpuAdapter, registerWebGpuBackend, type WebGpuAdapterSummary } from './webgpu.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export type BackendName = Exclude<BackendChoice, 'auto'>;

/** The order 'auto' tries: fastest first. */
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

export interface SelectBackendOptions {
  /**
   * For 'webgpu' by name: when no adapter answers and VK_DRIVER_FILES is unset, point Vulkan at SwiftShader
   * (/usr/lib/chromium/vk_swiftshader_icd.json, Debian's chromium) and ask again. Tests and CI set this.
   */
  softwareWebGpuFallback?: boolean;
}

export interface BackendSelection {
  /** The active tfjs backend (tf.getBackend() returns the same name). */
  name: BackendName;
  /** What runs and why it was chosen. */
  reason: string;
  /** Backends tried before it, each with the reason it was not used. */
  skipped: { name: BackendName; why: string }[];
  /** For webgpu: the adapter it runs on (`software` true for SwiftShader and other fallback adapters). */
  adapter?: WebGpuAdapterSummary;
}

export class BackendUnavailableError extends Error {
  constructor(
    readonly backend: BackendName,
    readonly why: string,
  ) {
    super(`backend '${backend}' is not available: ${why}`);
    this.name = 'BackendUnavailableError';
  }
}

type Attempt = { ok: true; reason: string; adapter?: WebGpuAdapterSummary } | { ok: false; why: string };

function isBackendChoice(value: unknown): value is BackendChoice {
  return typeof value === 'string' && (BACKEND_CHOICES as readonly string[]).includes(value);
}

async function activate(name: BackendName): Promise<string | undefined> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (err) {
    return `tf.setBackend('${name}') threw: ${String(err)}`;
  }
  if (!ok) return `tf.setBackend('${name}') failed to initialise it (see the warning above)`;
  await tf.ready();
  return await checkFloat32(name);
}

/**
 * Every backend must compute in float32: 1 + 2^-20 is exact in float32 and rounds to 1 in float16. 4096 elements keep
 * the op on the device (webgpu forwards small ops to the CPU).
 */
async function checkFloat32(name: BackendName): Promise<string | undefined> {
  const eps = 2 ** -20;
  const dotTensor = tf.tidy(() => {
    const x = tf.fill([4096], 1 + eps, 'float32'); // [4096]
    const ones = tf.ones([4096, 1]); // [4096, 1]
    const diff = tf.sub(x, tf.scalar(1)); // [4096]
    const dot = tf.matMul(tf.reshape(diff, [1, 4096]), ones); // [1, 1]
    return dot;
  });
  // Async read: webgpu in Node cannot read synchronously (its dataSync needs OffscreenCanvas).
  const got = (await dotTensor.data())[0];
  dotTensor.dispose();
  const want = 4096 * eps;
  if (Math.abs(got - want) > 1e-4 * want) {
    return `backend '${name}' does not compute in float32 (sum of 4096 x 2^-20 gave ${got}, want ${want})`;
  }
  return undefined;
}

async function tryTensorflow(): Promise<Attempt> {
  const load = await loadTensorflowBackend();
  if (!load.loaded) return { ok: false, why: load.failures.map((f) => f.why).join('; ') };
  const failed = await activate('tensorflow');
  if (failed) return { ok: false, why: `${load.loaded} loaded but ${failed}` };
  return { ok: true, reason: `${load.loaded} (libtensorflow)` };
}

async function tryWebGpu(acceptSoftware: boolean, softwareFallback: boolean): Promise<Attempt> {
  // Registered before: reuse it. Re-registering would dispose the live backend and every tensor on it.
  const current = registeredWebGpuAdapter();
  if (current && (acceptSoftware || !current.software)) {
    const failed = await activate('webgpu');
    return failed ? { ok: false, why: failed } : { ok: true, reason: `Dawn adapter ${describeAdapter(current)}`, adapter: current };
  }
  const probe = await probeWebGpu({ softwareFallback: acceptSoftware && softwareFallback });
  if (!probe.adapter) return { ok: false, why: probe.why ?? 'no WebGPU adapter' };
  const described = describeAdapter(probe.adapter);
  if (probe.adapter.software && !acceptSoftware) {
    return {
      ok: false,
      why: `only a software adapter (${described}); it is far slower than wasm, so auto never uses it: ask for 'webgpu' by name`,
    };
  }
  try {
    await registerWebGpuBackend();
  } catch (err) {
    return { ok: false, why: `tfjs-backend-webgpu failed to load: ${String(err)}` };
  }
  const failed = await activate('webgpu');
  if (failed) return { ok: false, why: `adapter ${described}: ${failed}` };
  const viaDefault = probe.usedSoftwareDefault ? ', VK_DRIVER_FILES defaulted to SwiftShader' : '';
  return { ok: true, reason: `Dawn adapter ${described}${viaDefault}`, adapter: probe.adapter };
}

async function tryWasm(): Promise<Attempt> {
  let setup;
  try {
    setup = await configureWasmBackend();
  } catch (err) {
    return { ok: false, why: err instanceof Error ? err.message : String(err) };
  }
  const failed = await activate('wasm');
  if (failed) return { ok: false, why: failed };
  return {
    ok: true,
    reason: `XNNPACK ${setup.simd ? 'SIMD' : 'non-SIMD'} build, 1 thread (Node cannot start the threaded build)`,
  };
}

async function tryCpu(): Promise<Attempt> {
  await import('@tensorflow/tfjs-backend-cpu');
  // On its first tensor in Node, tfjs-backend-cpu prints a banner telling the user to install tfjs-node, which cannot
  // be installed offline; the backend line we print says what runs and why. Mark the instance as used before any write.
  const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
  const failed = await activate('cpu');
  return failed ? { ok: false, why: failed } : { ok: true, reason: 'plain JavaScript reference kernels' };
}

function attempt(name: BackendName, explicit: boolean, opts: SelectBackendOptions): Promise<Attempt> {
  switch (name) {
    case 'tensorflow':
      return tryTensorflow();
    case 'webgpu':
      return tryWebGpu(explicit, opts.softwareWebGpuFallback ?? false);
    case 'wasm':
      return tryWasm();
    case 'cpu':
      return tryCpu();
  }
}

/**
 * Activates a tfjs backend and registers every gradient. 'auto' tries tensorflow, webgpu (hardware adapters only),
 * wasm, then cpu; a backend asked for by name either runs or throws BackendUnavailableError saying why.
 */
export async function selectBackend(choice: BackendChoice, opts: SelectBackendOptions = {}): Promise<BackendSelection> {
  if (!isBackendChoice(choice)) {
    throw new Error(`selectBackend: unknown backend ${JSON.stringify(choice)}; valid choices: ${BACKEND_CHOICES.join(', ')}`);
  }
  await ensureGradientsRegistered();
  if (choice !== 'auto') {
    const result = await attempt(choice, true, opts);
    if (!result.ok) throw new BackendUnavailableError(choice, result.why);
    return { name: choice, reason: `${choice} asked for by name: ${result.reason}`, skipped: [], adapter: result.adapter };
  }
  const skipped: { name: BackendName; why: string }[] = [];
  for (const name of AUTO_ORDER) {
    const result = await attempt(name, false, opts);
    if (result.ok) {
      const first = skipped.length === 0 ? 'the first choice' : `the first available after ${skipped.map((s) => s.name).join(', ')}`;
      return { name, reason: `auto: ${name} is ${first}: ${result.reason}`, skipped, adapter: result.adapter };
    }
    skipped.push({ name, why: result.why });
  }
  // Unreachable in practice: the cpu backend ships with this package.
  throw new Error(`selectBackend('auto'): no backend could start: ${skipped.map((s) => `${s.name}: ${s.why}`).join('; ')}`);
}
