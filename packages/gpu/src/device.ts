// Requests a GPUDevice with the limits the engine needs: the adapter's full storage-binding and buffer sizes, and,
// when asked, the features of the f16 subgroup-matrix GEMM tiles.
import type { SubgroupMatrixShape } from './kernels/gemm.js';

/** The device features f16 subgroup-matrix GEMM tiles need. */
export const SUBGROUP_MATRIX_FEATURES = ['shader-f16', 'chromium-experimental-subgroup-matrix'] as GPUFeatureName[];

/**
 * Dawn's toggles that let an NVIDIA adapter offer them: subgroup matrices are an unsafe (experimental) API, and Dawn
 * hides shader-f16 on NVIDIA's Vulkan driver unless told otherwise. In Node, the `webgpu` package's
 * `create(['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia'])` sets them.
 */
export const SUBGROUP_MATRIX_DAWN_TOGGLES = ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia'];

export interface EngineDeviceOptions {
  /** Also request the features of f16 subgroup-matrix GEMM tiles (an error naming the missing ones without them). */
  readonly subgroupMatrix?: boolean;
  /**
   * Also request 'timestamp-query', which AimEngine.profileStep needs (an error without it). Dawn rounds timestamps
   * to 100 us unless its toggle `timestamp_quantization` is off: `create(['disable-dawn-features=timestamp_quantization'])`.
   */
  readonly timestamps?: boolean;
}

/** Asks `adapter` for a device whose storage bindings and buffers are as large as the adapter allows. */
export async function requestEngineDevice(adapter: GPUAdapter, options: EngineDeviceOptions = {}): Promise<GPUDevice> {
  const l = adapter.limits;
  const requiredFeatures: GPUFeatureName[] = [];
  if (options.subgroupMatrix) {
    const missing = SUBGROUP_MATRIX_FEATURES.filter((f) => !adapter.features.has(f));
    if (missing.length > 0) {
      throw new Error(
        `this adapter does not offer ${missing.join(', ')}, which f16 subgroup-matrix GEMM tiles need ` +
          `(Dawn offers them with the toggles ${SUBGROUP_MATRIX_DAWN_TOGGLES.join(',')})`,
      );
    }
    requiredFeatures.push(...SUBGROUP_MATRIX_FEATURES);
  }
  if (options.timestamps) {
    if (!adapter.features.has('timestamp-query')) throw new Error("this adapter does not offer 'timestamp-query', which timing the engine's kernels needs");
    requiredFeatures.push('timestamp-query');
  }
  const device = await adapter.requestDevice({
    label: 'aim-gpu engine',
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(l.maxStorageBuffersPerShaderStage, 10),
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: Math.min(l.maxComputeInvocationsPerWorkgroup, 256),
      maxComputeWorkgroupSizeX: Math.min(l.maxComputeWorkgroupSizeX, 256),
    },
  });
  return device;
}

/** One entry of the adapter's `info.subgroupMatrixConfigs`. */
export interface SubgroupMatrixConfig {
  readonly componentType: string;
  readonly resultComponentType: string;
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

/** The adapter-info fields on subgroups (newer than the WebGPU typings this package builds against). */
export interface AdapterSubgroupInfo {
  readonly subgroupMinSize?: number;
  readonly subgroupMaxSize?: number;
  readonly subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[];
}

export const adapterSubgroupInfo = (adapter: GPUAdapter): AdapterSubgroupInfo => (adapter as { info?: AdapterSubgroupInfo }).info ?? {};

/**
 * The adapter's f16 x f16 -> f32 subgroup-matrix shapes (its `info.subgroupMatrixConfigs`), each with the subgroup
 * size the kernel is written for. Empty without the feature, or when the adapter's subgroup size varies (the kernel
 * finds its subgroup from the invocation index, so it needs the one size).
 */
export function f16MatrixShapes(adapter: GPUAdapter): SubgroupMatrixShape[] {
  const info = adapterSubgroupInfo(adapter);
  if (!SUBGROUP_MATRIX_FEATURES.every((f) => adapter.features.has(f))) return [];
  const size = info.subgroupMaxSize;
  if (size === undefined || size !== info.subgroupMinSize) return [];
  return (info.subgroupMatrixConfigs ?? [])
    .filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32')
    .map((c) => ({ m: c.M, n: c.N, k: c.K, subgroupSize: size }));
}
