// @aim/train: the AIM pretraining loop as a library (optimiser, schedule, clipping, config, checkpoints, metrics, plots).
export { AdamW, ADAMW_DEFAULTS, momentName, type AdamWOptions, type TrainableParameter } from './adamw.js';
export { learningRateAt, warmupSteps, type WarmupCosineSchedule } from './schedule.js';
export { globalNorm, clipScale } from './clip.js';
export { deriveSeed, trainPrefixSeed, validationPrefixSeed, SEED_STREAM } from './seed.js';
export { MetricsLog, readMetrics, lossCurveSvg, type MetricsRecord, type TrainRecord, type ValidationRecord, type EventRecord } from './metrics.js';
export {
  saveCheckpointDir,
  latestCheckpoint,
  listCheckpoints,
  checkpointDirName,
  CHECKPOINT_MARKER,
  sealCheckpoint,
  verifyCheckpoint,
  assertCheckpointVerified,
  latestVerifiedCheckpoint,
  fileDigest,
  type SaveCheckpointOptions,
  type CheckpointVerdict,
  type CheckpointSeal,
  type CheckpointFileDigest,
} from './checkpoint-dir.js';
// Checkpoint files are written with @aim/base's atomic write; the synchronous one, under the name it has here.
export { writeFileAtomicSync as writeFileAtomic } from '@aim/base/atomic-file';
export {
  AUGMENTATIONS,
  ON_OFF,
  CONFIG_FIELDS,
  DEFAULT_CONFIG,
  ConfigError,
  resolveConfig,
  readConfigFile,
  checkValues,
  flagsToValues,
  fieldForFlag,
  presetByName,
  formatConfig,
  configHelp,
  suggestion,
  type TrainConfig,
  type ConfigField,
  type ConfigValues,
  type ResolveInputs,
} from './config.js';
export { PRESETS, type Preset } from './presets.js';
export { Prefetcher } from './prefetch.js';
export {
  trainStep,
  validationLoss,
  NonFiniteLossError,
  type PretrainableModel,
  type PatchBatchLike,
  type PrefixSampler,
  type StepOptions,
  type StepResult,
  validationSums,
  type StepShard,
} from './train-step.js';
export { runPretraining, type RunOptions, type RunHooks, type RunSummary, type StepReport, type StopReason } from './run.js';
export type { RunParts, TrainData, DataPosition, PositionedBatch } from './run-parts.js';
export { resolveCheckpoint, readCheckpointState, type CheckpointState } from './checkpoint-state.js';
export { createRunParts, type CreateRunPartsOptions, type DataSpecs } from './wiring.js';
export { type ComputeOptions, type ComputeSelection, type EngineDevice, engineDeviceOf, selectCompute } from './compute.js';
export {
  ACTIVATION_CHOICES,
  AUTO_ACTIVATIONS,
  AUTO_MEMORY_SHARE,
  activationPlans,
  decideActivations,
  type ActivationChoice,
  type ActivationDecision,
  type ActivationPlans,
  type ActivationTarget,
} from './activations.js';
export { AUTO_GPU_TILES, type GpuTiles, openGpuTiles } from './gpu-tiles.js';
export { engineRunner, tfjsRunner, type RunnerOptions, type StepRunner } from './step-runner.js';
export { anyRank, broadcastParameters, microBatchesPerRank, type DataParallel } from './data-parallel.js';
export { DATA_SPLITS, type DataSplit } from './data-share.js';
