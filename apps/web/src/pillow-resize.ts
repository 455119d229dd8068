// Pillow's bicubic resize of 8-bit RGB in plain TypeScript, so the page's eval transform gives the same pixels as
// @aim/data's (whose resize runs in its own WebAssembly kernels behind a Node entry): 22-bit fixed-point taps,
// antialiasing when downscaling, horizontal pass then vertical pass, each clipped to 8 bits. Only the output window
// (the centre crop) is computed. Tested byte for byte against @aim/data's resizeBicubic.
// The filter taps are @aim/data's own (its browser entry); the two passes are here because @aim/data runs them in
// WebAssembly kernels loaded from Node. Reference: Pillow src/libImaging/Resample.c (ImagingResample).
import { BICUBIC_ONE as ONE, BICUBIC_PRECISION_BITS, axisCoefficients } from '@aim/data/browser';

const HALF = 1 << (BICUBIC_PRECISION_BITS - 1);

function clip8(sum: number): number {
  const v = Math.floor(sum / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

export interface Window {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** RGB [h, w, 3] resized to resizeWidth x resizeHeight with Pillow's BICUBIC; returns the window's RGB pixels. */
export function resizeBicubicRgb(rgb: Uint8Array, width: number, height: number, resizeWidth: number, resizeHeight: number, win: Window): Uint8Array {
  if (rgb.length !== width * height * 3) throw new Error(`resize: ${rgb.length} bytes for a ${width}x${height} RGB image`);
  const horizontal = resizeWidth !== width ? axisCoefficients(width, resizeWidth) : null;
  const vertical = resizeHeight !== height ? axisCoefficients(height, resizeHeight) : null;
  const bottom = win.top + win.height - 1;
  const firstRow = vertical ? vertical.start[win.top] : win.top;
  const endRow = vertical ? vertical.start[bottom] + vertical.count[bottom] : bottom + 1;
  const rows = endRow - firstRow;
  const rowBytes = win.width * 3;
  // Horizontal pass (or a copy of the window's columns) over the source rows the vertical pass reads.
  const mid = new Uint8Array(rows * rowBytes);
  for (let y = 0; y < rows; y++) {
    const src = (firstRow + y) * width * 3;
    for (let x = 0; x < win.width; x++) {
      if (!horizontal) {
        for (let c = 0; c < 3; c++) mid[y * rowBytes + x * 3 + c] = rgb[src + (win.left + x) * 3 + c];
        continue;
      }
      const xo = win.left + x;
      const lo = horizontal.start[xo];
      const n = horizontal.count[xo];
      const wAt = xo * horizontal.taps;
      for (let c = 0; c < 3; c++) {
        let sum = HALF;
        for (let j = 0; j < n; j++) sum += rgb[src + (lo + j) * 3 + c] * horizontal.weights[wAt + j];
        mid[y * rowBytes + x * 3 + c] = clip8(sum);
      }
    }
  }
  if (!vertical) return mid;
  const out = new Uint8Array(win.height * rowBytes);
  for (let y = 0; y < win.height; y++) {
    const yo = win.top + y;
    const lo = vertical.start[yo] - firstRow;
    const n = vertical.count[yo];
    const wAt = yo * vertical.taps;
    for (let i = 0; i < rowBytes; i++) {
      let sum = HALF;
      for (let j = 0; j < n; j++) sum += mid[(lo + j) * rowBytes + i] * vertical.weights[wAt + j];
      out[y * rowBytes + i] = clip8(sum);
    }
  }
  return out;
}
