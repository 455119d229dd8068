// Public surface of @aim/model: AIM variants, model, loss, probes, safetensors checkpoints.
export {
  AIM_VARIANTS,
  AIM_VARIANT_NAMES,
  LAYER_NORM_EPS,
  type AimConfig,
  type AimConfigInput,
  type AimConfigOverrides,
  type ProbeBlocks,
  attentiveProbeParamCount,
  defaultProbeBlocks,
  headDim,
  numPatches,
  patchDim,
  pretrainHeadParamCount,
  resolveAimConfig,
  trunkParamCount,
  validateAimConfig,
} from './config.js';
export { AimModel, type CreateAimOptions, type FeatureOptions, createAim } from './model.js';
export {
  PRETRAIN_HEAD_PREFIX,
  type ParameterSpec,
  type StateLayout,
  type StateSpec,
  aimParameterSpecs,
  aimStateSpecs,
} from './param-specs.js';
export type { NamedParameter } from './parameters.js';
export {
  TARGET_NORM_EPS,
  normalizePatchTargets,
  normalizedPixelLoss,
  patchify,
  prefixLengthsFromMask,
  targetWeights,
  unpatchify,
} from './loss.js';
export { MASKED_SCORE, gelu, layerNorm, linear, prefixCausalMask, selfAttention } from './ops.js';
export { forwardFlops, matmulParams, stepFlops } from './flops.js';
export { sinCosPositionEmbedding2d } from './positions.js';
export { Mulberry32 as Rng } from '@aim/base/random'; // the seeded generator of initialisation and prefixes
export { samplePrefixLengths } from './prefix-lengths.js';
export {
  AttentiveProbe,
  LinearProbe,
  PROBE_BN_EPS,
  PROBE_BN_MOMENTUM,
  type AttentiveProbeOptions,
  type LinearProbeOptions,
  type ProbeMode,
  type ProbeStateSpec,
} from './probe.js';
export {
  FLOAT_DTYPES,
  SafetensorsFile,
  bfloat16ToFloat32,
  halfToFloat32,
  readSafetensors,
  tensorEntry,
  writeSafetensors,
  type SafetensorsData,
  type SafetensorsDtype,
  type SafetensorsTensorInfo,
  type SafetensorsWriteEntry,
  type WrittenFile,
} from './safetensors.js';
export {
  CONFIG_METADATA_KEY,
  attentiveProbeStateSpecs,
  checkCheckpoint,
  configFromMetadata,
  configMetadata,
  loadAimCheckpoint,
  saveAimCheckpoint,
  type CheckpointContents,
  type LoadAimOptions,
  type LoadedAim,
  type SaveAimOptions,
} from './checkpoint.js';
export * from './backend/index.js';
