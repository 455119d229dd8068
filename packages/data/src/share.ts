// Data parallelism without repeated decoding: every process reads the same raw sample stream (cheap: tar parsing), and
// the raw samples are cut into consecutive blocks of `batchSize`, block k filling micro-batch slot k mod
// batchesPerStep of an optimiser step. A process decodes only the blocks of its own slots; the rest it passes over
// before any decode, filter or worker task. With nothing rejected, process r's batches are exactly the micro-batches
// that one process would yield for those slots, so N processes together see the one-process stream.
// A rejected sample leaves its micro-batch short; the process fills it from its own next block (it never waits for
// another process), which shifts its later batches against the one-process stream. Block labels follow the raw stream
// alone (never the decode outcomes), so every process agrees on who owns which block whatever it rejected.

/** This process's share of the stream: block k (micro-batch slot k mod batchesPerStep) belongs to one rank. */
export interface LoaderShare {
  readonly rank: number;
  readonly size: number;
  /**
   * Micro-batches per optimiser step, a multiple of `size`: rank r owns slots r*s .. (r+1)*s - 1 of each step, with
   * s = batchesPerStep / size (the same consecutive split the training step uses).
   */
  readonly batchesPerStep: number;
}

/** Where block labels start in the current epoch: the block labelled `blockLabel` begins at raw index `blockStart`. */
export interface BlockAnchor {
  blockStart: number;
  blockLabel: number;
}

export function checkShare(share: LoaderShare): void {
  const { rank, size, batchesPerStep } = share;
  if (!(Number.isInteger(size) && size >= 1 && Number.isInteger(rank) && rank >= 0 && rank < size)) {
    throw new RangeError(`createLoader: share needs 0 <= rank < size, got rank ${rank}, size ${size}`);
  }
  if (!(Number.isInteger(batchesPerStep) && batchesPerStep >= 1 && batchesPerStep % size === 0)) {
    throw new RangeError(`createLoader: share.batchesPerStep must be a positive multiple of size ${size}, got ${batchesPerStep}`);
  }
}

/** Which raw samples of the current epoch this process decodes; re-anchored at each epoch start. */
export class BlockOwner {
  private readonly perRank: number;

  constructor(
    private readonly share: LoaderShare,
    private readonly batchSize: number,
    readonly anchor: BlockAnchor,
  ) {
    this.perRank = share.batchesPerStep / share.size;
  }

  /** Label of the block holding raw sample `index` of the epoch (index >= anchor.blockStart). */
  label(index: number): number {
    return this.anchor.blockLabel + Math.floor((index - this.anchor.blockStart) / this.batchSize);
  }

  owns(index: number): boolean {
    return Math.floor((this.label(index) % this.share.batchesPerStep) / this.perRank) === this.share.rank;
  }

  /**
   * The epoch ended after `samplesRead` raw samples: the next epoch's first block takes the label after the last full
   * block. The partial block at the end is dealt like any block; with `dropLast` its batch is dropped and its label is
   * reused, otherwise it is a (short) micro-batch of its own, as in one process.
   */
  nextEpoch(samplesRead: number, dropLast: boolean): void {
    const partial = (samplesRead - this.anchor.blockStart) % this.batchSize !== 0;
    this.anchor.blockLabel = this.label(samplesRead) + (partial && !dropLast ? 1 : 0);
    this.anchor.blockStart = 0;
  }
}
