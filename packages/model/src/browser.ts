// The tfjs model for browser pages (no Node built-ins, no backend selection): the spec entry plus the model and
// the attentive probe. The page registers a tfjs backend itself (e.g. @tensorflow/tfjs-backend-wasm).
export * from './spec.js';
export { AimModel, createAim } from './model.js';
export { AttentiveProbe } from './probe.js';
