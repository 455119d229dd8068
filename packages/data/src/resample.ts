// Bicubic resize of 8-bit RGB images with Pillow's exact arithmetic, so a crop resized here matches
// torchvision's RandomResizedCrop / Resize on PIL images value for value (given the same decoded pixels).
// Reference: Pillow src/libImaging/Resample.c (ImagingResample: precompute_coeffs, normalize_coeffs_8bpc,
// horizontal pass then vertical pass, 22-bit fixed point); the algorithm is re-derived here, not copied.
//
// The two passes run in WebAssembly SIMD (assembly/kernels.ts, see kernels.ts): the same loops in plain JS took
// 3.4 ms for a 420x310 -> 224x224 resize, the kernel 0.37 ms.
// Why not sharp's resize: libvips' resize costs ~0.4 ms of fixed set-up per call on top of the work (a 16x16 -> 8x8
// resize takes 0.65 ms here), which for 224-px outputs is as much as the pixels, and it does not scale across threads
// in one process (two images in flight: 1.46x, against 1.95x for two processes).

import { axisCoefficients } from './bicubic-taps.js';
import { assertImageShape, type ImageData } from './image.js';
import { Layout, kernels, type KernelImage } from './kernels.js';

/** Output window of a resize: only these output pixels are computed (e.g. the eval transform's centre crop). */
export interface ResizeWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Resizes an RGB image to resizeWidth x resizeHeight with Pillow's BICUBIC and returns the `window` of the result
 * (the whole result by default). Equals Pillow's `image.resize((resizeWidth, resizeHeight), BICUBIC).crop(window)`
 * byte for byte: every output pixel is computed from its own taps, so skipping pixels outside the window changes
 * nothing. An axis whose size does not change is copied, as Pillow skips that pass.
 */
export function resizeBicubic(
  image: ImageData<Uint8Array>,
  resizeWidth: number,
  resizeHeight: number,
  window: ResizeWindow = { left: 0, top: 0, width: resizeWidth, height: resizeHeight },
): ImageData<Uint8Array> {
  const result = resizeInKernel(image, resizeWidth, resizeHeight, window, new Layout());
  const data = new Uint8Array(kernels().memory.buffer).slice(result.at, result.at + result.width * result.height * 3);
  return { data, width: result.width, height: result.height, channels: 3 };
}

/**
 * resizeBicubic's work, leaving the result in the kernels' memory (buffers taken from `layout`) for a caller that
 * continues there, e.g. patchesInKernel: the worker saves a copy out and back in.
 */
export function resizeInKernel(image: ImageData<Uint8Array>, resizeWidth: number, resizeHeight: number, window: ResizeWindow, layout: Layout): KernelImage {
  assertImageShape(image, 'resizeBicubic');
  if (image.channels !== 3) throw new RangeError(`resizeBicubic: needs 3 channels, got ${image.channels}`);
  for (const [name, v] of Object.entries({ resizeWidth, resizeHeight, ...window })) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`resizeBicubic: ${name} must be a non-negative integer, got ${v}`);
  }
  if (resizeWidth === 0 || resizeHeight === 0 || window.width === 0 || window.height === 0) {
    throw new RangeError(`resizeBicubic: empty output ${resizeWidth}x${resizeHeight}, window ${window.width}x${window.height}`);
  }
  if (window.left + window.width > resizeWidth || window.top + window.height > resizeHeight) {
    throw new RangeError(`resizeBicubic: window ${JSON.stringify(window)} is outside the ${resizeWidth}x${resizeHeight} result`);
  }
  const { width, height, data } = image;
  const horizontal = resizeWidth !== width ? axisCoefficients(width, resizeWidth) : null;
  const vertical = resizeHeight !== height ? axisCoefficients(height, resizeHeight) : null;
  // The source rows the vertical pass reads for the window's rows (just the window's rows without a vertical pass).
  const bottom = window.top + window.height - 1;
  const firstRow = vertical ? vertical.start[window.top] : window.top;
  const endRow = vertical ? vertical.start[bottom] + vertical.count[bottom] : bottom + 1;
  const rows = endRow - firstRow;
  const rowBytes = window.width * 3;

  const kernel = kernels();
  const src = horizontal ? layout.bytes(rows * width * 3) : 0; // only the rows the passes read
  const mid = layout.bytes(rows * rowBytes);
  const out = vertical ? layout.bytes(window.height * rowBytes) : mid;
  const h = horizontal ? layout.ints(3 * window.width + window.width * horizontal.taps) : 0;
  const v = vertical ? layout.ints(2 * window.height + window.height * vertical.taps) : 0;
  kernel.reserve(layout.end);
  const heap = new Uint8Array(kernel.memory.buffer);
  const ints = new Int32Array(kernel.memory.buffer);

  if (horizontal) {
    heap.set(data.subarray(firstRow * width * 3, endRow * width * 3), src);
    const { start, count, taps, weights } = horizontal;
    ints.set(start.subarray(window.left, window.left + window.width), h / 4);
    ints.set(count.subarray(window.left, window.left + window.width), h / 4 + window.width);
    ints.set(weights.subarray(window.left * taps, (window.left + window.width) * taps), h / 4 + 2 * window.width);
    kernel.horizontal(src, width * 3, rows, window.width, h, h + 4 * window.width, h + 8 * window.width, taps, mid);
  } else {
    for (let y = 0; y < rows; y++) {
      const from = ((firstRow + y) * width + window.left) * 3;
      heap.set(data.subarray(from, from + rowBytes), mid + y * rowBytes);
    }
  }
  if (vertical) {
    const { start, count, taps, weights } = vertical;
    for (let y = 0; y < window.height; y++) ints[v / 4 + y] = start[window.top + y] - firstRow;
    ints.set(count.subarray(window.top, window.top + window.height), v / 4 + window.height);
    ints.set(weights.subarray(window.top * taps, (window.top + window.height) * taps), v / 4 + 2 * window.height);
    kernel.vertical(mid, rowBytes, window.height, v, v + 4 * window.height, v + 8 * window.height, taps, out);
  }
  return { at: out, width: window.width, height: window.height, channels: 3 };
}
