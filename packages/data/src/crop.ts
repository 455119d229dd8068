// Crop geometry: torchvision's RandomResizedCrop box sampling and the eval resize + centre crop, as pure functions
// that return boxes and resize plans (no pixels), so the box can be chosen from the image header before decoding.
// References: torchvision.transforms.RandomResizedCrop.get_params, torchvision.transforms.functional.resize /
// center_crop (v0.17+); timm's eval transform (crop_pct 0.875).

import type { Random } from '@aim/base/random';

/** A crop rectangle in pixel coordinates of the (EXIF-oriented) source image. */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
  /** True when all 10 random attempts failed and torchvision's centre-crop fallback was used. */
  fallback: boolean;
}

/**
 * How to get the size x size output: cut `crop` from the source (when not null), resize that to
 * resizeWidth x resizeHeight (bicubic), then cut the size x size window at (left, top).
 * `resizer`: 'pillow' resizes with Pillow's exact arithmetic (what torchvision does to PIL images);
 * 'shrink-on-load' lets libjpeg decode a big JPEG at 1/2-1/8 scale and libvips resize the rest (approximate).
 */
export interface ResizePlan {
  crop: { left: number; top: number; width: number; height: number } | null;
  resizer: 'pillow' | 'shrink-on-load';
  resizeWidth: number;
  resizeHeight: number;
  left: number;
  top: number;
  size: number;
}

/** torchvision's order for RandomResizedCrop: crop the box, resize it to size x size. */
export function cropFirstPlan(box: CropBox, size: number): ResizePlan {
  return {
    crop: { left: box.left, top: box.top, width: box.width, height: box.height },
    resizer: 'pillow',
    resizeWidth: size,
    resizeHeight: size,
    left: 0,
    top: 0,
    size,
  };
}

export interface RandomResizedCropOptions {
  /** Range of the crop's area as a fraction of the image area; AIM uses (0.4, 1.0). */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio (width / height), sampled log-uniformly. */
  ratio?: readonly [number, number];
}

export const AIM_CROP_SCALE: readonly [number, number] = [0.4, 1.0];
export const DEFAULT_CROP_RATIO: readonly [number, number] = [3 / 4, 4 / 3];
/** The eval transform resizes the shorter side to floor(size / 0.875) (256 for 224), then centre-crops. */
export const EVAL_CROP_FRACTION = 0.875;

/** Python's round(): halves go to the even neighbour (torchvision's box arithmetic relies on it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Samples a RandomResizedCrop box exactly as torchvision does: up to 10 attempts drawing an area fraction uniformly
 * from `scale` and an aspect ratio log-uniformly from `ratio`; the first box that fits is placed uniformly at random.
 * If none fits, the centre crop of the largest box whose ratio is clamped into `ratio`.
 */
export function randomResizedCropBox(width: number, height: number, rng: Random, options: RandomResizedCropOptions = {}): CropBox {
  const [scaleLow, scaleHigh] = options.scale ?? AIM_CROP_SCALE;
  const [ratioLow, ratioHigh] = options.ratio ?? DEFAULT_CROP_RATIO;
  if (!(width > 0 && height > 0)) throw new RangeError(`randomResizedCropBox: image is ${width}x${height}`);
  if (!(0 < scaleLow && scaleLow <= scaleHigh)) throw new RangeError(`randomResizedCropBox: bad scale [${scaleLow}, ${scaleHigh}]`);
  if (!(0 < ratioLow && ratioLow <= ratioHigh)) throw new RangeError(`randomResizedCropBox: bad ratio [${ratioLow}, ${ratioHigh}]`);
  const area = width * height;
  // torchvision computes these in float32 tensors: log_ratio = torch.log(torch.tensor(ratio)), the draws with
  // torch.empty(1).uniform_, the aspect with torch.exp; the rest (area, sqrt, round) in Python floats.
  const f32 = Math.fround;
  const logRatioLow = f32(Math.log(f32(ratioLow)));
  const logRatioHigh = f32(Math.log(f32(ratioHigh)));
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniformFloat32(scaleLow, scaleHigh);
    const aspect = f32(Math.exp(rng.uniformFloat32(logRatioLow, logRatioHigh)));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(0, height - h + 1);
      const left = rng.int(0, width - w + 1);
      return { left, top, width: w, height: h, fallback: false };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratioLow) {
    h = roundHalfEven(w / ratioLow);
  } else if (inRatio > ratioHigh) {
    w = roundHalfEven(h * ratioHigh);
  }
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h, fallback: true };
}

/**
 * The same box as a resize-first plan: scale the whole image by (size / box.width, size / box.height) and cut the
 * window where the box lands. Resizing first lets libjpeg decode at 1/2, 1/4 or 1/8 scale (shrink-on-load), which a
 * crop-first pipeline forbids; the window is within one output pixel of the exact crop-then-resize because resized
 * dimensions and offsets are whole pixels.
 */
export function resizeFirstPlan(imageWidth: number, imageHeight: number, box: CropBox, size: number): ResizePlan {
  const sx = size / box.width;
  const sy = size / box.height;
  const resizeWidth = Math.max(size, Math.round(imageWidth * sx));
  const resizeHeight = Math.max(size, Math.round(imageHeight * sy));
  const left = Math.min(Math.max(0, Math.round(box.left * sx)), resizeWidth - size);
  const top = Math.min(Math.max(0, Math.round(box.top * sy)), resizeHeight - size);
  return { crop: null, resizer: 'shrink-on-load', resizeWidth, resizeHeight, left, top, size };
}

/**
 * sharp shrinks a JPEG on load only when the resize shrinks by this much or more (below that it halves its factor),
 * so the approximate shrink-on-load form pays off only then; otherwise the exact form is as fast.
 */
export const SHRINK_ON_LOAD_FROM = 3;

/**
 * The train plan for a crop box: torchvision's crop-then-resize, exact; or, when `shrinkOnLoad` (a JPEG, and the
 * transform allows it) and the box shrinks by SHRINK_ON_LOAD_FROM or more, the resize-first form.
 */
export function trainPlan(imageWidth: number, imageHeight: number, box: CropBox, size: number, shrinkOnLoad: boolean): ResizePlan {
  const shrink = Math.min(box.width, box.height) / size;
  return shrinkOnLoad && shrink >= SHRINK_ON_LOAD_FROM ? resizeFirstPlan(imageWidth, imageHeight, box, size) : cropFirstPlan(box, size);
}

/**
 * The eval transform as a plan, with torchvision's arithmetic: the shorter side becomes floor(size / cropFraction)
 * and the longer side int(short * long / shorter), then a centre crop whose offsets use Python's round. With
 * `shrinkOnLoad` a JPEG whose shorter side shrinks by SHRINK_ON_LOAD_FROM or more takes the approximate fast path.
 */
export function evalResizePlan(imageWidth: number, imageHeight: number, size: number, cropFraction = EVAL_CROP_FRACTION, shrinkOnLoad = false): ResizePlan {
  const shortSide = Math.floor(size / cropFraction);
  const wide = imageWidth >= imageHeight;
  const short = wide ? imageHeight : imageWidth;
  const long = wide ? imageWidth : imageHeight;
  const newLong = Math.max(shortSide, Math.floor((shortSide * long) / short));
  const resizeWidth = wide ? newLong : shortSide;
  const resizeHeight = wide ? shortSide : newLong;
  return {
    crop: null,
    resizer: shrinkOnLoad && short / shortSide >= SHRINK_ON_LOAD_FROM ? 'shrink-on-load' : 'pillow',
    resizeWidth,
    resizeHeight,
    left: roundHalfEven((resizeWidth - size) / 2),
    top: roundHalfEven((resizeHeight - size) / 2),
    size,
  };
}
