// Convert MNIST-style IDX image/label files into WebDataset shards of `KEY.png` + `KEY.cls`.
import { formatShardName, ShardWriter } from '@aim/webdataset';
import sharp from 'sharp';
import { readIdx } from './idx.js';
import { mapOrdered } from './ordered.js';

export interface IdxToShardsOptions {
  /** Path of the images IDX file ([N, rows, cols] ubyte), raw or gzip. */
  images: string;
  /** Path of the labels IDX file ([N] ubyte), raw or gzip. */
  labels: string;
  /** Output shard pattern, e.g. `cache/mnist/train-%06d.tar`. */
  outPattern: string;
  /** Samples per shard. Default 10000. */
  maxCount?: number;
  /** Prepended to each key (keys are the zero-padded image index). Must not contain '.'. Default ''. */
  keyPrefix?: string;
  /** Convert only the first `limit` images. */
  limit?: number;
  /** PNG encodes in flight. Default 8. */
  concurrency?: number;
  /** Called after each sample is written, with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface ShardsResult {
  shards: string[];
  samples: number;
}

/** Encode one 8-bit grayscale image ([height, width] bytes) as a grayscale PNG. */
export function encodeGrayPng(pixels: Uint8Array, width: number, height: number): Promise<Buffer> {
  const input = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  // Without toColourspace('b-w') sharp writes an RGB PNG, three times the pixels for the same image.
  return sharp(input, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
}

/** Convert IDX images + labels into shards; each sample is `{__key__, png, cls}`. */
export async function idxToShards(options: IdxToShardsOptions): Promise<ShardsResult> {
  formatShardName(options.outPattern, 0); // a bad pattern fails before any work
  const [images, labels] = await Promise.all([readIdx(options.images), readIdx(options.labels)]);
  if (images.type !== 'ubyte' || images.dims.length !== 3) {
    throw new Error(`${options.images}: expected an images IDX file of ubyte [N, rows, cols], got ${images.type} [${images.dims.join(', ')}]`);
  }
  if (labels.type !== 'ubyte' || labels.dims.length !== 1) {
    throw new Error(`${options.labels}: expected a labels IDX file of ubyte [N], got ${labels.type} [${labels.dims.join(', ')}]`);
  }
  const [count, height, width] = images.dims;
  if (labels.dims[0] !== count) {
    throw new Error(`${options.images} has ${count} images but ${options.labels} has ${labels.dims[0]} labels`);
  }
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 0)) {
    throw new Error(`limit must be a non-negative integer, got ${options.limit}`);
  }
  const total = Math.min(count, options.limit ?? count);
  const prefix = options.keyPrefix ?? '';
  const digits = Math.max(6, String(Math.max(0, total - 1)).length);
  const pixelsPerImage = width * height;

  const writer = new ShardWriter({ pattern: options.outPattern, maxCount: options.maxCount ?? 10_000 });
  try {
    const indices = Array.from({ length: total }, (_, i) => i);
    const encoded = mapOrdered(indices, options.concurrency ?? 8, (i) =>
      encodeGrayPng(images.data.subarray(i * pixelsPerImage, (i + 1) * pixelsPerImage), width, height),
    );
    let done = 0;
    for await (const png of encoded) {
      await writer.write({ __key__: `${prefix}${String(done).padStart(digits, '0')}`, png, cls: labels.data[done] });
      done++;
      options.onProgress?.(done, total);
    }
    return { shards: await writer.close(), samples: done };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}
