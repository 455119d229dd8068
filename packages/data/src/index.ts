// @aim/data: the AIM image pipeline (pure transforms, the sharp worker, and the Piscina loader).
export type { ImageData } from './image.js';
export { assertImageShape } from './image.js';
export { Rng, rngFor } from './random.js';
export { readImageHeader, type ImageHeader } from './header.js';
export {
  AIM_CROP_SCALE,
  DEFAULT_CROP_RATIO,
  EVAL_CROP_FRACTION,
  SHRINK_ON_LOAD_FROM,
  cropFirstPlan,
  resizeFirstPlan,
  trainPlan,
  evalResizePlan,
  randomResizedCropBox,
  roundHalfEven,
  type CropBox,
  type RandomResizedCropOptions,
  type ResizePlan,
} from './crop.js';
export {
  AIM_COLOR_JITTER,
  IMAGENET_MEAN,
  IMAGENET_STD,
  applyColorJitter,
  denormalize,
  horizontalFlip,
  normalize,
  sampleColorJitter,
  toUnitFloat,
  type ColorJitterOptions,
  type ColorJitterParams,
} from './pixels.js';
export { normalizedPatches, patchGrid, patchify, unpatchify, type PatchGrid } from './patches.js';
export { axisCoefficients, resizeBicubic, type AxisCoefficients, type ResizeWindow } from './resample.js';
export {
  DEFAULT_LIMITS,
  DEFAULT_MAX_PIXELS,
  TRANSFORM_REVISION,
  cmykToRgb,
  decodeWithPlan,
  defaultTransformOptions,
  processSample,
  type ImageLimits,
  type ImageRejectReason,
  type SampleResult,
  type SampleTask,
  type TransformOptions,
} from './process.js';
export {
  createLoader,
  reserveDecodeThreads,
  type LoaderFilters,
  type LoaderOptions,
  type LoaderPosition,
  type LoaderSource,
  type LoaderStats,
  type PatchBatch,
  type PatchLoader,
  type RejectReason,
  type Rejection,
  type SampleInfo,
} from './loader.js';
export { createPool, workerLocation, type PoolOptions } from './pool.js';
export { type LoaderShare } from './share.js';
