// Pillow's BICUBIC filter taps for one axis of a resize (Resample.c's precompute_coeffs and normalize_coeffs_8bpc,
// re-derived): the part of the resize that both the WebAssembly kernels (resample.ts) and the browser page's
// TypeScript passes use. No imports: browser-safe.

/** Pillow's fixed point: 32 bits - 8 for the value - 2 for the overshoot of negative lobes. */
export const PRECISION_BITS = 22;
export const ONE = 1 << PRECISION_BITS;
/** Bicubic convolution with a = -0.5 (Keys), Pillow's BICUBIC; support 2 before antialiasing. */
const SUPPORT = 2;

function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/**
 * Filter taps for resizing one axis of `inSize` pixels to `outSize`: for output i, the first source index
 * `start[i]`, the tap count `count[i]`, and `weights[i * taps + j]` in 22-bit fixed point summing to ~2^22.
 * Downscaling widens the filter by the scale (antialiasing), as Pillow does.
 */
export interface AxisCoefficients {
  start: Int32Array;
  count: Int32Array;
  taps: number;
  weights: Int32Array;
}

export function axisCoefficients(inSize: number, outSize: number): AxisCoefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const support = SUPPORT * filterScale;
  const inverseScale = 1 / filterScale; // multiplied, not divided, as Pillow does: the last bit matters
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const w = new Float64Array(taps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C's (int) cast truncates toward zero; the clamps then keep the taps inside the image.
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    const n = hi - lo;
    let sum = 0;
    for (let j = 0; j < n; j++) {
      w[j] = bicubic((j + lo - center + 0.5) * inverseScale);
      sum += w[j];
    }
    for (let j = 0; j < n; j++) {
      const k = sum !== 0 ? w[j] / sum : w[j];
      weights[i * taps + j] = Math.trunc(k < 0 ? -0.5 + k * ONE : 0.5 + k * ONE);
    }
    start[i] = lo;
    count[i] = n;
  }
  return { start, count, taps, weights };
}
