// Pixel-level transforms on plain HWC images: horizontal flip, ImageNet normalisation and its inverse, ColorJitter.
// References: torchvision.transforms.ColorJitter and torchvision.transforms.functional_tensor (v0.17) for the
// brightness/contrast/saturation/hue formulas; ImageNet mean/std as in docs/aim-spec.md.

import { assertImageShape, type ImageData } from './image.js';
import type { Random } from '@aim/base/random';

export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];

/** Mirrors the image left-right (a new image; applying it twice gives the input back). */
export function horizontalFlip<T extends Uint8Array | Float32Array>(image: ImageData<T>): ImageData<T> {
  assertImageShape(image, 'horizontalFlip');
  const { width, height, channels, data } = image;
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const row = width * channels;
  for (let y = 0; y < height; y++) {
    const base = y * row;
    for (let x = 0; x < width; x++) {
      const src = base + x * channels;
      const dst = base + (width - 1 - x) * channels;
      for (let c = 0; c < channels; c++) out[dst + c] = data[src + c];
    }
  }
  return { data: out, width, height, channels };
}

/** Bytes 0..255 to floats 0..1. */
export function toUnitFloat(image: ImageData<Uint8Array>): ImageData<Float32Array> {
  assertImageShape(image, 'toUnitFloat');
  const out = new Float32Array(image.data.length);
  for (let i = 0; i < out.length; i++) out[i] = image.data[i] / 255;
  return { ...image, data: out };
}

/**
 * (x / 255 - mean) / std per channel for bytes, (x - mean) / std for floats in [0, 1], each step rounded to float32
 * as torchvision's ToTensor + Normalize compute it, so the values equal torchvision's bit for bit.
 * The result is what the model sees: AIM normalises every pixel with ImageNet statistics.
 */
export function normalize(image: ImageData, mean: readonly number[] = IMAGENET_MEAN, std: readonly number[] = IMAGENET_STD): ImageData<Float32Array> {
  assertImageShape(image, 'normalize');
  const { channels, data } = image;
  checkStatistics('normalize', channels, mean, std);
  const out = new Float32Array(data.length);
  if (data instanceof Uint8Array) {
    const table = normalizationTable(mean, std);
    for (let i = 0; i < data.length; i += channels) {
      for (let c = 0; c < channels; c++) out[i + c] = table[c * 256 + data[i + c]];
    }
  } else {
    const m = mean.map(Math.fround);
    const s = std.map(Math.fround);
    for (let i = 0; i < data.length; i += channels) {
      for (let c = 0; c < channels; c++) out[i + c] = Math.fround(data[i + c] - m[c]) / s[c];
    }
  }
  return { data: out, width: image.width, height: image.height, channels };
}

/**
 * The normalised value of every byte per channel: table[c * 256 + x] = ((x / 255) - mean[c]) / std[c] with each
 * operation rounded to float32 (a float64 result of one operation on float32 inputs, rounded once to float32, is the
 * correctly rounded float32 result).
 */
export function normalizationTable(mean: readonly number[], std: readonly number[]): Float32Array {
  // The worker asks for the same statistics for every image: keep the last table (treat it as read-only).
  const key = `${mean.join(',')}/${std.join(',')}`;
  if (key === lastTable.key) return lastTable.table;
  const table = new Float32Array(mean.length * 256);
  for (let c = 0; c < mean.length; c++) {
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    for (let x = 0; x < 256; x++) table[c * 256 + x] = Math.fround(Math.fround(x / 255) - m) / s;
  }
  lastTable = { key, table };
  return table;
}
let lastTable = { key: '', table: new Float32Array(0) };

export function checkStatistics(name: string, channels: number, mean: readonly number[], std: readonly number[]): void {
  if (mean.length !== channels || std.length !== channels) {
    throw new RangeError(`${name}: image has ${channels} channels but mean/std have ${mean.length}/${std.length}`);
  }
}

/** The inverse of `normalize` on float input: x * std + mean, in [0, 1] units. */
export function denormalize(
  image: ImageData<Float32Array>,
  mean: readonly number[] = IMAGENET_MEAN,
  std: readonly number[] = IMAGENET_STD,
): ImageData<Float32Array> {
  assertImageShape(image, 'denormalize');
  const { channels, data } = image;
  checkStatistics('denormalize', channels, mean, std);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i += channels) {
    for (let c = 0; c < channels; c++) out[i + c] = data[i + c] * std[c] + mean[c];
  }
  return { data: out, width: image.width, height: image.height, channels };
}

/** ColorJitter strengths, as torchvision's constructor takes them; AIM's released config uses (0.4, 0.4, 0.2, 0.1). */
export interface ColorJitterOptions {
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
  /** Probability of applying the jitter at all (RandomApply); 0.8 in the released config. */
  p: number;
}

export const AIM_COLOR_JITTER: Readonly<ColorJitterOptions> = Object.freeze({
  brightness: 0.4,
  contrast: 0.4,
  saturation: 0.2,
  hue: 0.1,
  p: 0.8,
});

/** One concrete draw of ColorJitter: the order of the four operations and their factors. */
export interface ColorJitterParams {
  order: number[]; // permutation of [0 brightness, 1 contrast, 2 saturation, 3 hue]
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

/** Draws ColorJitter parameters as torchvision does (random order, then uniform factors), or null when not applied. */
export function sampleColorJitter(rng: Random, options: ColorJitterOptions): ColorJitterParams | null {
  if (!(rng.next() < options.p)) return null;
  const order = rng.permutation(4);
  // float32 draws, as torch.empty(1).uniform_ gives them to torchvision
  const brightness = rng.uniformFloat32(Math.max(0, 1 - options.brightness), 1 + options.brightness);
  const contrast = rng.uniformFloat32(Math.max(0, 1 - options.contrast), 1 + options.contrast);
  const saturation = rng.uniformFloat32(Math.max(0, 1 - options.saturation), 1 + options.saturation);
  const hue = rng.uniformFloat32(-options.hue, options.hue);
  return { order, brightness, contrast, saturation, hue };
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);
const gray = (r: number, g: number, b: number): number => 0.2989 * r + 0.587 * g + 0.114 * b;

/** Applies drawn ColorJitter parameters to an RGB float image in [0, 1] (a new image, values stay in [0, 1]). */
export function applyColorJitter(image: ImageData<Float32Array>, params: ColorJitterParams): ImageData<Float32Array> {
  assertImageShape(image, 'applyColorJitter');
  if (image.channels !== 3) throw new RangeError(`applyColorJitter: needs 3 channels, got ${image.channels}`);
  const d = Float32Array.from(image.data);
  const n = d.length;
  for (const op of params.order) {
    if (op === 0) {
      const f = params.brightness;
      for (let i = 0; i < n; i++) d[i] = clamp01(d[i] * f);
    } else if (op === 1) {
      const f = params.contrast;
      let sum = 0;
      for (let i = 0; i < n; i += 3) sum += gray(d[i], d[i + 1], d[i + 2]);
      const mean = sum / (n / 3);
      for (let i = 0; i < n; i++) d[i] = clamp01(f * d[i] + (1 - f) * mean);
    } else if (op === 2) {
      const f = params.saturation;
      for (let i = 0; i < n; i += 3) {
        const g = (1 - f) * gray(d[i], d[i + 1], d[i + 2]);
        d[i] = clamp01(f * d[i] + g);
        d[i + 1] = clamp01(f * d[i + 1] + g);
        d[i + 2] = clamp01(f * d[i + 2] + g);
      }
    } else {
      shiftHue(d, params.hue);
    }
  }
  return { data: d, width: image.width, height: image.height, channels: 3 };
}

/** torchvision's adjust_hue on float RGB: to HSV, rotate hue by `shift` turns, back to RGB (in place). */
function shiftHue(d: Float32Array, shift: number): void {
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i];
    const g = d[i + 1];
    const b = d[i + 2];
    const maxc = Math.max(r, g, b);
    const minc = Math.min(r, g, b);
    const cr = maxc - minc;
    const v = maxc;
    const s = cr / (maxc === 0 ? 1 : maxc);
    const crDiv = cr === 0 ? 1 : cr;
    const rc = (maxc - r) / crDiv;
    const gc = (maxc - g) / crDiv;
    const bc = (maxc - b) / crDiv;
    let h: number;
    if (maxc === r) h = bc - gc;
    else if (maxc === g) h = 2 + rc - bc;
    else h = 4 + gc - rc;
    h = (((h / 6 + 1) % 1) + shift + 1) % 1;
    const h6 = h * 6;
    const sector = Math.floor(h6) % 6;
    const f = h6 - Math.floor(h6);
    const p = clamp01(v * (1 - s));
    const q = clamp01(v * (1 - s * f));
    const t = clamp01(v * (1 - s * (1 - f)));
    const rgb =
      sector === 0 ? [v, t, p] : sector === 1 ? [q, v, p] : sector === 2 ? [p, v, t] : sector === 3 ? [p, q, v] : sector === 4 ? [t, p, v] : [v, p, q];
    d[i] = rgb[0];
    d[i + 1] = rgb[1];
    d[i + 2] = rgb[2];
  }
}
