// Public surface of @aim/gpu: AIM's training step and feature extraction written directly against WebGPU.
export { requestEngineDevice } from './device.js';
export { type EngineOptions, type MemoryPlan, describeEngine, planMemory } from './describe.js';
export { AimEngine, type AdamWHyper, type EngineStepStats, type FeatureRequest, type MicroBatch } from './engine.js';
export { GEMM_TILES, type GemmTile, gemm, gemmReference, gemmTileKey } from './kernels/gemm.js';
export { ProgramBuilder } from './program.js';
export { Runtime, type GpuCounters } from './runtime.js';
