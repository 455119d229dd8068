// @aim/eval: probes on frozen AIM features (attentive, linear, kNN), feature cache, reports and plots.
export {
  FEATURES_FLAGS,
  FEATURES_USAGE,
  PROBE_KINDS,
  PROBE_FLAGS,
  PROBE_RENAMED,
  PROBE_USAGE,
  UsageError,
  parseBlocks,
  featuresArgsFromCli,
  parseFeaturesArgs,
  parseProbeArgs,
  probeArgsFromCli,
  type BlockSelection,
  type FeaturesArgs,
  type ProbeArgs,
  type ProbeKind,
} from './cli-args.js';
export { FeatureCache, fileSha256, type CacheKey, type CachedFeatures } from './cache.js';
export { resolveCheckpoints, type CheckpointRef } from './checkpoints.js';
export { loadSplit, type LabeledPatches, type LoadSplitOptions } from './data-source.js';
export { dataResolver } from './data-spec.js';
export { extractBlockMeans } from './extract.js';
export { meanPool, type TokenFeatures } from './features.js';
export { PROBE_BLOCKS_METADATA_KEY, computeFeatures, featuresCommand, probeBlocksOf, type FeaturesOutput } from './features-command.js';
export { attentiveProbeOf, modelHeads } from './heads.js';
export { confusionHeatmapSvg, type HeatmapOptions } from './heatmap.js';
export { knnScores, type FeatureSet, type KnnOptions } from './knn.js';
export { argmax, classificationMetrics, type ClassificationMetrics, type ScoreMatrix } from './metrics.js';
export { probeCommand, resolveBlocks, type DataResolver, type ProbeCommandDeps, type ProbeCommandResult, type Split } from './probe-command.js';
export { recipeOf, runProbe, type HeadFactories, type LabeledFeatures, type ProbeOutcome, type ProbeSettings } from './probes.js';
export {
  reportFromMetrics,
  reportMarkdown,
  writeReport,
  type BaselineResult,
  type CheckpointPoint,
  type EvalReport,
  type ProbeRecipe,
  type Score,
  type SweepPoint,
} from './report.js';
export {
  crossEntropy,
  permutation,
  predictScores,
  trainProbe,
  type ProbeData,
  type ProbeHead,
  type ProbeRecipeOptions,
  type TrainProbeResult,
} from './train-probe.js';
