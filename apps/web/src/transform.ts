// The eval transform in the page: resize the shorter side to floor(size / 0.875), centre crop, ImageNet
// normalisation, patchify in the MAE layout, as @aim/data's eval transform: its evalResizePlan (torchvision's
// arithmetic) and Pillow's bicubic (./pillow-resize.ts). Decoding is the browser's.
import { IMAGENET_MEAN, IMAGENET_STD, evalResizePlan } from '@aim/data/browser';
import { resizeBicubicRgb } from './pillow-resize.js';

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

/**
 * Runs the eval transform on a decoded image (browser only): its RGB pixels at full size, Pillow's bicubic resize of
 * the centre-crop window, normalisation and patchify. Returns the patches and the crop's RGBA pixels.
 */
export function transformImage(
  image: CanvasImageSource & { width: number; height: number },
  size: number,
  patch: number,
): { patches: Float32Array; rgba: Uint8ClampedArray } {
  const { width, height } = image;
  if (!(width > 0 && height > 0)) throw new Error(`the image is ${width}x${height}`);
  const plan = evalResizePlan(width, height, size);
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2D canvas context');
  ctx.drawImage(image, 0, 0);
  const source = ctx.getImageData(0, 0, width, height).data;
  // Alpha dropped, as @aim/data does (sharp removeAlpha); the canvas stores premultiplied colour, so pixels that
  // are not opaque may differ from the file's values.
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    rgb[3 * i] = source[4 * i];
    rgb[3 * i + 1] = source[4 * i + 1];
    rgb[3 * i + 2] = source[4 * i + 2];
  }
  const crop = resizeBicubicRgb(rgb, width, height, plan.resizeWidth, plan.resizeHeight, {
    left: plan.left,
    top: plan.top,
    width: size,
    height: size,
  });
  const rgba = new Uint8ClampedArray(size * size * 4);
  for (let i = 0; i < size * size; i++) {
    rgba[4 * i] = crop[3 * i];
    rgba[4 * i + 1] = crop[3 * i + 1];
    rgba[4 * i + 2] = crop[3 * i + 2];
    rgba[4 * i + 3] = 255;
  }
  return { patches: patchifyNormalized(rgba, size, patch), rgba };
}
