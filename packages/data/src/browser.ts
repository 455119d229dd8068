// What a browser page can take from @aim/data: the eval transform's geometry, its normalisation and Pillow's bicubic taps, both free of
// Node and of the WebAssembly kernels, so a page reproduces the loader's eval pixels without a second copy of either.
export { EVAL_CROP_FRACTION, evalResizePlan, type ResizePlan } from './crop.js';
export { IMAGENET_MEAN, IMAGENET_STD } from './pixels.js';
export { ONE as BICUBIC_ONE, PRECISION_BITS as BICUBIC_PRECISION_BITS, axisCoefficients, type AxisCoefficients } from './bicubic-taps.js';
