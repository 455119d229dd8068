// Stopping early releases what was opened: file descriptors of local shards are closed when a consumer breaks.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSamples, ShardWriter } from '../src/index.js';
import { withTempDir } from './helpers.js';

const openFds = () => readdirSync('/proc/self/fd').length;

describe('resources', () => {
  it.runIf(process.platform === 'linux')('closes shard files when iteration stops early or fails', async () => {
    await withTempDir(async (dir) => {
      const writer = new ShardWriter({ pattern: join(dir, 'r-%d.tar'), maxCount: 50 });
      for (let i = 0; i < 100; i++) await writer.write({ __key__: `k${i}`, bin: new Uint8Array(30_000).fill(i) });
      const shards = await writer.close();
      const before = openFds();
      for (let round = 0; round < 20; round++) {
        let n = 0;
        // Small reads keep several reads in flight when the loop breaks.
        for await (const sample of readSamples(shards, { fileChunkSize: 4096 })) {
          void sample;
          if (++n === 3) break;
        }
      }
      const failing = async () => {
        for await (const sample of readSamples(shards)) {
          void sample;
          throw new Error('consumer failed');
        }
      };
      await expect(failing()).rejects.toThrow('consumer failed');
      expect(openFds()).toBe(before);
    });
  });
});
