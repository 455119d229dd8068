// createLoader with `share` (data parallelism without repeated decoding): N loaders in one process, one per rank,
// against the one-process loader on the same stream: the same micro-batches slot for slot, disjoint decoded samples
// whose union is the one-process stream, resume from each rank's own position, and rejections kept on their rank.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WritableSample } from '@aim/webdataset';
import { createLoader, type LoaderOptions, type LoaderPosition, type PatchBatch } from '../src/index.js';
import { photos } from './fixtures.js';
import { writeShards, type TempShards } from './shards.js';

const small = { imageSize: 32, patchSize: 8 } as const;

/** The loader's batches, the keys its predicate saw (the samples it sent to decode, with their epoch) and its stats. */
async function run(options: LoaderOptions, take = Infinity) {
  const dispatched: string[] = [];
  const loader = createLoader({ ...options, filters: { predicates: { record: (s) => (dispatched.push(s.key), true) } } });
  const batches: PatchBatch[] = [];
  const positions: LoaderPosition[] = [];
  for await (const b of loader) {
    batches.push(b);
    positions.push(loader.position());
    if (batches.length >= take) break;
  }
  await loader.close();
  return { batches, positions, dispatched, stats: loader.stats() };
}

let shards: TempShards;
let broken: TempShards;
beforeAll(async () => {
  const jpgs = await photos(48);
  // 31 samples: 10 full blocks of 3 and a partial one per epoch, so steps of 4 micro-batches straddle epochs.
  const samples = (bad: Set<number>): WritableSample[] =>
    Array.from({ length: 31 }, (_, i) => ({ __key__: `s${String(i).padStart(3, '0')}`, jpg: bad.has(i) ? new Uint8Array([1, 2, 3]) : jpgs[i % jpgs.length] }));
  shards = await writeShards(samples(new Set()), 8);
  broken = await writeShards(samples(new Set([4, 20])), 8, 'broken');
});
afterAll(() => [shards, broken].forEach((s) => s.remove()));

const base = (paths: string[]): LoaderOptions => ({
  shards: paths,
  batchSize: 3,
  ...small,
  transform: 'train',
  seed: 7,
  workers: 1,
  epochs: 2,
  dropLast: true,
  shuffleBuffer: 5,
});
const ACCUM = 4;
const STEPS = 5; // 20 micro-batches: all of both epochs (10 full blocks each)

describe.each([2, 4])('createLoader share over %i ranks', (size) => {
  const perRank = ACCUM / size;

  it('yields the one-process micro-batches of its slots; decoded samples are disjoint and together the one-process stream', async () => {
    const one = await run(base(shards.paths));
    expect(one.batches).toHaveLength(ACCUM * STEPS);
    const ranks = await Promise.all(Array.from({ length: size }, (_, rank) => run({ ...base(shards.paths), share: { rank, size, batchesPerStep: ACCUM } })));
    for (let step = 0; step < STEPS; step++) {
      for (let slot = 0; slot < ACCUM; slot++) {
        const rank = Math.floor(slot / perRank);
        const mine = ranks[rank].batches[step * perRank + (slot % perRank)];
        const ref = one.batches[step * ACCUM + slot];
        expect(mine.keys).toEqual(ref.keys);
        expect(mine.epoch).toBe(ref.epoch);
        expect(mine.patches).toEqual(ref.patches); // same augmentation: seeded by (seed, key, epoch)
      }
    }
    ranks.forEach((r) => expect(r.batches).toHaveLength(STEPS * perRank));
    // Sent to decode: each sample of each epoch by exactly one rank (the partial blocks too, then dropped).
    const all = ranks.flatMap((r) => r.dispatched);
    expect(all).toHaveLength(one.dispatched.length);
    expect([...all].sort()).toEqual([...one.dispatched].sort());
    ranks.forEach((r) => expect(r.dispatched.length).toBeLessThan(one.dispatched.length));
    // The others' samples are passed over, not seen or rejected; the accounting adds up to the one-process run's.
    const sum = (k: 'seen' | 'yielded' | 'dropped' | 'rejectedTotal' | 'bytes') => ranks.reduce((n, r) => n + r.stats[k], 0);
    for (const k of ['seen', 'yielded', 'dropped', 'rejectedTotal', 'bytes'] as const) expect(sum(k)).toBe(one.stats[k]);
    for (const r of ranks) {
      expect(r.stats.rejectedTotal).toBe(0);
      expect(r.stats.seen + r.stats.otherRanks!).toBe(62);
    }
    expect(one.stats.otherRanks).toBeUndefined();
  });

  it('resumes each rank exactly from its own position (mid-epoch and across the epoch boundary)', async () => {
    for (let rank = 0; rank < size; rank++) {
      const share = { rank, size, batchesPerStep: ACCUM };
      const full = await run({ ...base(shards.paths), share });
      for (const at of [perRank, 3 * perRank]) {
        const saved = full.positions[at - 1];
        expect(saved.blockLabel).toBeTypeOf('number');
        const resumed = await run({ ...base(shards.paths), share, resume: saved });
        expect(resumed.batches.map((b) => b.keys)).toEqual(full.batches.slice(at).map((b) => b.keys));
        resumed.batches.forEach((b, i) => expect(b.patches).toEqual(full.batches[at + i].patches));
      }
    }
  });
});

describe('createLoader share with rejected samples', () => {
  it('a rejection stays on the rank that decoded it, which fills its micro-batch from its own next block', async () => {
    const size = 2;
    const ranks = await Promise.all([0, 1].map((rank) => run({ ...base(broken.paths), share: { rank, size, batchesPerStep: ACCUM } })));
    const one = await run(base(broken.paths));
    expect(ranks[0].stats.rejectedTotal + ranks[1].stats.rejectedTotal).toBe(one.stats.rejectedTotal);
    expect(one.stats.rejectedTotal).toBe(4); // 2 per epoch
    const keys = ranks.map((r) => r.batches.flatMap((b) => b.keys));
    // Each rank's batches hold only its own blocks' samples, never one of the other rank's.
    const dispatched = ranks.map((r) => new Set(r.dispatched));
    keys[0].forEach((k) => expect(dispatched[0].has(k)).toBe(true));
    keys[1].forEach((k) => expect(dispatched[1].has(k)).toBe(true));
    // Resume from a position after the rank's first rejection continues exactly.
    for (const r of [0, 1]) {
      const share = { rank: r, size, batchesPerStep: ACCUM };
      const at = 3;
      const resumed = await run({ ...base(broken.paths), share, resume: ranks[r].positions[at - 1] });
      expect(resumed.batches.map((b) => b.keys)).toEqual(ranks[r].batches.slice(at).map((b) => b.keys));
    }
  });

  it('refuses a share that cannot be honoured, in one line', () => {
    const o = base(shards.paths);
    expect(() => createLoader({ ...o, share: { rank: 2, size: 2, batchesPerStep: 2 } })).toThrow(/share needs 0 <= rank < size/);
    expect(() => createLoader({ ...o, share: { rank: 0, size: 2, batchesPerStep: 3 } })).toThrow(/multiple of size 2, got 3/);
    expect(() => createLoader({ ...o, ordered: false, share: { rank: 0, size: 2, batchesPerStep: 2 } })).toThrow(/share needs ordered/);
    expect(() => createLoader({ ...o, rank: 0, worldSize: 2, share: { rank: 0, size: 2, batchesPerStep: 2 } })).toThrow(/not both/);
  });
});
