// randomMix: weighted, seeded interleaving of several streams; exhausted sources leave, every item comes out once.
import { describe, expect, it } from 'vitest';
import { fromArray, randomMix } from '../src/index.js';
import { collect } from './helpers.js';

const streams = (...lengths: number[]) => lengths.map((n, s) => fromArray(Array.from({ length: n }, (_, i) => `${s}:${i}`)));

describe('randomMix', () => {
  it('yields every item of every source once, each source in its own order, tagged with its index', async () => {
    const got = await collect(randomMix(streams(5, 3, 7), { weights: [1, 2, 3], seed: 4 }));
    expect(got).toHaveLength(15);
    for (const s of [0, 1, 2]) {
      const items = got.filter((m) => m.source === s).map((m) => m.item);
      expect(items).toEqual(items.map((_, i) => `${s}:${i}`));
    }
  });

  it('is a pure function of (seed, epoch): equal for equal seeds, different across epochs', async () => {
    const order = async (seed: number, epoch: number) => (await collect(randomMix(streams(40, 40), { seed, epoch }))).map((m) => m.source).join('');
    expect(await order(1, 0)).toBe(await order(1, 0));
    expect(await order(1, 1)).not.toBe(await order(1, 0));
  });

  it('draws in proportion to the weights while both sources last', async () => {
    const got = await collect(randomMix(streams(4000, 4000), { weights: [0.8, 0.2], seed: 7 }));
    const firstThousand = got.slice(0, 1000).filter((m) => m.source === 0).length;
    expect(firstThousand).toBeGreaterThan(760);
    expect(firstThousand).toBeLessThan(840);
  });

  it('rejects weights that are not positive numbers, or not one per source', async () => {
    await expect(collect(randomMix(streams(1, 1), { weights: [1, 0] }))).rejects.toThrow(/weights\[1\] must be a positive number/);
    await expect(collect(randomMix(streams(1, 1), { weights: [1] }))).rejects.toThrow(/1 weights for 2 sources/);
  });
});
