// Public surface of @aim/gpu: AIM's training step and feature extraction written directly against WebGPU.
export { type BoundsCheck, DISABLE_ROBUSTNESS, boundsCheck, dawnToggleFlags, engineDawnFlags } from './bounds-checks.js';
export { type EngineDeviceOptions, SUBGROUP_MATRIX_DAWN_TOGGLES, SUBGROUP_MATRIX_FEATURES, f16MatrixShapes, requestEngineDevice } from './device.js';
export { ACTIVATION_MODES, type ActivationMode, type EngineOptions, type MemoryPlan, describeEngine, planMemory } from './describe.js';
export { GpuDeviceError } from './device-watch.js';
export { type GemmShape, gemmRate, gemmRates } from './gemm-rate.js';
export { AimEngine, type AdamWHyper, type ArenaName, type EngineStepStats, type FeatureRequest, type MicroBatch, type ProfiledDispatch } from './engine.js';
export { GEMM_TILES, type GemmTile, type SubgroupMatrixShape, gemm, gemmReference, gemmTileKey } from './kernels/gemm.js';
export { ProgramBuilder } from './program.js';
export { Runtime, type GpuCounters } from './runtime.js';
export { TILE_CANDIDATES, tileName } from './tile-candidates.js';
export { type TileTuning, type TileTuningOptions, checkedTiles, tileUnfit, tuneGemmTiles } from './tune-tiles.js';
export { GEMM_TILES_FORMAT, type GemmTilesFile, gemmTilesFile, parseGemmTiles } from './tuned-tiles.js';
