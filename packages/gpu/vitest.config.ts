import { defineAimVitestConfig } from '../../vitest.shared.js';

// WebGPU tests run on SwiftShader (shaders on the CPU) in CI, next to other test processes: allow minutes.
export default defineAimVitestConfig({ testTimeout: 300_000 });
