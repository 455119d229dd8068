// Keeps up to `depth` items of an async source ready, so producing the next batch overlaps the current step.

/** Pulls from `source` into a bounded queue in the background; `waitSeconds` is how long consumers waited. */
export class Prefetcher<T> implements AsyncIterableIterator<T> {
  private readonly iterator: AsyncIterator<T>;
  private readonly queue: Array<IteratorResult<T>> = [];
  private error: unknown;
  private failed = false;
  private closed = false;
  private wake: (() => void) | undefined;
  private space: (() => void) | undefined;
  /** Total seconds `next()` spent waiting for an item that was not ready yet (data starvation). */
  waitSeconds = 0;

  constructor(
    source: AsyncIterable<T>,
    private readonly depth: number,
  ) {
    if (!Number.isInteger(depth) || depth < 1) throw new Error(`prefetch depth must be an integer >= 1, got ${depth}`);
    this.iterator = source[Symbol.asyncIterator]();
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      while (!this.closed) {
        if (this.queue.length >= this.depth) {
          await new Promise<void>((resolve) => (this.space = resolve));
          continue;
        }
        const item = await this.iterator.next();
        if (this.closed) break;
        this.queue.push(item);
        this.wake?.();
        if (item.done) break;
      }
    } catch (err) {
      this.error = err;
      this.failed = true;
      this.wake?.();
    }
  }

  async next(): Promise<IteratorResult<T>> {
    if (this.queue.length === 0 && !this.failed) {
      const start = performance.now();
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
      this.waitSeconds += (performance.now() - start) / 1000;
    }
    if (this.queue.length === 0 && this.failed) throw this.error;
    const item = this.queue.shift()!;
    if (item.done) this.queue.unshift(item); // stay done
    this.space?.();
    this.space = undefined;
    return item;
  }

  async return(): Promise<IteratorResult<T>> {
    this.closed = true;
    this.space?.();
    await this.iterator.return?.();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
