// ShardWriter behaviour users rely on: atomic shards, shard numbering, ordering, and clear errors for bad input.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatShardName, InvalidSampleError, readSamples, sampleJson, sampleText, ShardWriter } from '../src/index.js';
import { collect, withTempDir } from './helpers.js';

describe('ShardWriter', () => {
  it('never shows a partial shard under its final name; a finished shard appears whole', async () => {
    await withTempDir(async (dir) => {
      const writer = new ShardWriter({ pattern: join(dir, 'train-%06d.tar'), maxCount: 2 });
      await writer.write({ __key__: 'a', txt: 'A' });
      await writer.write({ __key__: 'b', txt: 'B' });
      let files = await readdir(dir);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^\.train-000000\.tar\.tmp-/); // still being written
      await writer.write({ __key__: 'c', txt: 'C' }); // rotates: shard 0 is final now
      files = (await readdir(dir)).sort();
      expect(files[0]).toMatch(/^\.train-000001\.tar\.tmp-/);
      expect(files[1]).toBe('train-000000.tar');
      expect((await collect(readSamples(join(dir, 'train-000000.tar')))).map((s) => s.__key__)).toEqual(['a', 'b']);
      await writer.abort(); // a crash-like stop: the unfinished shard never gets its final name
      expect(await readdir(dir)).toEqual(['train-000000.tar']);
    });
  });

  it('serialises writes that are not awaited one by one, and encodes strings, numbers and JSON', async () => {
    await withTempDir(async (dir) => {
      const writer = new ShardWriter({ pattern: join(dir, 'sub/dir/s-%d.tar'), maxCount: 3, start: 7 });
      const writes = Array.from({ length: 8 }, (_, i) => writer.write({ __key__: `k${i}`, txt: `t${i}`, cls: i, json: { i }, skipped: undefined }));
      await Promise.all(writes);
      const shards = await writer.close();
      expect(shards).toEqual([7, 8, 9].map((n) => join(dir, `sub/dir/s-${n}.tar`)));
      const got = await collect(readSamples(shards));
      expect(got.map((s) => s.__key__)).toEqual(Array.from({ length: 8 }, (_, i) => `k${i}`));
      expect(got.map((s) => [sampleText(s), sampleText(s, 'cls'), sampleJson(s)])).toEqual(Array.from({ length: 8 }, (_, i) => [`t${i}`, String(i), { i }]));
      expect(Object.keys(got[0]).sort()).toEqual(['__key__', '__url__', 'cls', 'json', 'txt']);
      expect(await writer.close()).toEqual(shards); // closing twice is harmless
      await expect(writer.write({ __key__: 'late', txt: 'x' })).rejects.toThrow(/write after close/);
    });
  });

  it('writes samples read back from shards unchanged (metadata fields are not written)', async () => {
    await withTempDir(async (dir) => {
      const first = new ShardWriter({ pattern: join(dir, 'a-%d.tar') });
      await first.write({ __key__: 'x/1', png: new Uint8Array([1, 2, 3]), txt: 'hi' });
      const [a] = await first.close();
      const second = new ShardWriter({ pattern: join(dir, 'b-%d.tar') });
      for await (const s of readSamples(a)) await second.write(s);
      const [b] = await second.close();
      const [sa] = await collect(readSamples(a));
      const [sb] = await collect(readSamples(b));
      expect({ ...sb, __url__: a }).toEqual(sa);
    });
  });

  it('rejects samples that would not read back as written, naming the sample', async () => {
    await withTempDir(async (dir) => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ __key__: 'a.b', txt: 'x' }, /sample "a\.b".*may not contain "\."/],
        [{ __key__: 'k', TXT: 'x' }, /sample "k": extension "TXT" must be lower-case/],
        [{ __key__: '', txt: 'x' }, /__key__ must be a non-empty string/],
        [{ __key__: '/abs', txt: 'x' }, /must be a relative path/],
        [{ __key__: 'k' }, /sample "k" has no members/],
        [{ __key__: '__meta__/x', txt: 'x' }, /reserved for metadata/],
        [{ __key__: 'k', txt: null }, /"txt" has unsupported type null/],
        [{ __key__: 'k', bin: new Float32Array(2) }, /"bin" has unsupported type Float32Array/],
      ];
      for (const [sample, message] of cases) {
        const writer = new ShardWriter({ pattern: join(dir, 'bad-%d.tar') });
        await expect(writer.write(sample as never)).rejects.toThrow(message);
        await writer.abort();
      }
      const writer = new ShardWriter({ pattern: join(dir, 'dup-%d.tar') });
      await writer.write({ __key__: 'same', txt: '1' });
      await expect(writer.write({ __key__: 'same', cls: 1 })).rejects.toThrow(InvalidSampleError);
      await expect(writer.write({ __key__: 'same', cls: 1 })).rejects.toThrow(/written twice in a row/);
      await writer.write({ __key__: 'next', txt: '2' }); // a rejected sample does not spoil the writer
      expect(await writer.close()).toEqual([join(dir, 'dup-0.tar')]);
      expect((await collect(readSamples(join(dir, 'dup-0.tar')))).map((s) => s.__key__)).toEqual(['same', 'next']);
      expect(existsSync(join(dir, 'dup-0.tar'))).toBe(true);
    });
  });

  it('formats shard patterns printf-style and rejects patterns without exactly one directive', () => {
    expect(formatShardName('out/train-%06d.tar', 42)).toBe('out/train-000042.tar');
    expect(formatShardName('s%d-100%%.tar', 3)).toBe('s3-100%.tar');
    expect(() => new ShardWriter({ pattern: 'out/train.tar' })).toThrow(/exactly one integer directive like %06d \(found 0\)/);
    expect(() => new ShardWriter({ pattern: 'a-%d-%d.tar' })).toThrow(/found 2/);
    expect(() => new ShardWriter({ pattern: 'a-%d.tar', maxCount: 0 })).toThrow(/maxCount must be an integer >= 1/);
  });
});
