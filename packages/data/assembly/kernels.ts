// AssemblyScript, compiled to WebAssembly with SIMD (`npx nx run data:wasm`): the worker's hot loops. The two passes
// of Pillow's bicubic resize on 8-bit RGB in its 22-bit fixed point, and the fused normalise + patchify. The callers
// (src/resample.ts, src/patches.ts) compute the filter taps and tables and own the memory layout (src/kernels.ts);
// these loops only load, multiply, add and store. All pointers are byte offsets into this module's memory.
//
// Each resize sum is HALF + sum(pixel * weight), shifted right by 22 (floor) and clamped to 0..255: Pillow's clip8.
// The vertical pass reads and writes up to 15 bytes past the end of a row, the horizontal one reads 1 byte past a
// pixel: the caller leaves room after every buffer (src/kernels.ts, Layout).

const PRECISION_BITS: i32 = 22;
const HALF: i32 = 1 << (PRECISION_BITS - 1);

/**
 * Horizontal pass: for `rows` rows of `src` (RGB, `srcStride` bytes apart), output pixel x of a row is
 * sum over j < count[x] of pixel(start[x] + j) * weight[x * taps + j]; `outWidth` pixels per row, packed in `dst`.
 * One pixel is one i32x4 (R, G, B, 0); four rows at a time share each weight.
 */
export function horizontal(
  src: usize,
  srcStride: i32,
  rows: i32,
  outWidth: i32,
  start: usize,
  count: usize,
  weights: usize,
  taps: i32,
  dst: usize,
): void {
  const inStride = <usize>srcStride;
  const outStride = <usize>(outWidth * 3);
  let y = 0;
  for (; y + 3 < rows; y += 4) horizontalRows(src + <usize>y * inStride, inStride, outWidth, start, count, weights, taps, dst + <usize>y * outStride, outStride, 4);
  for (; y < rows; y++) horizontalRows(src + <usize>y * inStride, inStride, outWidth, start, count, weights, taps, dst + <usize>y * outStride, outStride, 1);
}

// @inline so that `n` is a constant in each copy: the unused rows' work disappears.
// @ts-ignore: decorator
@inline
function horizontalRows(
  row0: usize,
  inStride: usize,
  outWidth: i32,
  start: usize,
  count: usize,
  weights: usize,
  taps: i32,
  out0: usize,
  outStride: usize,
  n: i32,
): void {
  const half = i32x4.splat(HALF);
  // Bytes R, G, B of a pixel -> 32-bit lanes R, G, B, 0 (indices past 15 give 0).
  const widen = i8x16(0, -1, -1, -1, 1, -1, -1, -1, 2, -1, -1, -1, -1, -1, -1, -1);
  for (let x = 0; x < outWidth; x++) {
    let p = row0 + <usize>(load<i32>(start + (<usize>x << 2)) * 3);
    let k = weights + (<usize>(x * taps) << 2);
    const end = k + (<usize>load<i32>(count + (<usize>x << 2)) << 2);
    let a0 = half;
    let a1 = half;
    let a2 = half;
    let a3 = half;
    while (k < end) {
      const w = i32x4.splat(load<i32>(k));
      a0 = i32x4.add(a0, i32x4.mul(i8x16.swizzle(v128.load32_zero(p), widen), w));
      if (n == 4) {
        a1 = i32x4.add(a1, i32x4.mul(i8x16.swizzle(v128.load32_zero(p + inStride), widen), w));
        a2 = i32x4.add(a2, i32x4.mul(i8x16.swizzle(v128.load32_zero(p + 2 * inStride), widen), w));
        a3 = i32x4.add(a3, i32x4.mul(i8x16.swizzle(v128.load32_zero(p + 3 * inStride), widen), w));
      }
      p += 3;
      k += 4;
    }
    const o = out0 + <usize>(x * 3);
    storePixel(o, a0);
    if (n == 4) {
      storePixel(o + outStride, a1);
      storePixel(o + 2 * outStride, a2);
      storePixel(o + 3 * outStride, a3);
    }
  }
}

/** Pillow's clip8 on the three sums, stored as 3 bytes (no byte past the pixel is touched). */
// @ts-ignore: decorator
@inline
function storePixel(at: usize, sums: v128): void {
  const v = i32x4.shr_s(sums, PRECISION_BITS);
  const bytes = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(v, v), i32x4.splat(0));
  v128.store16_lane(at, bytes, 0);
  v128.store8_lane(at + 2, bytes, 2);
}

/**
 * Vertical pass: output row y is sum over j < count[y] of row(start[y] + j) * weight[y * taps + j], over `rowBytes`
 * bytes per row (RGB interleaved, so channels need no special care). 16 bytes at a time, four i32x4 sums.
 */
export function vertical(src: usize, rowBytes: i32, outRows: i32, start: usize, count: usize, weights: usize, taps: i32, dst: usize): void {
  const half = i32x4.splat(HALF);
  const stride = <usize>rowBytes;
  for (let y = 0; y < outRows; y++) {
    const first = src + <usize>load<i32>(start + (<usize>y << 2)) * stride;
    const n = load<i32>(count + (<usize>y << 2));
    const kRow = weights + (<usize>(y * taps) << 2);
    const outRow = dst + <usize>y * stride;
    for (let c: usize = 0; c < stride; c += 16) {
      let a0 = half;
      let a1 = half;
      let a2 = half;
      let a3 = half;
      let p = first + c;
      for (let j = 0; j < n; j++) {
        const k = i32x4.splat(load<i32>(kRow + (<usize>j << 2)));
        const v = v128.load(p);
        const lo = i16x8.extend_low_i8x16_u(v);
        const hi = i16x8.extend_high_i8x16_u(v);
        a0 = i32x4.add(a0, i32x4.mul(i32x4.extend_low_i16x8_u(lo), k));
        a1 = i32x4.add(a1, i32x4.mul(i32x4.extend_high_i16x8_u(lo), k));
        a2 = i32x4.add(a2, i32x4.mul(i32x4.extend_low_i16x8_u(hi), k));
        a3 = i32x4.add(a3, i32x4.mul(i32x4.extend_high_i16x8_u(hi), k));
        p += stride;
      }
      const w0 = i16x8.narrow_i32x4_s(i32x4.shr_s(a0, PRECISION_BITS), i32x4.shr_s(a1, PRECISION_BITS));
      const w1 = i16x8.narrow_i32x4_s(i32x4.shr_s(a2, PRECISION_BITS), i32x4.shr_s(a3, PRECISION_BITS));
      v128.store(outRow + c, i8x16.narrow_i16x8_u(w0, w1));
    }
  }
}

/**
 * Normalise + patchify in one pass: an image (`width` x `height` x `channels`, bytes) becomes [K, p*p*C] float32 in
 * MAE's layout, each value table[c * 256 + byte] (the caller's per-channel table of normalised values), mirrored
 * left-right when `flip` is not 0.
 */
export function normalizedPatches(src: usize, width: i32, height: i32, channels: i32, patch: i32, flip: i32, table: usize, dst: usize): void {
  const gridWidth = width / patch;
  const gridHeight = height / patch;
  const step: isize = flip ? -channels : channels;
  let out = dst;
  for (let gy = 0; gy < gridHeight; gy++) {
    for (let gx = 0; gx < gridWidth; gx++) {
      const x0 = flip ? width - 1 - gx * patch : gx * patch;
      for (let r = 0; r < patch; r++) {
        let p = src + <usize>(((gy * patch + r) * width + x0) * channels);
        for (let col = 0; col < patch; col++) {
          if (channels == 3) {
            store<f32>(out, load<f32>(table + (<usize>load<u8>(p) << 2)));
            store<f32>(out + 4, load<f32>(table + 1024 + (<usize>load<u8>(p + 1) << 2)));
            store<f32>(out + 8, load<f32>(table + 2048 + (<usize>load<u8>(p + 2) << 2)));
            out += 12;
          } else {
            for (let c = 0; c < channels; c++) {
              store<f32>(out, load<f32>(table + (<usize>c << 10) + (<usize>load<u8>(p + c) << 2)));
              out += 4;
            }
          }
          p += step;
        }
      }
    }
  }
}
