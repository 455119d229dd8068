// createLoader's options checked and completed with their defaults, once, before anything is read.
import { availableParallelism } from 'node:os';
import { expandUrls } from '@aim/webdataset';
import { AIM_CROP_SCALE, DEFAULT_CROP_RATIO, EVAL_CROP_FRACTION } from './crop.js';
import { warnIfLibuvPoolIsSmall } from './decode-threads.js';
import type { LoaderOptions, LoaderSource, SampleInfo } from './loader-types.js';
import { patchGrid } from './patches.js';
import { AIM_COLOR_JITTER } from './pixels.js';
import { DEFAULT_LIMITS, type ImageLimits, type TransformOptions } from './process.js';
import { checkShare } from './share.js';

const DEFAULT_IMAGE_KEYS = ['jpg', 'jpeg', 'png', 'webp'] as const;

/** Every option the loader runs with, checked, defaults filled in. */
export interface ResolvedLoaderOptions {
  readonly batchSize: number;
  readonly numPatches: number;
  readonly patchDim: number;
  readonly workers: number;
  readonly tasksPerWorker: number;
  readonly prefetch: number;
  readonly mode: 'train' | 'eval';
  readonly seed: number;
  readonly epochs: number;
  readonly ordered: boolean;
  readonly policy: 'raise' | 'warn' | 'skip';
  readonly rank: number;
  readonly worldSize: number;
  readonly sources: readonly LoaderSource[];
  readonly weights: readonly number[];
  readonly transform: TransformOptions;
  readonly limits: ImageLimits;
  readonly predicates: ReadonlyArray<[string, (sample: SampleInfo) => boolean]>;
  readonly imageKeys: readonly string[];
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`createLoader: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** Checks `options` (throwing on the first bad one) and fills in the defaults. */
export function resolveLoaderOptions(options: LoaderOptions): ResolvedLoaderOptions {
  const batchSize = positiveInteger(options.batchSize, 'batchSize');
  const imageSize = positiveInteger(options.imageSize ?? 224, 'imageSize');
  const patchSize = positiveInteger(options.patchSize ?? 14, 'patchSize');
  const { numPatches, patchDim } = patchGrid(imageSize, imageSize, 3, patchSize);
  const workers = positiveInteger(options.workers ?? availableParallelism(), 'workers');
  const tasksPerWorker = positiveInteger(options.tasksPerWorker ?? 2, 'tasksPerWorker');
  const prefetch = positiveInteger(options.prefetch ?? 4 * workers, 'prefetch');
  warnIfLibuvPoolIsSmall(workers * tasksPerWorker);
  const mode = options.transform ?? 'train';
  if (mode !== 'train' && mode !== 'eval') throw new TypeError(`createLoader: transform must be 'train' or 'eval', got ${JSON.stringify(mode)}`);
  const seed = options.seed ?? 0;
  const epochs = options.epochs ?? 1;
  if (epochs !== Infinity) positiveInteger(epochs, 'epochs');
  const ordered = options.ordered ?? true;
  const policy = options.errorPolicy ?? 'skip';
  if (!['raise', 'warn', 'skip'].includes(policy))
    throw new TypeError(`createLoader: errorPolicy must be 'raise', 'warn' or 'skip', got ${JSON.stringify(policy)}`);
  const rank = options.rank ?? 0;
  const worldSize = options.worldSize ?? 1;
  if (!(Number.isInteger(rank) && Number.isInteger(worldSize) && worldSize >= 1 && rank >= 0 && rank < worldSize)) {
    throw new RangeError(`createLoader: need 0 <= rank < worldSize, got rank ${rank}, worldSize ${worldSize}`);
  }
  if (options.samplesPerEpoch !== undefined) positiveInteger(options.samplesPerEpoch, 'samplesPerEpoch');
  if (options.share) {
    checkShare(options.share);
    if (worldSize > 1) throw new TypeError('createLoader: give either rank/worldSize (shards split by rank) or share (blocks of samples by rank), not both');
    if (!ordered) throw new TypeError('createLoader: share needs ordered batches (its positions count raw samples in stream order)');
  }

  const sources: LoaderSource[] = options.sources ? [...options.sources] : options.shards !== undefined ? [{ shards: options.shards }] : [];
  if (sources.length === 0) throw new TypeError('createLoader: give `shards` or a non-empty `sources` list');
  if (options.sources && options.shards !== undefined) throw new TypeError('createLoader: give either `shards` or `sources`, not both');
  if (worldSize > 1 && !options.resampled) {
    // Checked here rather than when reading starts: a rank left without shards would fail only once training runs.
    sources.forEach((s, i) => {
      const count = expandUrls(s.shards).length;
      if (count < worldSize) {
        const named = typeof s.shards === 'string' ? `'${s.shards}'` : 'the shard list';
        const which = sources.length > 1 ? `source ${i} (${named})` : named;
        throw new RangeError(
          `createLoader: ${worldSize} ranks split the shards (rank r reads shards r, r+${worldSize}, ...), but ${which} has ${count} shard(s): ` +
            'every rank needs at least one; use more (smaller) shards or fewer ranks',
        );
      }
    });
  }
  const weights = sources.map((s, i) => {
    const w = s.weight ?? 1;
    if (!(w > 0 && Number.isFinite(w))) throw new RangeError(`createLoader: sources[${i}].weight must be a positive number, got ${w}`);
    return w;
  });

  const jitter = options.colorJitter === true ? AIM_COLOR_JITTER : options.colorJitter ? options.colorJitter : null;
  const transform: TransformOptions = {
    mode,
    imageSize,
    patchSize,
    scale: options.scale ?? AIM_CROP_SCALE,
    ratio: DEFAULT_CROP_RATIO,
    flipProbability: 0.5,
    colorJitter: jitter,
    cropFraction: EVAL_CROP_FRACTION,
    shrinkOnLoad: options.shrinkOnLoad ?? true,
  };
  const filters = options.filters ?? {};
  const limits: ImageLimits = {
    minSide: filters.minSide ?? DEFAULT_LIMITS.minSide,
    maxAspect: filters.maxAspect ?? DEFAULT_LIMITS.maxAspect,
    maxPixels: filters.maxPixels ?? DEFAULT_LIMITS.maxPixels,
  };
  const predicates = Object.entries(filters.predicates ?? {});
  const imageKeys = options.imageKeys ?? DEFAULT_IMAGE_KEYS;
  return {
    batchSize,
    numPatches,
    patchDim,
    workers,
    tasksPerWorker,
    prefetch,
    mode,
    seed,
    epochs,
    ordered,
    policy,
    rank,
    worldSize,
    sources,
    weights,
    transform,
    limits,
    predicates,
    imageKeys,
  };
}
