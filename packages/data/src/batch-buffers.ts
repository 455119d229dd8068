// Filling batches: patches of accepted samples are copied into one [B, K, p*p*3] buffer per batch. Buffers handed
// back by recycle() are reused, which spares the main thread the page faults and garbage collections of a fresh
// allocation per batch.
import type { PatchBatch } from './loader-types.js';

const MAX_SPARE_BATCHES = 2;

/** A batch being filled. */
export interface BatchInProgress {
  readonly count: number;
  add(key: string, label: number, imagePatches: Float32Array): void;
  finish(): PatchBatch;
}

export class BatchBuffers {
  private readonly spare: Float32Array[] = [];
  private readonly lent = new WeakMap<Float32Array, Float32Array>(); // a yielded batch's patches -> its whole buffer
  private readonly per: number;

  constructor(
    private readonly batchSize: number,
    private readonly numPatches: number,
    private readonly patchDim: number,
    /** Whether batches carry labels. */
    private readonly withLabels: boolean,
  ) {
    this.per = numPatches * patchDim;
  }

  newBatch(epoch: number): BatchInProgress {
    const { batchSize, per, numPatches, patchDim, spare, lent } = this;
    let patches: Float32Array | undefined;
    const labels = this.withLabels ? new Int32Array(batchSize) : undefined;
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

  /** Takes back a yielded batch's buffer for reuse; ignores buffers that are not ours or already returned. */
  recycle(batch: PatchBatch): void {
    const buffer = this.lent.get(batch.patches);
    if (!buffer) return; // not ours, or already recycled
    this.lent.delete(batch.patches);
    if (this.spare.length < MAX_SPARE_BATCHES) this.spare.push(buffer);
  }
}
