// Public surface of @aim/gpu: AIM's training step and feature extraction on WebGPU.
export { requestEngineDevice } from './device.js';
export { GEMM_TILES, type GemmTile, gemm, gemmReference } from './kernels/gemm.js';
export { ProgramBuilder } from './program.js';
export { Runtime, type GpuCounters } from './runtime.js';
