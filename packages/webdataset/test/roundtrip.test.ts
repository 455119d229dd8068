// Property test: whatever ShardWriter writes, readSamples reads back unchanged and in order.
import fc from 'fast-check';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMetaMember, readSamples, ShardWriter, type WritableSample } from '../src/index.js';
import { collect, comparable, withTempDir } from './helpers.js';

const segment = fc.stringMatching(/^[a-zA-Z0-9_-]{1,12}$/);
const dirSegment = fc.oneof(
  segment,
  fc.stringMatching(/^[a-z0-9.]{1,8}$/).filter((s) => !/^\.*$/.test(s)),
  fc.constant('é目录'),
);
const keyArb = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.array(dirSegment, { maxLength: 2 }), segment).map(([dirs, base]) => [...dirs, base].join('/')) },
  // Long keys exercise the ustar prefix field and PAX path records.
  { weight: 1, arbitrary: fc.tuple(fc.stringMatching(/^[a-z]{60,130}$/), segment).map(([dir, base]) => `${dir}/${base}`) },
);
const extArb = fc.array(fc.stringMatching(/^[a-z0-9]{1,5}$/), { minLength: 1, maxLength: 2 }).map((parts) => parts.join('.'));
const contentArb = fc.oneof(
  { weight: 5, arbitrary: fc.uint8Array({ maxLength: 1100 }) },
  { weight: 1, arbitrary: fc.nat({ max: 70_000 }).map((n) => new Uint8Array(n).map((_, i) => (i * 31 + n) & 255)) },
);
const samplesArb = fc
  // Root names like `__x__/...` are metadata to readers (Python webdataset skips them); the writer rejects them.
  .uniqueArray(
    keyArb.filter((key) => !isMetaMember(`${key}.x`)),
    { maxLength: 25 },
  )
  .chain((keys) =>
    fc.tuple(
      ...keys.map((key) => fc.dictionary(extArb, contentArb, { minKeys: 1, maxKeys: 4 }).map((members) => ({ __key__: key, ...members }) as WritableSample)),
    ),
  );

describe('ShardWriter -> readSamples round trip', () => {
  it('reads back exactly the samples written, in order, across shard boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        samplesArb,
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 40_000 }),
        fc.integer({ min: 1, max: 5000 }),
        async (samples, maxCount, maxSize, chunk) =>
          withTempDir(async (dir) => {
            const writer = new ShardWriter({ pattern: join(dir, 'out/shard-%04d.tar'), maxCount, maxSize });
            for (const sample of samples) await writer.write(sample);
            const shards = await writer.close();
            const read = shards.length > 0 ? await collect(readSamples(shards)) : [];
            expect(read.map(comparable)).toEqual(samples.map(comparable));
            // Small odd read sizes put chunk boundaries inside headers, names and data.
            const small = shards.length > 0 ? await collect(readSamples(shards, { fileChunkSize: chunk })) : [];
            expect(small.map(comparable)).toEqual(samples.map(comparable));
            // Shards obey the limits, except that one sample bigger than maxSize gets a shard of its own.
            const perShard = new Map<string, number>();
            for (const s of read) perShard.set(s.__url__, (perShard.get(s.__url__) ?? 0) + 1);
            for (const shard of shards) {
              const count = perShard.get(shard) ?? 0;
              expect(count).toBeGreaterThan(0);
              expect(count).toBeLessThanOrEqual(maxCount);
              if (count > 1) expect((await stat(shard)).size).toBeLessThanOrEqual(maxSize + 1024);
            }
            // Only final shard names remain: no temporary files.
            const left = samples.length === 0 ? [] : await readdir(join(dir, 'out'));
            expect(left.sort()).toEqual(shards.map((s) => s.slice(s.lastIndexOf('/') + 1)).sort());
          }),
      ),
      { numRuns: 40 },
    );
  }, 120_000);
});
