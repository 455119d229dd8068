// IDX parsing: raw and gzip files, and the errors for malformed input.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseIdx, readIdx } from '../src/index.js';
import { idxBytes, withTempDir, writeIdxPair } from './helpers.js';

describe('IDX reading', () => {
  it('reads raw and gzip IDX files to the same dims and bytes', async () => {
    await withTempDir(async (dir) => {
      const raw = await writeIdxPair(join(dir), 5, 3, 4, false);
      const gz = await writeIdxPair(dir, 5, 3, 4, true);
      for (const pair of [raw, gz]) {
        const images = await readIdx(pair.images);
        expect(images.type).toBe('ubyte');
        expect(images.dims).toEqual([5, 3, 4]);
        expect(Array.from(images.data)).toEqual(Array.from(pair.pixels));
        expect((await readIdx(pair.labels)).dims).toEqual([5]);
      }
    });
  });

  it('rejects non-IDX, truncated, oversized and broken gzip input with the file name', async () => {
    expect(() => parseIdx(new Uint8Array([1, 0, 8, 1]), 'x.idx')).toThrow(/x\.idx: not an IDX file/);
    expect(() => parseIdx(new Uint8Array([0, 0, 0x42, 1]), 'x.idx')).toThrow(/unknown IDX element type code 0x42/);
    const good = idxBytes([4, 2, 2], new Uint8Array(16));
    expect(() => parseIdx(good.subarray(0, good.length - 3), 'cut.idx')).toThrow(
      /cut\.idx: IDX dims \[4, 2, 2\] of ubyte need 16 data bytes but the file has 13 \(truncated\?\)/,
    );
    expect(() => parseIdx(good.subarray(0, 10), 'h.idx')).toThrow(/IDX header is truncated/);
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'bad.gz'), new Uint8Array([0x1f, 0x8b, 1, 2, 3]));
      await expect(readIdx(join(dir, 'bad.gz'))).rejects.toThrow(/bad\.gz: looks gzip-compressed but does not decompress/);
      await expect(readIdx(join(dir, 'none'))).rejects.toThrow(/cannot read IDX file .*none: no such file/);
    });
  });
});
