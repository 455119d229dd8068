// @aim/data: the AIM image pipeline (pure transforms, the sharp worker, and the Piscina loader).
export type { ImageData } from './image.js';
export { assertImageShape } from './image.js';
// Augmentation's seeded draws, under the names this package has always exported them by.
export { Random as Rng, randomFor as rngFor } from '@aim/base/random';
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
export { axisCoefficients, type AxisCoefficients } from './bicubic-taps.js';
export { resizeBicubic, type ResizeWindow } from './resample.js';
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
export { createLoader } from './loader.js';
export { reserveDecodeThreads } from './decode-threads.js';
export type {
  LoaderFilters,
  LoaderOptions,
  LoaderPosition,
  LoaderSource,
  LoaderStats,
  PatchBatch,
  PatchLoader,
  RejectReason,
  Rejection,
  SampleInfo,
} from './loader-types.js';
export { createPool, workerLocation, type PoolOptions } from './pool.js';
export type { LoaderShare } from './share.js';
