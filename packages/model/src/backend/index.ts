// Public surface of backend selection: which tfjs backend runs the model, and why.
export {
  AUTO_ORDER,
  BACKEND_CHOICES,
  BackendUnavailableError,
  selectBackend,
  type BackendChoice,
  type BackendName,
  type BackendSelection,
  type SelectBackendOptions,
} from './select.js';
export { type GpuMemory, type GpuMemoryReading, parseNvidiaSmiMemory, readGpuMemory } from './gpu-memory.js';
export { ensureGradientsRegistered, gradientsRegistered } from './gradients.js';
export {
  SWIFTSHADER_ICD,
  describeAdapter,
  probeWebGpu,
  vettedWebGpuAdapter,
  type WebGpuAdapterSummary,
  type WebGpuProbe,
} from './webgpu.js';
