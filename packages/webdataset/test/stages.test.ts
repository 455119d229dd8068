// Shard order, splitting, resampling, sample shuffling and limits: alone and through readSamples options.
import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromArray, limit, readSamples, resampleShards, ShardWriter, shuffleSamples, shuffleShards, splitByNode, splitByWorker } from '../src/index.js';
import { collect, withTempDir } from './helpers.js';

const sorted = (xs: readonly string[]) => [...xs].sort();

describe('stages on their own', () => {
  it('shuffleShards is a seeded permutation, different per epoch and seed', async () => {
    const urls = Array.from({ length: 50 }, (_, i) => `s-${i}.tar`);
    const a = await collect(shuffleShards({ seed: 1, epoch: 0 })(fromArray(urls)));
    expect(sorted(a)).toEqual(sorted(urls));
    expect(a).not.toEqual(urls);
    expect(await collect(shuffleShards({ seed: 1, epoch: 0 })(fromArray(urls)))).toEqual(a);
    expect(await collect(shuffleShards({ seed: 1, epoch: 1 })(fromArray(urls)))).not.toEqual(a);
    expect(await collect(shuffleShards({ seed: 2, epoch: 0 })(fromArray(urls)))).not.toEqual(a);
  });

  it('splitByNode x splitByWorker partitions the items: disjoint, complete, python [rank::world] order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), async (n, world, workers) => {
        const items = Array.from({ length: n }, (_, i) => i);
        const parts: number[][] = [];
        for (let rank = 0; rank < world; rank++) {
          for (let index = 0; index < workers; index++) {
            parts.push(await collect(splitByWorker<number>({ index, count: workers })(splitByNode<number>({ rank, worldSize: world })(fromArray(items)))));
          }
        }
        expect(parts.flat().sort((x, y) => x - y)).toEqual(items);
        expect(parts[0]).toEqual(items.filter((i) => i % world === 0).filter((_, j) => j % workers === 0));
      }),
    );
    expect(() => splitByNode({ rank: 2, worldSize: 2 })).toThrow(/rank must be < worldSize/);
    expect(() => splitByWorker({ index: 0, count: 0 })).toThrow(/worker count must be an integer >= 1/);
  });

  it('resampleShards draws with replacement, forever, reseeded per epoch', async () => {
    const urls = ['a', 'b', 'c'];
    const draw = (epoch: number, stream = '') => collect(limit<string>(300)(resampleShards({ seed: 5, epoch, stream })(fromArray(urls))));
    const e0 = await draw(0);
    expect(e0).toHaveLength(300); // it did not stop after one pass
    expect(new Set(e0)).toEqual(new Set(urls));
    for (const u of urls) expect(e0.filter((x) => x === u).length).toBeGreaterThan(60); // ~100 each
    expect(await draw(0)).toEqual(e0);
    expect(await draw(1)).not.toEqual(e0);
    expect(await draw(0, 'worker 1')).not.toEqual(e0);
    expect(await collect(resampleShards({ count: 7 })(fromArray(urls)))).toHaveLength(7);
    await expect(collect(resampleShards()(fromArray([])))).rejects.toThrow(/shard list is empty/);
  });

  it('shuffleSamples emits a permutation of its input, seeded, for any buffer size and initial fill', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 80 }),
        fc.nat(),
        async (n, size, initial, seed) => {
          const items = Array.from({ length: n }, (_, i) => i);
          const out = await collect(shuffleSamples<number>({ size, initial, seed })(fromArray(items)));
          expect([...out].sort((a, b) => a - b)).toEqual(items);
          expect(await collect(shuffleSamples<number>({ size, initial, seed })(fromArray(items)))).toEqual(out);
        },
      ),
    );
    const items = Array.from({ length: 1000 }, (_, i) => i);
    const out = await collect(shuffleSamples<number>({ size: 100, seed: 3 })(fromArray(items)));
    expect(out).not.toEqual(items);
    // A buffer of 100 moves an item at most ~100 places earlier: locality is bounded, as documented.
    expect(out.slice(0, 50).every((x) => x < 200)).toBe(true);
  });

  it('limit stops early and closes its source', async () => {
    let closed = false;
    async function* source() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    expect(await collect(limit<number>(3)(source()))).toEqual([0, 1, 2]);
    expect(closed).toBe(true);
    expect(await collect(limit<number>(0)(fromArray([1])))).toEqual([]);
  });
});

describe('readSamples options', () => {
  async function makeDataset(dir: string, shards: number, perShard: number): Promise<string> {
    const writer = new ShardWriter({ pattern: join(dir, 'ds-%03d.tar'), maxCount: perShard });
    for (let i = 0; i < shards * perShard; i++) await writer.write({ __key__: `s${String(i).padStart(4, '0')}`, txt: String(i) });
    await writer.close();
    return join(dir, `ds-{000..${String(shards - 1).padStart(3, '0')}}.tar`);
  }

  it('node and worker splits with a shared shard shuffle read every sample exactly once', async () => {
    await withTempDir(async (dir) => {
      const spec = await makeDataset(dir, 8, 5);
      const all = (await collect(readSamples(spec))).map((s) => s.__key__);
      expect(all).toHaveLength(40);
      const seen: string[] = [];
      for (let rank = 0; rank < 2; rank++) {
        for (let index = 0; index < 2; index++) {
          const part = await collect(
            readSamples(spec, { shuffleShards: true, seed: 9, epoch: 3, node: { rank, worldSize: 2 }, worker: { index, count: 2 }, shuffle: 4 }),
          );
          expect(part).toHaveLength(10);
          seen.push(...part.map((s) => s.__key__));
        }
      }
      expect(sorted(seen)).toEqual(sorted(all));
    });
  });

  it('shuffle and shard order are deterministic for (seed, epoch) and change with the epoch', async () => {
    await withTempDir(async (dir) => {
      const spec = await makeDataset(dir, 4, 10);
      const keys = async (epoch: number) =>
        (await collect(readSamples(spec, { shuffleShards: true, shuffle: { size: 20, initial: 20 }, seed: 1, epoch }))).map((s) => s.__key__);
      const e0 = await keys(0);
      expect(sorted(e0)).toHaveLength(40);
      expect(await keys(0)).toEqual(e0);
      expect(await keys(1)).not.toEqual(e0);
    });
  });

  it('resampled mode keeps drawing shards; limit ends it; too few shards for the readers is a clear error', async () => {
    await withTempDir(async (dir) => {
      const spec = await makeDataset(dir, 2, 3);
      const drawn = await collect(readSamples(spec, { resampled: true, limit: 50, seed: 4, node: { rank: 1, worldSize: 4 } }));
      expect(drawn).toHaveLength(50); // far more than the 6 samples of one pass
      await expect(collect(readSamples(spec, { node: { rank: 2, worldSize: 3 } }))).rejects.toThrow(
        /node 2\/3, worker 0\/1 gets no shards: the spec has 2 shard\(s\) for 3 reader\(s\)/,
      );
      expect(() => readSamples(spec, { worker: { index: 3, count: 2 } })).toThrow(/worker index must be < count/);
      // A misspelt policy fails when the options are given, not at the first broken sample.
      expect(() => readSamples(spec, { errorPolicy: 'ignore' as never })).toThrow(/errorPolicy must be 'raise', 'warn' or 'skip', got "ignore"/);
    });
  });
});
