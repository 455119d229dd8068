// The training loader on its own thread gives the same batches and positions as on the main thread, and reports
// loader failures as errors.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { createLoader, type LoaderOptions } from '@aim/data';
import { ShardWriter } from '@aim/webdataset';
import { openLoaderThread } from '../src/loader-thread.js';

let options: LoaderOptions;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aim-lthread-'));
  const writer = new ShardWriter({ pattern: join(dir, 'd-%04d.tar'), maxCount: 100, mtime: 0 });
  for (let i = 0; i < 12; i++) {
    const px = Buffer.alloc(8 * 8 * 3, (i * 20) % 256);
    await writer.write({
      __key__: `k${i}`,
      png: new Uint8Array(
        await sharp(px, { raw: { width: 8, height: 8, channels: 3 } })
          .png()
          .toBuffer(),
      ),
    });
  }
  await writer.close();
  options = { shards: join(dir, 'd-0000.tar'), batchSize: 4, imageSize: 8, patchSize: 4, workers: 1, seed: 1, epochs: 2, dropLast: true };
});

describe('openLoaderThread', () => {
  it('yields the same batches and positions as the loader on this thread, then ends', async () => {
    const here = createLoader(options);
    const expected: Array<{ patches: number[]; position: unknown }> = [];
    for await (const b of here) expected.push({ patches: Array.from(b.patches), position: { ...here.position() } });
    const thread = openLoaderThread(options, 2);
    const got: Array<{ patches: number[]; position: unknown }> = [];
    for await (const b of thread.batches) got.push({ patches: Array.from(b.patches), position: b.dataPosition });
    await thread.close();
    expect(got).toHaveLength(6);
    expect(got).toEqual(expected);
    expect(thread.stats?.()).toMatchObject({ yielded: 24 });
  });

  it('reports a loader failure as an error naming it', async () => {
    const thread = openLoaderThread({ ...options, shards: '/nonexistent/x-{0..1}.tar', errorPolicy: 'raise' }, 2);
    await expect(async () => {
      for await (const _ of thread.batches) void _;
    }).rejects.toThrow(/data loader: .*nonexistent/);
    await thread.close();
  });
});
