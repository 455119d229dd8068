// WebGPU in Node: Dawn's binding (npm `webgpu`) provides navigator.gpu; tfjs-backend-webgpu runs on the adapter we vet.
//
// References: https://github.com/dawn-gpu/node-webgpu (create/globals), tfjs-backend-webgpu src/base.ts (device setup).
/// <reference types="@webgpu/types" />
import * as tf from '@tensorflow/tfjs-core';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** Debian's chromium ships SwiftShader, a CPU Vulkan driver that Dawn accepts as a (fallback) adapter. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface WebGpuAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software adapters (SwiftShader, or anything the driver calls a fallback adapter). */
  software: boolean;
}

export interface WebGpuProbe {
  adapter?: WebGpuAdapterSummary;
  /** Why there is no usable adapter, when there is none. */
  why?: string;
  /** True when this probe set VK_DRIVER_FILES to SwiftShader because nothing else answered. */
  usedSoftwareDefault: boolean;
}

interface DawnModule {
  create: (flags: string[]) => GPU;
  globals: Record<string, unknown>;
}

let dawn: DawnModule | undefined;
let vettedAdapter: GPUAdapter | undefined;
let registered: WebGpuAdapterSummary | undefined;

/** The adapter the last successful `probeWebGpu` found (what the WebGPU engine requests its device from). */
export function vettedWebGpuAdapter(): GPUAdapter | undefined {
  return vettedAdapter;
}

/** The adapter the registered 'webgpu' backend runs on, once registerWebGpuBackend has run. */
export function registeredWebGpuAdapter(): WebGpuAdapterSummary | undefined {
  return registered;
}

/**
 * `webgpu` is an optional peer dependency of this package (Dawn's binaries for every platform, ~130 MB), so a user who
 * never asks for the GPU path need not install it. Without it, the GPU path says which package to install.
 */
export const DAWN_NOT_INSTALLED = "the optional package 'webgpu' (Dawn, WebGPU for Node) is not installed; `npm install webgpu` to use the WebGPU backend";

/** True for Node's "cannot find" error about `webgpu` itself (not about a file or dependency inside it). */
function isDawnMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && /Cannot find (package|module) 'webgpu'/.test(String((err as Error).message));
}

async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  let mod: DawnModule;
  try {
    // A literal specifier, so that bundles (bench/device) include the binding.
    mod = (await import('webgpu')) as unknown as DawnModule;
  } catch (err) {
    throw isDawnMissing(err) ? new Error(DAWN_NOT_INSTALLED, { cause: err }) : err;
  }
  // GPUBufferUsage, GPUMapMode, ... are globals in browsers; tfjs-backend-webgpu uses them as such.
  Object.assign(globalThis, mod.globals);
  dawn = mod;
  return mod;
}

/**
 * Node 20 has no `navigator`; Node 21+ has a getter-only one. Put `gpu` on it either way, because
 * tfjs-backend-webgpu checks `navigator.gpu` when it is imported.
 */
function installNavigatorGpu(gpu: GPU): void {
  const g = globalThis as { navigator?: object };
  if (g.navigator == null) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  }
}

function summarise(adapter: GPUAdapter): WebGpuAdapterSummary {
  const info = (adapter as { info?: GPUAdapterInfo }).info;
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const fallbackFlag =
    (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter === true ||
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const text = `${vendor} ${architecture} ${info?.device ?? ''} ${info?.description ?? ''}`.toLowerCase();
  // Older Dawn builds do not set isFallbackAdapter for SwiftShader; its name is the reliable tell.
  const software = fallbackFlag || /swiftshader|llvmpipe|lavapipe|software/.test(text);
  return { vendor, architecture, device: info?.device ?? '', description: info?.description ?? '', software };
}

/** The adapter in one line: vendor, architecture, device (the GPU's model, e.g. "NVIDIA H100 80GB HBM3") and driver. */
export function describeAdapter(a: WebGpuAdapterSummary): string {
  const name = [...new Set([a.vendor, a.architecture, a.device, a.description].filter((s) => s !== ''))].join(' / ') || 'unnamed adapter';
  return `${name}${a.software ? ' (software fallback adapter)' : ''}`;
}

/**
 * Asks for an adapter in a child Node first (undefined when the `webgpu` package cannot be resolved from here, as in a
 * self-contained bundle). When none answers, Dawn writes its warnings ("Couldn't load Vulkan",
 * "vkCreateInstance failed", each with a source path from Dawn's build machine) straight to file descriptor 2, which
 * no JavaScript can intercept; in the child they are captured, and the first one becomes part of the reason.
 */
async function adapterInChild(): Promise<{ adapter: boolean; dawnSaid?: string; loadError?: string } | undefined> {
  let entry: string;
  try {
    entry = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  } catch {
    // Not installed, or bundled without node_modules (bench/device): ask in this process, whose import says which.
    return undefined;
  }
  const script =
    'const { create } = await import(process.env.AIM_DAWN_ENTRY);' +
    "const a = await create([]).requestAdapter({ powerPreference: 'high-performance' });" +
    "process.stdout.write(a ? 'ADAPTER' : 'NONE'); process.exit(0);";
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, AIM_DAWN_ENTRY: entry }, timeout: 60_000 }, (_err, out, err) =>
      resolve({ stdout: String(out), stderr: String(err) }),
    );
  });
  const warnings = stderr
    .split('\n')
    .filter((l) => l.startsWith('Warning: '))
    .map((l) => l.slice('Warning: '.length).trim());
  if (stdout.includes('ADAPTER')) return { adapter: true };
  if (stdout.includes('NONE')) return { adapter: false, dawnSaid: warnings[0] };
  const firstLine = stderr.split('\n').find((l) => /error/i.test(l)) ?? stderr.trim().split('\n')[0] ?? 'no output';
  return { adapter: false, loadError: firstLine.trim() };
}

async function requestAdapter(flags: string[]): Promise<{ gpu?: GPU; adapter: GPUAdapter | null; why?: string; dawnSaid?: string }> {
  const child = await adapterInChild();
  if (child?.loadError) throw new Error(child.loadError);
  if (child && !child.adapter) return { adapter: null, dawnSaid: child.dawnSaid };
  const { create } = await loadDawn();
  // A new instance per probe: Dawn reads VK_DRIVER_FILES when it creates the Vulkan instance.
  const gpu = create(flags);
  try {
    return { gpu, adapter: await gpu.requestAdapter({ powerPreference: 'high-performance' }) };
  } catch (err) {
    return { gpu, adapter: null, why: `requestAdapter threw: ${String(err)}` };
  }
}

/**
 * Finds a WebGPU adapter and keeps it for `registerWebGpuBackend`. With `softwareFallback`, when VK_DRIVER_FILES is
 * unset and no adapter answers, points Vulkan at SwiftShader (if chromium's ICD file exists) and asks again.
 * `dawnFlags` go to the binding's `create` (e.g. 'enable-dawn-features=disable_robustness': Dawn applies these
 * toggles to the adapter and to every device requested from it).
 */
export async function probeWebGpu(opts: { softwareFallback?: boolean; dawnFlags?: string[] } = {}): Promise<WebGpuProbe> {
  let dawnError: unknown;
  const flags = opts.dawnFlags ?? [];
  const first = await requestAdapter(flags).catch((err: unknown) => {
    dawnError = err;
    return undefined;
  });
  if (!first) {
    const why =
      dawnError instanceof Error && dawnError.message === DAWN_NOT_INSTALLED
        ? DAWN_NOT_INSTALLED
        : `the Dawn binding (npm 'webgpu') failed to load: ${String(dawnError)}`;
    return { why, usedSoftwareDefault: false };
  }
  let { gpu, adapter, why, dawnSaid } = first;
  let usedSoftwareDefault = false;
  if (!adapter && opts.softwareFallback && process.env.VK_DRIVER_FILES === undefined && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_DRIVER_FILES = SWIFTSHADER_ICD;
    usedSoftwareDefault = true;
    ({ gpu, adapter, why, dawnSaid } = await requestAdapter(flags));
  }
  if (!adapter) {
    const vk = process.env.VK_DRIVER_FILES;
    // Only an explicit webgpu request falls back to SwiftShader, so only then is the env variable the advice.
    const hint = vk
      ? `VK_DRIVER_FILES=${vk} gave none`
      : opts.softwareFallback
        ? `no Vulkan driver answered, and SwiftShader was not found at ${SWIFTSHADER_ICD} (Debian package chromium)`
        : 'no Vulkan driver answered (no GPU); --backend webgpu runs on SwiftShader (Debian package chromium), correct but slow';
    return { why: why ?? `no WebGPU adapter${dawnSaid ? ` (Dawn: ${dawnSaid})` : ''}: ${hint}`, usedSoftwareDefault };
  }
  vettedAdapter = adapter;
  installNavigatorGpu(gpu!);
  return { adapter: summarise(adapter), usedSoftwareDefault };
}

/**
 * Imports tfjs-backend-webgpu (after navigator.gpu exists) and registers the 'webgpu' backend on the adapter the last
 * successful probe found, replacing the package's own factory, which would pick an adapter by itself.
 */
export async function registerWebGpuBackend(): Promise<void> {
  const adapter = vettedAdapter;
  if (!adapter) throw new Error('registerWebGpuBackend: no vetted adapter; call probeWebGpu() first');
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  registered = summarise(adapter);
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      // The same device request as the package's factory (src/base.ts): the adapter's full compute limits.
      const limits = adapter.limits;
      const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
      const device = await adapter.requestDevice({
        requiredFeatures,
        requiredLimits: {
          maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
          maxBufferSize: limits.maxBufferSize,
          maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        },
      });
      const info = (adapter as { info?: GPUAdapterInfo }).info;
      return new WebGPUBackend(device, info);
    },
    3,
  );
}
