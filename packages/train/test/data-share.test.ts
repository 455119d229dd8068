// The data side of data parallelism without MPI: N share loaders in one process stand for N ranks. After K steps
// their positions merge into the one-process position (so any world size resumes exactly); each rank resumes from its
// own; a checkpoint whose ranks were shifted by a rejected sample resumes only with its own split, else a clear error.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ShardWriter } from '@aim/webdataset';
import { createLoader, type LoaderOptions, type LoaderPosition } from '@aim/data';
import { combineRankPositions, oneProcessResumePosition, rankPositionSlot, rankResumePosition } from '../src/data-share.js';

const BATCH = 4;
const ACCUM = 4;

async function writeShards(pattern: string, count: number, bad: ReadonlySet<number>): Promise<string> {
  const writer = new ShardWriter({ pattern, maxCount: 10, mtime: 0 });
  for (let i = 0; i < count; i++) {
    const px = Buffer.alloc(16 * 16 * 3, (i * 37) % 256);
    const png = bad.has(i)
      ? new Uint8Array([137, 80, 78, 71])
      : new Uint8Array(
          await sharp(px, { raw: { width: 16, height: 16, channels: 3 } })
            .png()
            .toBuffer(),
        );
    await writer.write({ __key__: `k${String(i).padStart(3, '0')}`, png });
  }
  await writer.close();
  return pattern.replace('%04d', `{0000..${String(Math.ceil(count / 10) - 1).padStart(4, '0')}}`);
}

/** The first `batches` batches' keys and the loader position after each. */
async function read(options: LoaderOptions, batches: number): Promise<{ keys: string[][]; positions: LoaderPosition[] }> {
  const loader = createLoader(options);
  const keys: string[][] = [];
  const positions: LoaderPosition[] = [];
  for await (const b of loader) {
    keys.push(b.keys);
    positions.push(loader.position());
    if (keys.length === batches) break;
  }
  await loader.close();
  return { keys, positions };
}

let dir: string;
let clean: string;
let broken: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aim-share-'));
  // 30 samples: 7 full blocks of 4 per epoch (and 2 dropped), so steps of 4 micro-batches straddle epochs.
  clean = await writeShards(join(dir, 'clean-%04d.tar'), 30, new Set());
  broken = await writeShards(join(dir, 'broken-%04d.tar'), 30, new Set([5]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const options = (shards: string): LoaderOptions => ({
  shards,
  batchSize: BATCH,
  imageSize: 16,
  patchSize: 4,
  workers: 1,
  seed: 3,
  epochs: Infinity,
  dropLast: true,
  // In a fixed order, so that the broken sample (index 5: block 1) falls to rank 0 of 2; shuffling is the loader tests' business.
  shuffleShards: false,
});
const split = { accum: ACCUM, batchSize: BATCH, dataSplit: 'samples' } as const;
const shardSplit = { ...split, dataSplit: 'shards' } as const;

/** Every rank's position after `steps` steps, merged as rank 0 records them in a checkpoint. */
async function checkpointAfter(shards: string, size: number, steps: number, from?: { position: ReturnType<typeof combineRankPositions>; step: number }) {
  const perRank = ACCUM / size;
  const sum = new Float64Array(size * 5);
  for (let rank = 0; rank < size; rank++) {
    const share = { rank, size, step: from?.step ?? 0 };
    const resume = from ? rankResumePosition({ microBatches: 0, ...from.position }, share, split) : undefined;
    const r = await read(
      { ...options(shards), share: { rank, size, batchesPerStep: ACCUM }, ...(resume ? { resume } : {}) },
      (steps - (from?.step ?? 0)) * perRank,
    );
    rankPositionSlot(r.positions.at(-1)!, rank, size, steps, split).forEach((v, i) => (sum[i] += v));
  }
  return combineRankPositions(sum, split);
}

describe('data-parallel positions', () => {
  it('after K steps the ranks merge into the one-process position; resuming it on 1 or 4 ranks continues exactly', async () => {
    const one = await read(options(clean), 6 * ACCUM);
    for (const steps of [2, 3]) {
      const merged = await checkpointAfter(clean, 2, steps);
      expect(merged.loader).toEqual({ epoch: one.positions[steps * ACCUM - 1].epoch, samplesInEpoch: one.positions[steps * ACCUM - 1].samplesInEpoch });
      expect(merged.ranks!.loaders).toHaveLength(2);
      // One process from the merged position: the one-process run's next batches.
      const resumed = await read({ ...options(clean), resume: oneProcessResumePosition({ microBatches: steps * ACCUM, ...merged }) }, ACCUM);
      expect(resumed.keys).toEqual(one.keys.slice(steps * ACCUM, (steps + 1) * ACCUM));
      // Four ranks from it: slot j of the next step is rank j's first batch.
      for (let rank = 0; rank < 4; rank++) {
        const share = { rank, size: 4, step: steps };
        const resume = rankResumePosition({ microBatches: steps * ACCUM, ...merged }, share, split);
        const r = await read({ ...options(clean), share: { rank, size: 4, batchesPerStep: ACCUM }, resume }, 1);
        expect(r.keys[0]).toEqual(one.keys[steps * ACCUM + rank]);
      }
    }
    // 2 ranks -> 4 ranks -> merged again after step 5: still the one-process position.
    const at3 = await checkpointAfter(clean, 2, 3);
    const at5 = await checkpointAfter(clean, 4, 5, { position: at3, step: 3 });
    expect(at5.loader).toEqual({ epoch: one.positions[5 * ACCUM - 1].epoch, samplesInEpoch: one.positions[5 * ACCUM - 1].samplesInEpoch });
  });

  it("a rejected sample shifts its rank: the same split resumes from each rank's own position, any other is a one-line error", async () => {
    const merged = await checkpointAfter(broken, 2, 3);
    expect(merged.loader).toBeUndefined();
    const from = { microBatches: 3 * ACCUM, ...merged };
    expect(rankResumePosition(from, { rank: 1, size: 2, step: 3 }, split)).toEqual(merged.ranks!.loaders[1]);
    expect(() => rankResumePosition(from, { rank: 0, size: 4, step: 3 }, split)).toThrow(
      /^resume: this checkpoint's 2 ranks stood at different places in the data .* only with 2 ranks, --batch-size 4 and --accum 4, not with 4 ranks, --batch-size 4 and --accum 4$/,
    );
    expect(() => oneProcessResumePosition(from)).toThrow(/only with 2 ranks, --batch-size 4 and --accum 4, not with one process$/);
    expect(() => rankResumePosition(from, { rank: 0, size: 2, step: 3 }, { ...split, accum: 8 })).toThrow(/not with 2 ranks, --batch-size 4 and --accum 8$/);
  });

  it('a one-process checkpoint resumes on N ranks with its blocks labelled from the step', () => {
    const from = { microBatches: 8, loader: { epoch: 1, samplesInEpoch: 12 } };
    expect(rankResumePosition(from, { rank: 1, size: 2, step: 2 }, split)).toEqual({ epoch: 1, samplesInEpoch: 12, blockStart: 12, blockLabel: 8 });
    expect(rankResumePosition(undefined, { rank: 1, size: 2, step: 0 }, split)).toBeUndefined();
    expect(() => rankResumePosition({ microBatches: 8 }, { rank: 0, size: 2, step: 2 }, split)).toThrow(/has no loader position/);
  });
});

describe('data-parallel positions with --data-split shards', () => {
  it("records each rank's place in its own shards, which resumes that rank exactly; no other split or world size does", async () => {
    const size = 2;
    const steps = 3;
    const perRank = ACCUM / size;
    const sum = new Float64Array(size * 5);
    const runs: Awaited<ReturnType<typeof read>>[] = [];
    for (let rank = 0; rank < size; rank++) {
      // Rank 1 reads one shard of 10 samples (2 batches an epoch), so its 6 batches span three epochs.
      const r = await read({ ...options(clean), rank, worldSize: size }, (steps + 2) * perRank);
      runs.push(r);
      rankPositionSlot(r.positions[steps * perRank - 1], rank, size, steps, shardSplit).forEach((v, i) => (sum[i] += v));
    }
    expect(runs[0].keys.flat().filter((k) => runs[1].keys.flat().includes(k))).toEqual([]);
    const merged = combineRankPositions(sum, shardSplit);
    expect(merged.loader).toBeUndefined();
    expect(merged.ranks).toEqual({ accum: ACCUM, batchSize: BATCH, dataSplit: 'shards', loaders: runs.map((r) => r.positions[steps * perRank - 1]) });
    expect(merged.ranks!.loaders[1].epoch).toBe(2);

    const from = { microBatches: steps * ACCUM, ...merged };
    for (let rank = 0; rank < size; rank++) {
      const resume = rankResumePosition(from, { rank, size, step: steps }, shardSplit);
      const r = await read({ ...options(clean), rank, worldSize: size, resume }, 2 * perRank);
      expect(r.keys).toEqual(runs[rank].keys.slice(steps * perRank));
    }
    const own = "resume: this checkpoint's 2 ranks each read their own shards (--data-split shards), so it resumes only on 2 ranks with --data-split shards";
    expect(() => rankResumePosition(from, { rank: 0, size: 3, step: steps }, shardSplit)).toThrow(`${own}, not with 3 ranks`);
    expect(() => rankResumePosition(from, { rank: 0, size: 2, step: steps }, split)).toThrow(`${own}, not with 2 ranks and --data-split samples`);
    expect(() => oneProcessResumePosition(from)).toThrow(`${own}, not with one process`);
  });

  it('a checkpoint of one process or of --data-split samples does not resume with --data-split shards, saying how it does', () => {
    const share = { rank: 0, size: 2, step: 2 };
    expect(() => rankResumePosition({ microBatches: 8, loader: { epoch: 1, samplesInEpoch: 12 } }, share, shardSplit)).toThrow(
      "resume: --data-split shards on 2 ranks resumes only a checkpoint that 2 ranks saved with --data-split shards (each rank's place in its own shards), " +
        'and this one was saved by one process: resume it with --data-split samples, on any number of ranks',
    );
    const ranks = { accum: ACCUM, batchSize: BATCH, loaders: [0, 1].map((r) => ({ epoch: 0, samplesInEpoch: 8 + 4 * r, blockStart: 4 * r, blockLabel: r })) };
    expect(() => rankResumePosition({ microBatches: 8, ranks }, share, shardSplit)).toThrow(/this one was saved by 2 ranks with --data-split samples: /);
    expect(rankResumePosition(undefined, share, shardSplit)).toBeUndefined();
  });
});
