// The data side of data parallelism, in one of two splits (--data-split):
// - 'samples': every rank reads the whole raw stream and decodes only its share of every step (@aim/data's `share`:
//   the raw stream in blocks of batchSize, block k filling micro-batch slot k mod accum), so the ranks together see
//   the one-process stream. A checkpoint records every rank's loader position (gathered to all ranks with one
//   all-reduce) and, when every rank stands exactly at the end of its last block of the step, the one-process position
//   too: the position a single process would have after the same micro-batches, from which any world size resumes.
// - 'shards': rank r reads only shards r, r + N, ... (@aim/data's rank/worldSize), N times less reading for web-scale
//   data. Each rank's stream is its own, so a checkpoint resumes only on the same number of ranks.
import type { LoaderPosition } from '@aim/data';
import type { DataParallel } from './data-parallel.js';
import type { DataPosition } from './run-parts.js';

export const DATA_SPLITS = ['samples', 'shards'] as const;
export type DataSplit = (typeof DATA_SPLITS)[number];

/** What a rank's training stream is opened with: its place among the ranks and the step it starts at. */
export interface DataShare {
  readonly rank: number;
  readonly size: number;
  /** The optimiser step the stream starts at: a position without block labels is labelled from step x accum. */
  readonly step: number;
}

/** In a data-parallel checkpoint: where each rank's loader stood, and the split that put it there. */
export interface RankPositions {
  readonly accum: number;
  readonly batchSize: number;
  /**
   * Rank r's loader position after the step, one per rank: {epoch, samplesInEpoch, blockStart, blockLabel} in the
   * shared stream, or with 'shards' {epoch, samplesInEpoch} in the rank's own shards.
   */
  readonly loaders: readonly LoaderPosition[];
  /** 'shards' when each rank read its own shards; absent: 'samples' (also every checkpoint older than the choice). */
  readonly dataSplit?: 'shards';
}

interface Split {
  readonly accum: number;
  readonly batchSize: number;
  readonly dataSplit: DataSplit;
}

const FIELDS = 5; // epoch, samplesInEpoch, blockStart, blockLabel, at the step's block boundary (1 or 0)

function isLoaderPosition(p: unknown): p is LoaderPosition {
  const q = p as Partial<LoaderPosition> | undefined;
  return typeof q?.epoch === 'number' && typeof q.samplesInEpoch === 'number';
}

/**
 * True when rank `rank`'s loader stands right after the last block it owns among the step's blocks (labels
 * < step x accum): it then consumed exactly its blocks and nothing more, as when nothing it decoded was rejected.
 */
export function atStepBoundary(p: LoaderPosition, rank: number, size: number, step: number, split: Split): boolean {
  if (p.blockStart === undefined || p.blockLabel === undefined) return false;
  const last = step * split.accum - (size - rank - 1) * (split.accum / size) - 1;
  return last >= p.blockLabel && p.samplesInEpoch === p.blockStart + (last - p.blockLabel + 1) * split.batchSize;
}

/** This rank's slot of the gather buffer (zeros elsewhere, so the all-reduce's sum is every rank's slot). */
export function rankPositionSlot(reported: object | undefined, rank: number, size: number, step: number, split: Split): Float64Array {
  const own = reported as Partial<LoaderPosition> | undefined;
  const all = new Float64Array(size * FIELDS);
  if (split.dataSplit === 'shards') {
    if (!isLoaderPosition(own)) throw new Error('data parallel: the training stream reports no loader position {epoch, samplesInEpoch}');
    all.set([own.epoch, own.samplesInEpoch], rank * FIELDS);
    return all;
  }
  if (!isLoaderPosition(own) || typeof own.blockStart !== 'number' || typeof own.blockLabel !== 'number') {
    throw new Error("data parallel: the training stream reports no block position; openTrainData must open this rank's share of the data");
  }
  all.set([own.epoch, own.samplesInEpoch, own.blockStart, own.blockLabel, atStepBoundary(own, rank, size, step, split) ? 1 : 0], rank * FIELDS);
  return all;
}

/**
 * Every rank's position from the summed slots; with 'samples', plus the one-process position when every rank is at
 * the boundary ('shards' has none: no single stream holds what the ranks read).
 */
export function combineRankPositions(all: Float64Array, split: Split): Pick<DataPosition, 'loader' | 'ranks'> {
  const size = all.length / FIELDS;
  const at = (r: number, f: number): number => all[r * FIELDS + f];
  if (split.dataSplit === 'shards') {
    const own = Array.from({ length: size }, (_, r) => ({ epoch: at(r, 0), samplesInEpoch: at(r, 1) }));
    return { ranks: { accum: split.accum, batchSize: split.batchSize, loaders: own, dataSplit: 'shards' } };
  }
  const loaders = Array.from({ length: size }, (_, r) => ({ epoch: at(r, 0), samplesInEpoch: at(r, 1), blockStart: at(r, 2), blockLabel: at(r, 3) }));
  const aligned = loaders.every((_, r) => at(r, 4) === 1);
  // The step's last block is the last rank's; everything before it has been consumed by some rank, nothing after.
  const last = loaders[size - 1];
  return {
    ...(aligned ? { loader: { epoch: last.epoch, samplesInEpoch: last.samplesInEpoch } } : {}),
    ranks: { accum: split.accum, batchSize: split.batchSize, loaders },
  };
}

/** Gathers every rank's loader position after step `step` (a collective: every rank calls it at the same step). */
export function gatherRankPositions(own: object | undefined, comm: DataParallel, step: number, split: Split): Pick<DataPosition, 'loader' | 'ranks'> {
  const all = rankPositionSlot(own, comm.rank, comm.size, step, split);
  comm.allReduceSum(all);
  return combineRankPositions(all, split);
}

/**
 * Where a rank's loader resumes. With 'samples': its own saved position when the world size, --accum and --batch-size
 * are those of the checkpoint (exact in every case); otherwise the one-process position, whose blocks are labelled from
 * the step (exact: the checkpoint's ranks stood at the step's boundary); otherwise a one-line error. With 'shards': its
 * own saved position when the checkpoint's ranks read their own shards and were as many; otherwise a one-line error.
 */
export function rankResumePosition(from: DataPosition | undefined, share: DataShare, split: Split): LoaderPosition | undefined {
  if (!from) return undefined;
  const ranks = from.ranks;
  if (split.dataSplit === 'shards') {
    if (ranks?.dataSplit === 'shards' && ranks.loaders.length === share.size) {
      const { epoch, samplesInEpoch } = ranks.loaders[share.rank];
      return { epoch, samplesInEpoch };
    }
    if (from.microBatches === 0 && !ranks) return undefined;
    if (ranks?.dataSplit === 'shards') throw new Error(ownShardsMessage(ranks, `${share.size} ranks`));
    throw new Error(
      `resume: --data-split shards on ${share.size} ranks resumes only a checkpoint that ${share.size} ranks saved with --data-split shards ` +
        `(each rank's place in its own shards), and this one was saved by ${ranks ? `${ranks.loaders.length} ranks with --data-split samples` : 'one process'}: ` +
        'resume it with --data-split samples, on any number of ranks',
    );
  }
  if (ranks?.dataSplit === 'shards') throw new Error(ownShardsMessage(ranks, `${share.size} ranks and --data-split samples`));
  if (ranks && ranks.loaders.length === share.size && ranks.accum === split.accum && ranks.batchSize === split.batchSize) {
    return ranks.loaders[share.rank];
  }
  if (isLoaderPosition(from.loader)) {
    const { epoch, samplesInEpoch } = from.loader;
    return { epoch, samplesInEpoch, blockStart: samplesInEpoch, blockLabel: share.step * split.accum };
  }
  if (ranks) throw new Error(unevenRanksMessage(ranks, `${share.size} ranks, --batch-size ${split.batchSize} and --accum ${split.accum}`));
  if (from.microBatches > 0) throw new Error(`checkpoint data position ${JSON.stringify(from)} has no loader position {epoch, samplesInEpoch} to resume from`);
  return undefined;
}

/** A one-process run's loader position, or a one-line error when the checkpoint's ranks cannot be merged into one. */
export function oneProcessResumePosition(from: DataPosition | undefined): LoaderPosition | undefined {
  if (!from) return undefined;
  if (from.ranks?.dataSplit === 'shards') throw new Error(ownShardsMessage(from.ranks, 'one process'));
  if (isLoaderPosition(from.loader)) return { epoch: from.loader.epoch, samplesInEpoch: from.loader.samplesInEpoch };
  if (from.ranks) throw new Error(unevenRanksMessage(from.ranks, 'one process'));
  if (from.microBatches > 0) throw new Error(`checkpoint data position ${JSON.stringify(from)} has no loader position {epoch, samplesInEpoch} to resume from`);
  return undefined;
}

function ownShardsMessage(ranks: RankPositions, asked: string): string {
  const n = ranks.loaders.length;
  return `resume: this checkpoint's ${n} ranks each read their own shards (--data-split shards), so it resumes only on ${n} ranks with --data-split shards, not with ${asked}`;
}

function unevenRanksMessage(ranks: RankPositions, asked: string): string {
  return (
    `resume: this checkpoint's ${ranks.loaders.length} ranks stood at different places in the data (a rejected sample is replaced from ` +
    `its rank's next block), so it resumes exactly only with ${ranks.loaders.length} ranks, --batch-size ${ranks.batchSize} and ` +
    `--accum ${ranks.accum}, not with ${asked}`
  );
}
