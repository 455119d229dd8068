// Stream stages, each `(src: AsyncIterable<A>) => AsyncIterable<B>` built from its options: shard shuffling,
// resampling, node/worker splitting, sample shuffling and limiting.
// References: webdataset (Python) shardlists.ResampledShards / split_by_node / split_by_worker, filters._shuffle.
import { createRng, deriveSeed, shuffleInPlace, type Rng } from '@aim/base/random';

/** A pipeline stage. */
export type Stage<A, B> = (src: AsyncIterable<A>) => AsyncIterable<B>;

export interface SeedOptions {
  /** Base seed; default 0. */
  seed?: number;
  /** Epoch, mixed into the seed so every epoch gets a different order; default 0. */
  epoch?: number;
}

function checkInteger(value: number, name: string, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}

function rngFor(options: SeedOptions, purpose: string): Rng {
  return createRng(deriveSeed(options.seed ?? 0, options.epoch ?? 0, purpose));
}

async function collect<T>(src: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of src) items.push(item);
  return items;
}

/** Permute the whole shard list with a seeded Fisher-Yates shuffle (same seed and epoch -> same order everywhere). */
export function shuffleShards(options: SeedOptions = {}): Stage<string, string> {
  return async function* shuffledShards(src) {
    yield* shuffleInPlace(await collect(src), rngFor(options, 'shuffleShards'));
  };
}

export interface ResampleOptions extends SeedOptions {
  /** Number of draws; default unlimited (the stream never ends). */
  count?: number;
  /** Extra text mixed into the seed so that each node/worker draws its own sequence. */
  stream?: string;
}

/** Draw shards uniformly with replacement, forever (or `count` times); reseeded per (seed, epoch, stream). */
export function resampleShards(options: ResampleOptions = {}): Stage<string, string> {
  if (options.count !== undefined) checkInteger(options.count, 'resample count', 0);
  return async function* resampledShards(src) {
    const urls = await collect(src);
    if (urls.length === 0) throw new Error('resampleShards: the shard list is empty, nothing to draw from');
    const rng = rngFor(options, `resampleShards:${options.stream ?? ''}`);
    for (let i = 0; options.count === undefined || i < options.count; i++) yield urls[rng.int(urls.length)];
  };
}

function takeEvery<T>(offset: number, step: number): Stage<T, T> {
  return async function* every(src) {
    let i = 0;
    for await (const item of src) {
      if (i % step === offset) yield item;
      i++;
    }
  };
}

export interface NodeSplit {
  rank: number;
  worldSize: number;
}

/** Keep items rank, rank + worldSize, ... (Python webdataset `split_by_node`: `urls[rank::world_size]`). */
export function splitByNode<T>(options: NodeSplit): Stage<T, T> {
  checkInteger(options.worldSize, 'worldSize', 1);
  checkInteger(options.rank, 'rank', 0);
  if (options.rank >= options.worldSize) {
    throw new RangeError(`rank must be < worldSize, got rank ${options.rank} of worldSize ${options.worldSize}`);
  }
  return takeEvery(options.rank, options.worldSize);
}

export interface WorkerSplit {
  index: number;
  count: number;
}

/** Keep items index, index + count, ... (Python webdataset `split_by_worker`). */
export function splitByWorker<T>(options: WorkerSplit): Stage<T, T> {
  checkInteger(options.count, 'worker count', 1);
  checkInteger(options.index, 'worker index', 0);
  if (options.index >= options.count) {
    throw new RangeError(`worker index must be < count, got index ${options.index} of count ${options.count}`);
  }
  return takeEvery(options.index, options.count);
}

export interface ShuffleOptions extends SeedOptions {
  /** Buffer capacity (>= 1). */
  size: number;
  /** Items to gather before the first one is emitted; default min(100, size), as Python webdataset. */
  initial?: number;
  /** Extra text mixed into the seed so that each node/worker shuffles with its own sequence. */
  stream?: string;
}

/**
 * Shuffle a stream through a buffer of `size` items: it first fills to `initial`, then grows to `size` while
 * emitting one random buffered item per incoming one, and drains in random order at the end.
 */
export function shuffleSamples<T>(options: ShuffleOptions): Stage<T, T> {
  checkInteger(options.size, 'shuffle buffer size', 1);
  const initial = Math.min(options.initial ?? Math.min(100, options.size), options.size);
  checkInteger(initial, 'shuffle initial', 0);
  return async function* shuffled(src) {
    const rng = rngFor(options, `shuffleSamples:${options.stream ?? ''}`);
    const buffer: T[] = [];
    const takeRandom = (): T => {
      const k = rng.int(buffer.length);
      const item = buffer[k];
      buffer[k] = buffer[buffer.length - 1];
      buffer.pop();
      return item;
    };
    const source = src[Symbol.asyncIterator]();
    try {
      for (;;) {
        const first = await source.next();
        if (first.done) break;
        buffer.push(first.value);
        // Below capacity, pull two for every one emitted so the buffer grows towards `size`.
        if (buffer.length < options.size) {
          const second = await source.next();
          if (second.done) break;
          buffer.push(second.value);
        }
        if (buffer.length >= initial) yield takeRandom();
      }
      while (buffer.length > 0) yield takeRandom();
    } finally {
      await source.return?.();
    }
  };
}

/** Pass through the first `n` items, then stop (closing the source). */
export function limit<T>(n: number): Stage<T, T> {
  checkInteger(n, 'limit', 0);
  return async function* limited(src) {
    if (n === 0) return;
    let i = 0;
    for await (const item of src) {
      yield item;
      if (++i >= n) return;
    }
  };
}

/** Fail when the source ends without yielding anything (e.g. a reader that the split left with no shards). */
export function requireNonEmpty<T>(message: () => string): Stage<T, T> {
  return async function* nonEmpty(src) {
    let seen = false;
    for await (const item of src) {
      seen = true;
      yield item;
    }
    if (!seen) throw new Error(message());
  };
}

/** Stream the items of an array. */
export async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}
