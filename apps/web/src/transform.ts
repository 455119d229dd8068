// The eval transform in the page: resize the shorter side to floor(size / 0.875), centre crop, ImageNet
// normalisation, patchify in the MAE layout. The geometry is @aim/data's evalResizePlan (torchvision's arithmetic);
// the resize itself is the browser's high-quality canvas scaling, not Pillow's bicubic, so pixels differ slightly
// from the Node pipeline's.

/** ImageNet statistics (@aim/data IMAGENET_MEAN / IMAGENET_STD). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
export const EVAL_CROP_FRACTION = 0.875;

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface EvalPlan {
  resizeWidth: number;
  resizeHeight: number;
  left: number;
  top: number;
  size: number;
}

/** Where the size x size crop lies after the shorter side is resized (same numbers as @aim/data evalResizePlan). */
export function evalPlan(imageWidth: number, imageHeight: number, size: number): EvalPlan {
  const shortSide = Math.floor(size / EVAL_CROP_FRACTION);
  const wide = imageWidth >= imageHeight;
  const short = wide ? imageHeight : imageWidth;
  const long = wide ? imageWidth : imageHeight;
  const newLong = Math.max(shortSide, Math.floor((shortSide * long) / short));
  const resizeWidth = wide ? newLong : shortSide;
  const resizeHeight = wide ? shortSide : newLong;
  return {
    resizeWidth,
    resizeHeight,
    left: roundHalfEven((resizeWidth - size) / 2),
    top: roundHalfEven((resizeHeight - size) / 2),
    size,
  };
}

/** RGBA pixels of a size x size image -> normalised patches [K, p*p*3], patch vector ordered (row, col, channel). */
export function patchifyNormalized(rgba: Uint8ClampedArray, size: number, patch: number): Float32Array {
  const grid = size / patch;
  const pd = patch * patch * 3;
  const out = new Float32Array(grid * grid * pd);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const k = Math.floor(y / patch) * grid + Math.floor(x / patch);
      const base = k * pd + ((y % patch) * patch + (x % patch)) * 3;
      for (let ch = 0; ch < 3; ch++) {
        out[base + ch] = (rgba[(y * size + x) * 4 + ch] / 255 - IMAGENET_MEAN[ch]) / IMAGENET_STD[ch];
      }
    }
  return out;
}

/** Runs the eval transform on a decoded image (browser only). Returns the patches and the cropped RGBA pixels. */
export function transformImage(
  image: CanvasImageSource & { width: number; height: number },
  size: number,
  patch: number,
): { patches: Float32Array; rgba: Uint8ClampedArray } {
  const plan = evalPlan(image.width, image.height, size);
  const canvas = new OffscreenCanvas(size, size);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2D canvas context');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.fillStyle = 'black';
  ctx.fillRect(0, 0, size, size);
  // Draw the resized image shifted so the crop window lands on the canvas.
  ctx.drawImage(image, -plan.left, -plan.top, plan.resizeWidth, plan.resizeHeight);
  const rgba = ctx.getImageData(0, 0, size, size).data;
  return { patches: patchifyNormalized(rgba, size, patch), rgba };
}
