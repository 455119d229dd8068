// Prefetcher: keeps order, stays bounded, forwards errors, closes its source.
import { describe, expect, it } from 'vitest';
import { Prefetcher } from '../src/prefetch.js';

describe('Prefetcher', () => {
  it('yields every item in order and never runs more than depth ahead of the consumer', async () => {
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    async function* source() {
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 1));
        produced += 1;
        maxAhead = Math.max(maxAhead, produced - consumed);
        yield i;
      }
    }
    const p = new Prefetcher(source(), 3);
    const seen: number[] = [];
    for await (const x of p) {
      consumed += 1;
      seen.push(x);
      await new Promise((r) => setTimeout(r, 3));
    }
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // the queue holds `depth` items and the pump may hold one more it is about to enqueue
    expect(maxAhead).toBeLessThanOrEqual(3 + 1);
    expect(maxAhead).toBeGreaterThanOrEqual(2);
  });

  it('forwards a source error after the items before it', async () => {
    async function* source() {
      yield 1;
      throw new Error('shard 3 unreadable');
    }
    const p = new Prefetcher(source(), 2);
    expect(await p.next()).toEqual({ done: false, value: 1 });
    await expect(p.next()).rejects.toThrow('shard 3 unreadable');
  });

  it('return() closes the source', async () => {
    let closed = false;
    async function* source() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const p = new Prefetcher(source(), 2);
    await p.next();
    await p.return();
    expect(closed).toBe(true);
  });
});
