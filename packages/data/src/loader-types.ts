// The loader's public shapes: its options, the batches it yields, its statistics and its position for resuming.
import type { HttpOptions, Sample } from '@aim/webdataset';
import type { ColorJitterOptions } from './pixels.js';
import type { ImageRejectReason } from './process.js';
import type { LoaderShare } from './share.js';

/** Why a sample is not in any batch. */
export type RejectReason = ImageRejectReason | 'missing_image' | 'worker_error' | `filter:${string}`;

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

/** What became of one sample (internal to the loader): accepted into a slot of the ring, or rejected and why. */
export type Outcome = { ok: true; key: string; label: number; slot: number } | { ok: false; key: string; url: string; reason: RejectReason; message: string };
