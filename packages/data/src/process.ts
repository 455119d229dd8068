// One sample's image work, as the worker runs it: read the header, apply the size filters, choose the crop from the
// header, decode the crop with sharp, resize it with Pillow's arithmetic (resample.ts), then flip, jitter, normalise
// and patchify. References: torchvision RandomResizedCrop / Resize+CenterCrop on PIL images (see crop.ts);
// sharp's shrink-on-load for big JPEGs.

import sharp from 'sharp';
import { AIM_CROP_SCALE, DEFAULT_CROP_RATIO, EVAL_CROP_FRACTION, evalResizePlan, randomResizedCropBox, trainPlan, type ResizePlan } from './crop.js';
import { readImageHeader } from './header.js';
import { Layout } from './kernels.js';
import { resizeBicubic, resizeInKernel } from './resample.js';
import type { ImageData } from './image.js';
import { normalizedPatches, patchesInKernel, patchify } from './patches.js';
import { IMAGENET_MEAN, IMAGENET_STD, applyColorJitter, horizontalFlip, normalize, sampleColorJitter, toUnitFloat, type ColorJitterOptions } from './pixels.js';
import { randomFor } from '@aim/base/random';

/** Why the worker refused an image (the loader adds missing_image, filter:<name> and worker_error). */
export type ImageRejectReason = 'decode_error' | 'too_small' | 'aspect' | 'too_many_pixels';

/** DFN-style size filters, checked from the image header before any pixel is decoded. */
export interface ImageLimits {
  /** Reject images whose shorter side is below this (pixels, after EXIF orientation). */
  minSide: number;
  /** Reject images whose longer / shorter side exceeds this. */
  maxAspect: number;
  /** Reject images with more pixels than this; also passed to sharp as its decompression-bomb guard. */
  maxPixels: number;
}

/** PIL's default Image.MAX_IMAGE_PIXELS: the usual decompression-bomb threshold in Python loaders. */
export const DEFAULT_MAX_PIXELS = 89_478_485;

export const DEFAULT_LIMITS: Readonly<ImageLimits> = Object.freeze({ minSide: 1, maxAspect: Infinity, maxPixels: DEFAULT_MAX_PIXELS });

export interface TransformOptions {
  mode: 'train' | 'eval';
  imageSize: number;
  patchSize: number;
  /** RandomResizedCrop area range (train). */
  scale: readonly [number, number];
  /** RandomResizedCrop aspect-ratio range (train). */
  ratio: readonly [number, number];
  /** Probability of a horizontal flip (train). */
  flipProbability: number;
  /** ColorJitter (train), or null for none, as in the paper. */
  colorJitter: ColorJitterOptions | null;
  /** Eval: the shorter side is resized to floor(imageSize / cropFraction) before the centre crop. */
  cropFraction: number;
  /**
   * Let JPEGs that shrink by 3x or more decode at reduced scale (libjpeg) and resize in libvips: 2.4x faster for
   * ~3000 px photos, within a pixel of the exact crop. Off: every image is resized with Pillow's exact arithmetic.
   */
  shrinkOnLoad: boolean;
}

/**
 * Revision of the worker's pixel arithmetic: it changes whenever the same options and image give different patches
 * (2: Pillow-exact resize, torchvision float32 normalisation, ICC profiles ignored; 3: CMYK JPEGs converted with
 * Pillow's formula, RandomResizedCrop and ColorJitter factors drawn in float32 as torch draws them). Caches of transformed data
 * (e.g. eval's feature cache) key on it so an upgrade never serves stale features.
 */
export const TRANSFORM_REVISION = 3;

export function defaultTransformOptions(overrides: Partial<TransformOptions> = {}): TransformOptions {
  return {
    mode: 'train',
    imageSize: 224,
    patchSize: 14,
    scale: AIM_CROP_SCALE,
    ratio: DEFAULT_CROP_RATIO,
    flipProbability: 0.5,
    colorJitter: null,
    cropFraction: EVAL_CROP_FRACTION,
    shrinkOnLoad: true,
    ...overrides,
  };
}

/** Everything a worker needs for one sample; plain data so it crosses the thread boundary. */
export interface SampleTask {
  /** The sample key; with seed and epoch it seeds every random choice. */
  key: string;
  /** The encoded image (JPEG, PNG or WebP). */
  bytes: Uint8Array;
  seed: number;
  epoch: number;
  transform: TransformOptions;
  limits: ImageLimits;
  /**
   * Where to write the patches: `offset` floats into a SharedArrayBuffer that the caller reuses (the loader's slot
   * ring), so no buffer is allocated or transferred per image. Without it the patches get their own buffer.
   */
  out?: { buffer: SharedArrayBuffer; offset: number };
}

export type SampleResult =
  | { ok: true; key: string; patches: Float32Array /* [K, p*p*3] */; sourceWidth: number; sourceHeight: number }
  | { ok: false; key: string; reason: ImageRejectReason; message: string };

const SUPPORTED_FORMATS = new Set(['jpeg', 'png', 'webp']);

/** Decodes, filters, augments, normalises and patchifies one image. Never throws for bad image data: it rejects. */
export async function processSample(task: SampleTask): Promise<SampleResult> {
  const { key, bytes, transform, limits } = task;
  const reject = (reason: ImageRejectReason, message: string): SampleResult => ({ ok: false, key, reason, message });
  if (bytes.length === 0) return reject('decode_error', 'image is empty (0 bytes)');

  // Plain JPEG/PNG headers are parsed here; anything else (WebP, unusual files, garbage) goes to sharp.
  let header: { format?: string; width?: number; height?: number; orientation?: number; components?: number; space?: string } | null = readImageHeader(bytes);
  if (header === null) {
    try {
      header = await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch (err) {
      return reject('decode_error', `cannot read image header: ${(err as Error).message}`);
    }
  }
  if (!header.format || !SUPPORTED_FORMATS.has(header.format)) {
    return reject('decode_error', `unsupported image format '${header.format}' (JPEG, PNG and WebP are decoded)`);
  }
  if (!header.width || !header.height) return reject('decode_error', 'image header has no dimensions');
  const swap = (header.orientation ?? 1) >= 5; // EXIF orientations 5-8 transpose the image
  const width = swap ? header.height : header.width;
  const height = swap ? header.width : header.height;
  const pixels = width * height;
  if (pixels > limits.maxPixels) return reject('too_many_pixels', `${width}x${height} = ${pixels} pixels exceeds ${limits.maxPixels}`);
  const short = Math.min(width, height);
  if (short < limits.minSide) return reject('too_small', `${width}x${height}: shorter side ${short} < ${limits.minSide}`);
  const aspect = Math.max(width, height) / short;
  if (aspect > limits.maxAspect) return reject('aspect', `${width}x${height}: aspect ratio ${aspect.toFixed(2)} > ${limits.maxAspect}`);

  const size = transform.imageSize;
  const rng = randomFor(task.seed, task.epoch, key);
  // CMYK (and YCCK) JPEGs: decoded to raw CMYK and converted with Pillow's formula (see cmykToRgb), never shrunk on load.
  const cmyk = header.format === 'jpeg' && (header.components === 4 || header.space === 'cmyk');
  const shrinkOnLoad = transform.shrinkOnLoad && header.format === 'jpeg' && !cmyk;
  let plan: ResizePlan;
  let flip = false;
  if (transform.mode === 'train') {
    const box = randomResizedCropBox(width, height, rng, { scale: transform.scale, ratio: transform.ratio });
    plan = trainPlan(width, height, box, size, shrinkOnLoad);
    flip = rng.next() < transform.flipProbability;
  } else {
    plan = evalResizePlan(width, height, size, transform.cropFraction, shrinkOnLoad);
  }
  const jitter = transform.mode === 'train' && transform.colorJitter ? sampleColorJitter(rng, transform.colorJitter) : null;

  let decoded: ImageData<Uint8Array>;
  try {
    decoded = await decodeCrop(bytes, plan, limits.maxPixels, cmyk);
  } catch (err) {
    const message = (err as Error).message;
    if (/pixel limit/i.test(message)) return reject('too_many_pixels', message);
    return reject('decode_error', message);
  }
  const k = (size / transform.patchSize) ** 2;
  const dim = transform.patchSize * transform.patchSize * 3;
  const out = task.out ? new Float32Array(task.out.buffer, task.out.offset * 4, k * dim) : undefined; // [K, p*p*3]
  let patches: Float32Array; // [K, p*p*3]
  if (jitter) {
    const rgb = finishResize(decoded, plan);
    const jittered = applyColorJitter(toUnitFloat(flip ? horizontalFlip(rgb) : rgb), jitter);
    patches = patchify(normalize(jittered), transform.patchSize, out);
  } else if (plan.resizer === 'pillow') {
    // Resize and patchify without leaving the kernels' memory in between.
    const layout = new Layout();
    const resized = resizeInKernel(decoded, plan.resizeWidth, plan.resizeHeight, planWindow(plan), layout);
    patches = patchesInKernel(resized, transform.patchSize, IMAGENET_MEAN, IMAGENET_STD, flip, out, layout);
  } else {
    patches = normalizedPatches(decoded, transform.patchSize, IMAGENET_MEAN, IMAGENET_STD, flip, out);
  }
  return { ok: true, key, patches, sourceWidth: width, sourceHeight: height };
}

/**
 * Decodes the plan's crop to 8-bit RGB with sharp (EXIF orientation applied; alpha dropped and an embedded ICC
 * profile ignored, as PIL's convert('RGB') does: the colour transform would also cost 10 ms for a 1024 px photo),
 * then resizes it with Pillow's bicubic and cuts the window. The 'shrink-on-load' plan resizes inside sharp instead,
 * so libjpeg can decode a big JPEG at reduced scale.
 */
export async function decodeWithPlan(bytes: Uint8Array, plan: ResizePlan, maxPixels: number, cmyk = false): Promise<ImageData<Uint8Array>> {
  return finishResize(await decodeCrop(bytes, plan, maxPixels, cmyk), plan);
}

/**
 * Pillow's CMYK -> RGB (libImaging/Convert.c cmyk2rgb, Pillow 9.4): R = clip(255 - K - MULDIV255(C, 255 - K)),
 * likewise G from M and B from Y, with MULDIV255(a, b) = (t + (t >> 8)) >> 8 for t = a * b + 128. No colour
 * management: the embedded or a default CMYK profile is ignored, as PIL's convert('RGB') does.
 * Checked against Pillow for every (C, K) pair in test/torchvision-parity.test.ts.
 */
export function cmykToRgb(cmyk: Uint8Array, out = new Uint8Array((cmyk.length / 4) * 3)): Uint8Array {
  for (let i = 0, o = 0; i < cmyk.length; i += 4, o += 3) {
    const nk = 255 - cmyk[i + 3];
    for (let c = 0; c < 3; c++) {
      const t = cmyk[i + c] * nk + 128;
      const v = nk - ((t + (t >> 8)) >> 8);
      out[o + c] = v < 0 ? 0 : v;
    }
  }
  return out;
}

/** sharp's part of decodeWithPlan: the crop for a 'pillow' plan, the finished window for a 'shrink-on-load' one. */
async function decodeCrop(bytes: Uint8Array, plan: ResizePlan, maxPixels: number, cmyk = false): Promise<ImageData<Uint8Array>> {
  let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', sequentialRead: true, ignoreIcc: true }).autoOrient();
  if (plan.crop) pipeline = pipeline.extract(plan.crop);
  if (cmyk) {
    // Raw CMYK as libjpeg decodes it (Adobe inversion undone), no colour transform; then Pillow's arithmetic.
    if (plan.resizer !== 'pillow') throw new Error('CMYK JPEGs are resized with the exact (pillow) plan only');
    const { data, info } = await pipeline.pipelineColourspace('cmyk').toColourspace('cmyk').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const expected = plan.crop ?? { width: info.width, height: info.height };
    if (info.channels !== 4 || info.width !== expected.width || info.height !== expected.height) {
      throw new Error(`decoder produced ${info.width}x${info.height}x${info.channels}, expected CMYK ${expected.width}x${expected.height}x4`);
    }
    const rgb = cmykToRgb(new Uint8Array(data.buffer, data.byteOffset, data.length));
    return { data: rgb, width: info.width, height: info.height, channels: 3 };
  }
  const shrinking = plan.resizer === 'shrink-on-load';
  if (shrinking) {
    pipeline = pipeline.resize(plan.resizeWidth, plan.resizeHeight, { fit: 'fill', kernel: 'cubic' });
    if (plan.resizeWidth !== plan.size || plan.resizeHeight !== plan.size) pipeline = pipeline.extract(planWindow(plan));
  }
  const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const expected = shrinking ? { width: plan.size, height: plan.size } : (plan.crop ?? { width: info.width, height: info.height });
  if (info.channels !== 3 || info.width !== expected.width || info.height !== expected.height) {
    throw new Error(`decoder produced ${info.width}x${info.height}x${info.channels}, expected ${expected.width}x${expected.height}x3`);
  }
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 };
}

function finishResize(decoded: ImageData<Uint8Array>, plan: ResizePlan): ImageData<Uint8Array> {
  return plan.resizer === 'pillow' ? resizeBicubic(decoded, plan.resizeWidth, plan.resizeHeight, planWindow(plan)) : decoded;
}

const planWindow = (plan: ResizePlan) => ({ left: plan.left, top: plan.top, width: plan.size, height: plan.size });
