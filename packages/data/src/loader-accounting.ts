// Where every sample went: the counts stats() reports (seen == yielded + rejectedTotal + buffered + dropped), read
// errors, rejections by reason, and what the error policy does with them (count, warn, or throw on broken data).
import type { Sample } from '@aim/webdataset';
import type { LoaderOptions, LoaderStats, Outcome, Rejection } from './loader-types.js';

/** Reasons that mean broken data (errorPolicy 'raise' throws on these); the rest are deliberate filters. */
const DATA_ERRORS: ReadonlySet<string> = new Set(['decode_error', 'missing_image', 'worker_error']);

export class LoaderAccounting {
  private readonly counts: LoaderStats;
  private startTime: number | undefined;
  private firstReadError: string | undefined; // the first read error of the run, for the "read no samples" failure
  private readonly lastLost = new Map<string, string>(); // shard URL -> the last key reported lost in it

  constructor(
    private readonly policy: 'raise' | 'warn' | 'skip',
    private readonly onReject: LoaderOptions['onReject'],
    epoch: number,
    shared = false,
  ) {
    this.counts = {
      seen: 0,
      yielded: 0,
      rejected: {},
      rejectedTotal: 0,
      buffered: 0,
      dropped: 0,
      readErrors: 0,
      lostToReadErrors: 0,
      bytes: 0,
      ...(shared ? { otherRanks: 0 } : {}),
      batches: 0,
      epoch,
      elapsedSeconds: 0,
      imagesPerSecond: 0,
    };
  }

  /** Iteration began: the clock for images per second starts. */
  start(): void {
    this.startTime = performance.now();
  }

  /** A raw sample another rank decodes (share.ts): not seen, not rejected, no worker task. */
  otherRank(): void {
    this.counts.otherRanks!++;
  }

  startEpoch(epoch: number): void {
    this.counts.epoch = epoch;
  }

  /** The shard readers of an epoch start: a key lost in an earlier epoch may be lost again and counts again. */
  startReaders(): void {
    this.lastLost.clear();
  }

  /** For the shard reader's onError: counts the error and the sample it names, if any. */
  readonly onReadError = (info: { url: string; key?: string; reason: string }): void => {
    this.counts.readErrors++;
    this.firstReadError ??= info.reason.includes(info.url) ? info.reason : `${info.url}${info.key ? ` (${info.key})` : ''}: ${info.reason}`;
    // A report with a key names a sample that was dropped; a shard reports one key at most once in a row.
    if (info.key !== undefined && this.lastLost.get(info.url) !== info.key) {
      this.counts.lostToReadErrors++;
      this.lastLost.set(info.url, info.key);
    }
    if (this.policy === 'warn') console.warn(`[@aim/data] read error in ${info.url}${info.key ? ` (${info.key})` : ''}: ${info.reason}`);
  };

  /** Encoded bytes of a sample read (whatever becomes of it). */
  read(sample: Sample): void {
    for (const [ext, value] of Object.entries(sample)) if (!ext.startsWith('__')) this.counts.bytes += value.length;
  }

  /** A sample's outcome was consumed: accepted into the batch being filled, or rejected (which may throw). */
  consumed(outcome: Outcome): void {
    this.counts.seen++;
    if (outcome.ok) this.counts.buffered++;
    else this.reject(outcome);
  }

  private reject(outcome: Extract<Outcome, { ok: false }>): void {
    const counts = this.counts;
    counts.rejected[outcome.reason] = (counts.rejected[outcome.reason] ?? 0) + 1;
    counts.rejectedTotal++;
    const rejection: Rejection = { key: outcome.key, url: outcome.url, reason: outcome.reason, message: outcome.message };
    this.onReject?.(rejection);
    if (this.policy === 'warn') console.warn(`[@aim/data] rejected ${outcome.url} ${outcome.key}: ${outcome.reason}: ${outcome.message}`);
    if (this.policy === 'raise' && DATA_ERRORS.has(outcome.reason)) {
      throw new Error(`@aim/data: sample ${JSON.stringify(outcome.key)} from ${outcome.url}: ${outcome.reason}: ${outcome.message}`);
    }
  }

  /** A batch of `size` samples was yielded. */
  emitted(size: number): void {
    this.counts.yielded += size;
    this.counts.buffered -= size;
    this.counts.batches++;
  }

  /** The partial batch at an epoch's end was dropped (dropLast). */
  dropped(size: number): void {
    this.counts.dropped += size;
    this.counts.buffered -= size;
  }

  /** Call when an epoch read no sample: throws when read errors are why (a wrong shard spec, typically). */
  failIfNothingRead(epoch: number): void {
    if (this.counts.readErrors > 0) {
      const more = this.counts.readErrors - 1;
      throw new Error(
        `@aim/data: epoch ${epoch} read no samples: ${this.firstReadError}` +
          `${more > 0 ? ` (and ${more} more read error${more > 1 ? 's' : ''})` : ''}; check the shard spec`,
      );
    }
  }

  /** A copy of the counts with the elapsed time and rate filled in. */
  snapshot(): LoaderStats {
    const elapsed = this.startTime === undefined ? 0 : (performance.now() - this.startTime) / 1000;
    const counts = this.counts;
    return { ...counts, rejected: { ...counts.rejected }, elapsedSeconds: elapsed, imagesPerSecond: elapsed > 0 ? counts.yielded / elapsed : 0 };
  }
}
