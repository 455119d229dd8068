// createLoader: WebDataset shards in, PatchBatch out. The main thread reads and mixes shards, runs the cheap
// filters, and hands encoded images to a Piscina pool (worker.ts) with a bounded window of tasks; results are
// reassembled in stream order (or as they finish) into batches, and every sample is accounted for.
// References: webdataset (Python) RandomMix / with_epoch; torch DataLoader drop_last; docs/aim-spec.md (DFN-2B+ mixing).

import { availableParallelism } from 'node:os';
import { readSamples, sampleCls, sampleJson, sampleText, type HttpOptions, type Sample } from '@aim/webdataset';
import type { Piscina } from 'piscina';
import { AIM_CROP_SCALE, DEFAULT_CROP_RATIO, EVAL_CROP_FRACTION } from './crop.js';
import { patchGrid } from './patches.js';
import { AIM_COLOR_JITTER, type ColorJitterOptions } from './pixels.js';
import { createPool } from './pool.js';
import { DEFAULT_LIMITS, type ImageLimits, type ImageRejectReason, type SampleResult, type SampleTask, type TransformOptions } from './process.js';
import { rngFor } from './random.js';
import { BlockOwner, checkShare, type LoaderShare } from './share.js';

/** Why a sample is not in any batch. */
export type RejectReason = ImageRejectReason | 'missing_image' | 'worker_error' | `filter:${string}`;

/** Reasons that mean broken data (errorPolicy 'raise' throws on these); the rest are deliberate filters. */
const DATA_ERRORS: ReadonlySet<string> = new Set(['decode_error', 'missing_image', 'worker_error']);

/** What a user predicate sees: the sample's key and url, and its json/txt members decoded on first access. */
export interface SampleInfo {
  readonly key: string;
  readonly url: string;
  /** The parsed `json` member (undefined when absent); throws if it is not valid JSON. */
  readonly json: unknown;
  /** The `txt` member as text (undefined when absent). */
  readonly txt: string | undefined;
  readonly sample: Sample;
}

export interface LoaderFilters {
  /** Minimum shorter side in pixels (from the image header). */
  minSide?: number;
  /** Maximum longer/shorter side ratio. */
  maxAspect?: number;
  /** Maximum pixel count; also the decoder's decompression-bomb limit. Default 89,478,485 (PIL's). */
  maxPixels?: number;
  /** Named predicates run on the main thread before any decode; a false (or a throw) rejects as `filter:<name>`. */
  predicates?: Record<string, (sample: SampleInfo) => boolean>;
}

/** One data source of a weighted mixture (the paper's DFN-2B+: DFN-2B with weight 0.8, ImageNet-1k with 0.2). */
export interface LoaderSource {
  shards: string | readonly string[];
  /** Relative sampling weight; default 1. */
  weight?: number;
  /** Label member for this source (overrides the loader's labelKey). */
  labelKey?: string;
}

export interface LoaderOptions {
  /** Shard spec (brace patterns, lists, files or http(s)); or give `sources` to mix several. */
  shards?: string | readonly string[];
  sources?: readonly LoaderSource[];
  batchSize: number;
  /** Default 224. */
  imageSize?: number;
  /** Default 14. */
  patchSize?: number;
  /** 'train': RandomResizedCrop + flip (+ ColorJitter if asked); 'eval': resize + centre crop. Default 'train'. */
  transform?: 'train' | 'eval';
  /** RandomResizedCrop area range; default AIM's (0.4, 1.0). */
  scale?: readonly [number, number];
  /** ColorJitter: true for the released config's (0.4, 0.4, 0.2, 0.1) p=0.8; off by default as in the paper. */
  colorJitter?: boolean | ColorJitterOptions;
  /**
   * Default true: JPEGs that shrink by 3x or more (big photos) decode at reduced scale and resize in libvips,
   * within a pixel of the exact crop. false: every image is resized with Pillow's exact arithmetic, as torchvision.
   */
  shrinkOnLoad?: boolean;
  /** Worker threads; default the number of cores. */
  workers?: number;
  /**
   * Images each worker holds at once; default 2. sharp decodes on libuv's threads while the worker thread resizes
   * and normalises, so a second image in flight keeps a core busy during the other's hand-offs (2 workers on 2 cores:
   * 1.06-1.20x the images/s of 1 per worker). With fewer workers than cores, each worker then uses up to ~1.5 cores.
   */
  tasksPerWorker?: number;
  /** Base seed of every random choice (shard order, shuffle, mixing, augmentation). Default 0. */
  seed?: number;
  /** Passes over the data; default 1. With `resampled`, each epoch is `samplesPerEpoch` draws (or endless). */
  epochs?: number;
  /** Draw shards with replacement instead of passing over them (as for DFN-scale data). */
  resampled?: boolean;
  /** Stop each epoch after this many samples read (required to have several epochs with `resampled`). */
  samplesPerEpoch?: number;
  /** Shuffle the shard order each epoch; default true for train, false for eval. */
  shuffleShards?: boolean;
  /** Sample shuffle buffer size; default 0 (off). */
  shuffleBuffer?: number;
  /** This process's place among data-parallel processes (shards are split rank::worldSize). */
  rank?: number;
  worldSize?: number;
  /**
   * This process's share of every optimiser step (share.ts): the raw stream is read whole, but only the blocks of
   * batchSize samples that fill this rank's micro-batch slots are decoded. Needs `ordered`; excludes rank/worldSize.
   */
  share?: LoaderShare;
  /** Member holding an integer class label (e.g. 'cls'); batches then carry `labels` (-1 where a sample has none). */
  labelKey?: string;
  /** Members tried, in order, for the image; default jpg, jpeg, png, webp. */
  imageKeys?: readonly string[];
  filters?: LoaderFilters;
  /**
   * 'skip' (default): count rejections and read errors in stats() and go on; 'warn': also console.warn each;
   * 'raise': throw on broken data (decode_error, missing_image, worker_error, unreadable shards). Filters never throw.
   */
  errorPolicy?: 'raise' | 'warn' | 'skip';
  /** Called for every rejected sample, whatever the policy. */
  onReject?: (rejection: Rejection) => void;
  /** true (default): batches depend only on the options, not on scheduling; false: results in completion order. */
  ordered?: boolean;
  /** Drop the partial batch at the end of each epoch (counted as `dropped`); default false. */
  dropLast?: boolean;
  /** Samples dispatched to workers and not yet consumed, at most; default 4 x workers. */
  prefetch?: number;
  /** Start from a saved position (see PatchLoader.position()); exact when `ordered`. */
  resume?: LoaderPosition;
  /** Worker module to run instead of the built-in one (it must export the same default function). */
  workerFile?: string | URL;
  /** For http(s) shards: retries, backoff, headers and the stall timeout (see @aim/webdataset's HttpOptions). */
  http?: HttpOptions;
}

/** A batch of patchified images. */
export interface PatchBatch {
  patches: Float32Array; // [B, K, p*p*3]
  /** Class labels (-1 for none) when a labelKey is set. */
  labels?: Int32Array; // [B]
  keys: string[];
  batchSize: number; // B (smaller for the last batch of an epoch unless dropLast)
  numPatches: number; // K
  patchDim: number; // p*p*3
  epoch: number;
}

export interface Rejection {
  key: string;
  url: string;
  reason: RejectReason;
  message: string;
}

export interface LoaderStats {
  /**
   * Complete samples the shard reader delivered; each one's fate is known: seen == yielded + rejectedTotal + buffered
   * + dropped. Samples the reader could not deliver are not in `seen`: those it names are `lostToReadErrors`; those
   * in the unread rest of a shard that broke (truncated, corrupt tar header, network failure) cannot be known and
   * are counted nowhere (`readErrors` counts the breaks).
   */
  seen: number;
  yielded: number;
  rejected: Partial<Record<RejectReason, number>>;
  rejectedTotal: number;
  /** Accepted samples waiting in the batch being filled. */
  buffered: number;
  /** Samples in partial batches dropped by dropLast. */
  dropped: number;
  /** Shard/tar problems reported by the reader (not samples). */
  readErrors: number;
  /**
   * Samples the reader dropped and named: the sample in progress when a shard broke, or one with a bad member
   * (duplicate extension, over-size). Not part of `seen`.
   */
  lostToReadErrors: number;
  /** Encoded bytes of the samples seen. */
  bytes: number;
  /** With `share`: raw samples passed over, undecoded, because their blocks belong to other ranks (not in `seen`). */
  otherRanks?: number;
  batches: number;
  epoch: number;
  elapsedSeconds: number;
  imagesPerSecond: number;
}

/** Where the loader is: batches yielded so far cover the first `samplesInEpoch` samples of `epoch`. */
export interface LoaderPosition {
  epoch: number;
  samplesInEpoch: number;
  /** With `share`: raw index in `epoch` where the block labelled `blockLabel` starts (see share.ts). */
  blockStart?: number;
  blockLabel?: number;
}

export interface PatchLoader extends AsyncIterable<PatchBatch> {
  stats(): LoaderStats;
  /** The position to save with a checkpoint; pass it back as `resume` to continue after the last yielded batch. */
  position(): LoaderPosition;
  /**
   * Hands a batch's patch buffer back for reuse by a later batch (optional; saves the main thread a fresh allocation
   * per batch). Call it only once nothing reads `batch.patches` any more, e.g. after copying it into a tensor.
   */
  recycle(batch: PatchBatch): void;
  /** Stops reading and terminates the worker pool; iteration ends. */
  close(): Promise<void>;
}

type Outcome =
  | { ok: true; key: string; label: number; slot: number }
  | { ok: false; key: string; url: string; reason: RejectReason; message: string };

interface Pending {
  outcome: Promise<Outcome>;
  /** With `share`: the sample's raw index in its epoch (the position after it, once consumed, is index + 1). */
  rawIndex?: number;
  settled: Outcome | undefined;
  /** The ring slot the worker writes into (released when the outcome is consumed); none when no worker runs. */
  slot?: number;
}

/**
 * Fixed slots of shared memory, one per task in flight: workers write patches straight into a slot, the main thread
 * copies the slot into its batch. Nothing is allocated or transferred per image, which keeps the main thread's
 * garbage collector (driven by external memory) quiet.
 */
class SlotRing {
  readonly buffer: SharedArrayBuffer;
  private readonly free: number[];
  constructor(
    readonly slots: number,
    private readonly slotFloats: number,
  ) {
    this.buffer = new SharedArrayBuffer(slots * slotFloats * 4);
    this.free = Array.from({ length: slots }, (_, i) => slots - 1 - i);
  }
  take(): number {
    const slot = this.free.pop();
    if (slot === undefined) throw new Error('SlotRing: no free slot (more tasks in flight than prefetch allows)');
    return slot;
  }
  release(slot: number): void {
    this.free.push(slot);
  }
  view(slot: number): Float32Array {
    return new Float32Array(this.buffer, slot * this.slotFloats * 4, this.slotFloats); // [K, p*p*3]
  }
}

const DEFAULT_IMAGE_KEYS = ['jpg', 'jpeg', 'png', 'webp'] as const;
const MAX_SPARE_BATCHES = 2;

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`createLoader: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** Builds the loader; nothing is read and no thread starts until iteration begins. */
export function createLoader(options: LoaderOptions): PatchLoader {
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
  if (!['raise', 'warn', 'skip'].includes(policy)) throw new TypeError(`createLoader: errorPolicy must be 'raise', 'warn' or 'skip', got ${JSON.stringify(policy)}`);
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

  const stats: LoaderStats = {
    seen: 0,
    yielded: 0,
    rejected: {},
    rejectedTotal: 0,
    buffered: 0,
    dropped: 0,
    readErrors: 0,
    lostToReadErrors: 0,
    bytes: 0,
    ...(options.share ? { otherRanks: 0 } : {}),
    batches: 0,
    epoch: options.resume?.epoch ?? 0,
    elapsedSeconds: 0,
    imagesPerSecond: 0,
  };
  const position: LoaderPosition = { epoch: options.resume?.epoch ?? 0, samplesInEpoch: options.resume?.samplesInEpoch ?? 0 };
  // A resume position without block fields is a step boundary: blocks are labelled from there.
  const owner = options.share
    ? new BlockOwner(options.share, batchSize, { blockStart: options.resume?.blockStart ?? position.samplesInEpoch, blockLabel: options.resume?.blockLabel ?? 0 })
    : undefined;
  let startTime: number | undefined;
  let pool: Piscina | undefined;
  let closed = false;
  let started = false;
  let generator: AsyncGenerator<PatchBatch> | undefined;
  const per = numPatches * patchDim;
  let ring: SlotRing; // allocated when iteration starts
  // Batch buffers handed back by recycle(): reusing them spares the main thread the page faults and garbage
  // collections of a fresh [B, K, p*p*3] allocation per batch.
  const spare: Float32Array[] = [];
  const lent = new WeakMap<Float32Array, Float32Array>(); // a yielded batch's patches -> its whole buffer

  let firstReadError: string | undefined; // the first read error of the run, for the "read no samples" failure
  const lastLost = new Map<string, string>(); // shard URL -> the last key reported lost in it
  const onReadError = (info: { url: string; key?: string; reason: string }): void => {
    stats.readErrors++;
    firstReadError ??= info.reason.includes(info.url) ? info.reason : `${info.url}${info.key ? ` (${info.key})` : ''}: ${info.reason}`;
    // A report with a key names a sample that was dropped; a shard reports one key at most once in a row.
    if (info.key !== undefined && lastLost.get(info.url) !== info.key) {
      stats.lostToReadErrors++;
      lastLost.set(info.url, info.key);
    }
    if (policy === 'warn') console.warn(`[@aim/data] read error in ${info.url}${info.key ? ` (${info.key})` : ''}: ${info.reason}`);
  };

  /** The samples of one epoch, mixed across sources by weight with a seeded draw per sample. */
  async function* epochSamples(epoch: number): AsyncGenerator<{ sample: Sample; source: number }> {
    lastLost.clear();
    const iterators = sources.map((s) =>
      readSamples(s.shards, {
        seed,
        epoch,
        shuffleShards: options.shuffleShards ?? mode === 'train',
        ...(options.shuffleBuffer ? { shuffle: options.shuffleBuffer } : {}),
        ...(worldSize > 1 ? { node: { rank, worldSize } } : {}),
        ...(options.resampled ? { resampled: true } : {}),
        errorPolicy: policy === 'raise' ? 'raise' : 'skip',
        onError: onReadError,
        ...(options.http ? { http: options.http } : {}),
      })[Symbol.asyncIterator](),
    );
    const active = sources.map((_, i) => i);
    const mixRng = rngFor(seed, epoch, 'mix-sources');
    let count = 0;
    try {
      while (active.length > 0 && (options.samplesPerEpoch === undefined || count < options.samplesPerEpoch)) {
        let slot = 0;
        if (active.length > 1) {
          const total = active.reduce((sum, i) => sum + weights[i], 0);
          let u = mixRng.next() * total;
          while (slot < active.length - 1 && u >= weights[active[slot]]) u -= weights[active[slot++]];
        }
        const source = active[slot];
        const next = await iterators[source].next();
        if (next.done) {
          active.splice(slot, 1); // an exhausted source leaves the mixture; the others keep their relative weights
          continue;
        }
        count++;
        yield { sample: next.value, source };
      }
    } finally {
      await Promise.all(iterators.map((it) => it.return?.()));
    }
  }

  function sampleInfo(sample: Sample): SampleInfo {
    let json: unknown;
    let jsonDone = false;
    return {
      key: sample.__key__,
      url: sample.__url__,
      get json() {
        if (!jsonDone) {
          json = sample.json === undefined ? undefined : sampleJson(sample);
          jsonDone = true;
        }
        return json;
      },
      get txt() {
        return sample.txt === undefined ? undefined : sampleText(sample);
      },
      sample,
    };
  }

  /** Main-thread checks, then the worker task (retried once when the worker throws or dies). */
  function dispatch(sample: Sample, source: number, epoch: number, index: number): Pending {
    const key = sample.__key__;
    const url = sample.__url__;
    const settle = (outcome: Outcome): Pending => ({ outcome: Promise.resolve(outcome), settled: outcome });
    for (const [ext, value] of Object.entries(sample)) if (!ext.startsWith('__')) stats.bytes += value.length;

    const imageExt = imageKeys.find((ext) => sample[ext] !== undefined && typeof sample[ext] !== 'string');
    if (imageExt === undefined) {
      const has = Object.keys(sample).filter((k) => !k.startsWith('__'));
      return settle({ ok: false, key, url, reason: 'missing_image', message: `no ${imageKeys.join('/')} member (has: ${has.join(', ') || 'none'})` });
    }
    if (predicates.length > 0) {
      const info = sampleInfo(sample);
      for (const [name, predicate] of predicates) {
        let pass: boolean;
        let why = 'predicate returned false';
        try {
          pass = predicate(info) === true;
        } catch (err) {
          pass = false;
          why = `predicate threw: ${(err as Error).message}`;
        }
        if (!pass) return settle({ ok: false, key, url, reason: `filter:${name}`, message: why });
      }
    }
    let label = -1;
    const labelKey = sources[source].labelKey ?? options.labelKey;
    if (labelKey !== undefined && sample[labelKey] !== undefined) {
      try {
        label = sampleCls(sample, labelKey);
      } catch (err) {
        return settle({ ok: false, key, url, reason: 'filter:label', message: (err as Error).message });
      }
    }

    const bytes = sample[imageExt] as Uint8Array;
    // Keys can repeat across sources and, when resampling, within one: make the augmentation seed unique per draw.
    const rngKey = `${sources.length > 1 ? `${source}/` : ''}${key}${options.resampled ? `#${index}` : ''}`;
    const run = async (): Promise<Outcome> => {
      let lastError = '';
      for (let attempt = 0; attempt < 2; attempt++) {
        // Posting clones the bytes into the worker (a memcpy; the reader's copy stays here for a retry). A view into a
        // larger buffer is cut out first, as a clone would carry the whole buffer.
        const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
        const task: SampleTask = { key: rngKey, bytes: own, seed, epoch, transform, limits, out: { buffer: ring.buffer, offset: slot * per } };
        // A dying thread fails every task it holds; the retry runs alone in a one-thread pool, so an innocent
        // sample is not failed twice by a neighbour that kills its thread again.
        const target = attempt === 0 ? pool! : retryPool();
        try {
          const result = (await target.run(task)) as SampleResult;
          if (result.ok) return { ok: true, key, label, slot };
          return { ok: false, key, url, reason: result.reason, message: result.message };
        } catch (err) {
          if (closed) throw err;
          lastError = (err as Error).message;
        }
      }
      return { ok: false, key, url, reason: 'worker_error', message: `worker failed twice: ${lastError}` };
    };
    const slot = ring.take();
    const pending: Pending = { outcome: run(), settled: undefined, slot };
    pending.outcome.then(
      (o) => (pending.settled = o),
      () => undefined, // only after close(); nobody waits for it then
    );
    return pending;
  }

  function reject(outcome: Extract<Outcome, { ok: false }>): void {
    stats.rejected[outcome.reason] = (stats.rejected[outcome.reason] ?? 0) + 1;
    stats.rejectedTotal++;
    const rejection: Rejection = { key: outcome.key, url: outcome.url, reason: outcome.reason, message: outcome.message };
    options.onReject?.(rejection);
    if (policy === 'warn') console.warn(`[@aim/data] rejected ${outcome.url} ${outcome.key}: ${outcome.reason}: ${outcome.message}`);
    if (policy === 'raise' && DATA_ERRORS.has(outcome.reason)) {
      throw new Error(`@aim/data: sample ${JSON.stringify(outcome.key)} from ${outcome.url}: ${outcome.reason}: ${outcome.message}`);
    }
  }

  async function* run(): AsyncGenerator<PatchBatch> {
    if (closed) return; // closed before iterating: destroyPool() has already run, a pool made now would outlive it
    startTime = performance.now();
    ring = new SlotRing(prefetch, per);
    pool = createPool({ workers, tasksPerWorker, ...poolOptions });
    try {
      yield* batches();
    } catch (err) {
      if (!closed) throw err; // after close(), in-flight tasks fail with the pool; that is not an error
    } finally {
      closed = true;
      await destroyPool();
    }
  }

  const poolOptions = {
    ...(options.workerFile ? { workerFile: options.workerFile } : {}),
    // Stray worker messages while the pools shut down are expected; any other pool error is reported.
    onError: (err: Error) => {
      if (!closed) process.emitWarning(`@aim/data worker pool: ${err.message}`);
    },
  };
  let retries: Piscina | undefined;
  function retryPool(): Piscina {
    retries ??= createPool({ workers: 1, tasksPerWorker: 1, ...poolOptions });
    return retries;
  }

  let destroying: Promise<void> | undefined;
  function destroyPool(): Promise<void> {
    destroying ??= Promise.all([pool?.destroy(), retries?.destroy()]).then(() => undefined);
    return destroying;
  }

  async function* batches(): AsyncGenerator<PatchBatch> {
    for (let epoch = position.epoch; epoch < epochs && !closed; epoch++) {
      const skip = epoch === position.epoch ? position.samplesInEpoch : 0;
      position.epoch = epoch;
      position.samplesInEpoch = skip;
      stats.epoch = epoch;
      const stream = epochSamples(epoch);
      let index = 0;
      let exhausted = false;
      const window: Pending[] = [];
      let workerTasks = 0;
      let consumedInEpoch = skip;
      let batch = newBatch(epoch);
      try {
        while (!closed) {
          while (!exhausted && workerTasks < prefetch && window.length < 4 * prefetch) {
            const next = await stream.next();
            if (next.done) {
              exhausted = true;
              break;
            }
            if (index < skip) {
              index++; // resuming: these samples were consumed before the checkpoint
              continue;
            }
            if (owner && !owner.owns(index)) {
              index++; // another rank decodes it: not seen, not rejected, no worker task
              stats.otherRanks!++;
              continue;
            }
            const pending = dispatch(next.value.sample, next.value.source, epoch, index++);
            if (owner) pending.rawIndex = index - 1;
            if (pending.slot !== undefined) workerTasks++;
            window.push(pending);
          }
          if (window.length === 0 || closed) break;
          let pending: Pending;
          if (ordered) {
            pending = window.shift()!;
          } else {
            const done = window.findIndex((p) => p.settled !== undefined);
            const at = done >= 0 ? done : await Promise.race(window.map((p, i) => p.outcome.then(() => i)));
            pending = window.splice(at, 1)[0];
          }
          const outcome = await pending.outcome;
          if (outcome.ok) batch.add(outcome.key, outcome.label, ring.view(outcome.slot));
          if (pending.slot !== undefined) {
            workerTasks--;
            ring.release(pending.slot);
          }
          stats.seen++;
          // With a share, the other ranks' samples since the last consumed one are passed over too.
          consumedInEpoch = pending.rawIndex !== undefined ? pending.rawIndex + 1 : consumedInEpoch + 1;
          if (outcome.ok) {
            stats.buffered++;
          } else {
            reject(outcome);
          }
          if (batch.count === batchSize) {
            const full = batch.finish();
            batch = newBatch(epoch);
            yield emit(full, consumedInEpoch);
          }
        }
      } finally {
        await stream.return(undefined);
      }
      if (closed) break;
      if (index === 0 && skip === 0 && stats.readErrors > 0) {
        const more = stats.readErrors - 1;
        throw new Error(
          `@aim/data: epoch ${epoch} read no samples: ${firstReadError}` +
            `${more > 0 ? ` (and ${more} more read error${more > 1 ? 's' : ''})` : ''}; check the shard spec`,
        );
      }
      if (batch.count > 0) {
        if (options.dropLast) {
          stats.dropped += batch.count;
          stats.buffered -= batch.count;
        } else {
          yield emit(batch.finish(), consumedInEpoch);
        }
      }
      position.epoch = epoch + 1;
      position.samplesInEpoch = 0;
      owner?.nextEpoch(index, options.dropLast === true);
    }
  }

  function emit(b: PatchBatch, consumedInEpoch: number): PatchBatch {
    stats.yielded += b.batchSize;
    stats.buffered -= b.batchSize;
    stats.batches++;
    position.samplesInEpoch = consumedInEpoch;
    return b;
  }

  function newBatch(epoch: number) {
    let patches: Float32Array | undefined;
    const labels = options.labelKey !== undefined || sources.some((s) => s.labelKey !== undefined) ? new Int32Array(batchSize) : undefined;
    const keys: string[] = [];
    return {
      get count() {
        return keys.length;
      },
      add(key: string, label: number, imagePatches: Float32Array) {
        patches ??= spare.pop() ?? new Float32Array(batchSize * per); // [B, K, p*p*3]
        patches.set(imagePatches, keys.length * per);
        if (labels) labels[keys.length] = label;
        keys.push(key);
      },
      finish(): PatchBatch {
        const n = keys.length;
        // A partial batch (end of an epoch) is a view on the front of the buffer: no copy, and recyclable too.
        const out = n === batchSize ? patches! : patches!.subarray(0, n * per);
        lent.set(out, patches!);
        return {
          patches: out,
          ...(labels ? { labels: n === batchSize ? labels : labels.slice(0, n) } : {}),
          keys,
          batchSize: n,
          numPatches,
          patchDim,
          epoch,
        };
      },
    };
  }

  return {
    [Symbol.asyncIterator]() {
      if (started) throw new Error('createLoader: a loader can be iterated once; create another for a second pass');
      started = true;
      generator = run();
      return generator;
    },
    stats() {
      const elapsed = startTime === undefined ? 0 : (performance.now() - startTime) / 1000;
      return { ...stats, rejected: { ...stats.rejected }, elapsedSeconds: elapsed, imagesPerSecond: elapsed > 0 ? stats.yielded / elapsed : 0 };
    },
    position() {
      return { ...position, ...owner?.anchor };
    },
    recycle(batch: PatchBatch) {
      const buffer = lent.get(batch.patches);
      if (!buffer) return; // not ours, or already recycled
      lent.delete(batch.patches);
      if (spare.length < MAX_SPARE_BATCHES) spare.push(buffer);
    },
    async close() {
      closed = true;
      // Destroying the pool first fails any task the generator is waiting on, so it cannot hang.
      await destroyPool();
      if (generator) await generator.return(undefined);
    },
  };
}

const libuvWarnings = new Set<string>(); // each distinct warning once per process

/**
 * For a program's entry point, before any asynchronous I/O: sizes libuv's thread pool (which sharp decodes on) for
 * `workers` x `tasksPerWorker` images in flight. libuv reads UV_THREADPOOL_SIZE once, when the pool first starts,
 * so this must run before anything uses the pool; an explicit UV_THREADPOOL_SIZE is left as it is.
 */
export function reserveDecodeThreads(workers = availableParallelism(), tasksPerWorker = 2): void {
  process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, workers * tasksPerWorker));
}

/**
 * sharp's decodes run on libuv's thread pool, one per process (UV_THREADPOOL_SIZE, default 4, fixed once Node first
 * uses it): more images in flight than threads wait in a queue however many workers there are.
 */
function warnIfLibuvPoolIsSmall(imagesInFlight: number): void {
  const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  if (imagesInFlight <= threads) return;
  const message =
    `@aim/data: ${imagesInFlight} images in flight (workers x tasksPerWorker) but libuv has ${threads} threads for sharp; ` +
    `start Node with UV_THREADPOOL_SIZE=${imagesInFlight} to decode them all at once`;
  if (libuvWarnings.has(message)) return;
  libuvWarnings.add(message);
  process.emitWarning(message);
}
