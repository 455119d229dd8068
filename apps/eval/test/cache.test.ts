import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FeatureCache, fileSha256, type CacheKey } from '../src/cache.js';

const key: CacheKey = {
  trunk: 'sha256:abc',
  blocks: [2, 3],
  data: { spec: 'mnist:train', limit: 100 },
  transform: { name: 'eval', imageSize: 32, patchSize: 4, revision: 2 },
};

describe('FeatureCache', () => {
  it('round-trips features and labels under their key and misses for any other key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eval-cache-'));
    try {
      const cache = new FeatureCache(dir);
      expect(await cache.get(key)).toBeNull();
      expect(await cache.has(key)).toBe(false);
      const data = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i / 7);
      await cache.put(key, { features: { data, n: 2, tokens: 3, dim: 4 }, labels: Int32Array.of(4, 9) });
      const hit = await cache.get({ ...key, transform: { patchSize: 4, revision: 2, imageSize: 32, name: 'eval' } }); // key order is irrelevant
      expect(hit!.features).toEqual({ data, n: 2, tokens: 3, dim: 4 });
      expect([...hit!.labels]).toEqual([4, 9]);
      expect(await cache.has(key)).toBe(true);
      for (const other of [
        { ...key, blocks: [3] },
        { ...key, blocks: [3, 2] },
        { ...key, trunk: 'sha256:abd' },
        { ...key, data: { spec: 'mnist:train', limit: 50 } },
        { ...key, transform: { ...key.transform, revision: 1 } },
      ]) {
        expect(await cache.get(other)).toBeNull();
        expect(await cache.has(other)).toBe(false);
      }
      // A damaged file is a miss, not a crash.
      await writeFile(cache.fileFor(key)!, 'junk');
      expect(await cache.get(key)).toBeNull();
      expect(await cache.has(key)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('hashes file contents', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eval-cache-'));
    try {
      await writeFile(join(dir, 'a'), 'hello');
      expect(await fileSha256(join(dir, 'a'))).toBe('sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
