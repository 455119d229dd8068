// Plain image data that every pure transform takes and returns: pixels in row-major HWC order.

/** An image as plain data: `data` is [height, width, channels] in row-major (HWC) order. */
export interface ImageData<T extends Uint8Array | Float32Array = Uint8Array | Float32Array> {
  data: T; // [H, W, C]
  width: number;
  height: number;
  channels: number;
}

/** Throws a clear error when `image.data` does not hold width * height * channels values. */
export function assertImageShape(image: ImageData, what = 'image'): void {
  const { width, height, channels, data } = image;
  for (const [name, v] of [
    ['width', width],
    ['height', height],
    ['channels', channels],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${what}: ${name} must be a positive integer, got ${v}`);
  }
  if (data.length !== width * height * channels) {
    throw new RangeError(`${what}: data has ${data.length} values but width*height*channels = ${width}*${height}*${channels} = ${width * height * channels}`);
  }
}
