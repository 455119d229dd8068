// The browser-safe part of @aim/model (no tfjs, no Node built-ins): variants, parameter specs, position
// embeddings and seeded randomness. The WebGPU engine and browser pages import this entry.
export * from './config.js';
export * from './param-specs.js';
export { CONFIG_METADATA_KEY, configFromMetadata, configMetadata } from './config-metadata.js';
export { sinCosPositionEmbedding2d } from './positions.js';
export { Mulberry32 as Rng } from '@aim/base/random'; // the seeded generator of initialisation and prefixes
export { samplePrefixLengths } from './prefix-lengths.js';
export { forwardFlops, matmulParams, stepFlops } from './flops.js';
