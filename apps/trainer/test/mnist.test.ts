// The built-in MNIST shards: IDX parsing, conversion into readable WebDataset shards, reuse of the cache.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { readSamples } from '@aim/webdataset';
import { parseIdxImages, parseIdxLabels, prepareMnist } from '../src/mnist.js';

describe('IDX parsing', () => {
  it('reads headers and rejects wrong files naming them', () => {
    const img = new Uint8Array(16 + 2 * 2 * 3);
    new DataView(img.buffer).setUint32(0, 0x803);
    new DataView(img.buffer).setUint32(4, 2);
    new DataView(img.buffer).setUint32(8, 2);
    new DataView(img.buffer).setUint32(12, 3);
    expect(parseIdxImages(img, 'x')).toMatchObject({ count: 2, rows: 2, cols: 3 });
    expect(() => parseIdxImages(img.subarray(0, 20), 'short.idx')).toThrow(/short.idx: 20 bytes, header says 2x2x3/);
    expect(() => parseIdxLabels(img, 'imgs.idx')).toThrow(/imgs.idx: not an IDX1 label file/);
  });
});

describe('prepareMnist', () => {
  it('converts MNIST into PNG shards with labels once, then reuses them', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'aim-mnist-'));
    const logs: string[] = [];
    const shards = await prepareMnist(cache, (m) => logs.push(m), { limit: 40 });
    expect(logs.some((l) => l.includes('40/80 images') || l.includes('80/80 images'))).toBe(true);
    const samples = [];
    for await (const s of readSamples(shards.train)) samples.push(s);
    expect(samples).toHaveLength(40);
    expect(samples[0].__key__).toBe('train-00000');
    const meta = await sharp(samples[0].png as Uint8Array).metadata();
    expect([meta.width, meta.height]).toEqual([28, 28]);
    // MNIST's first training label is 5
    expect(new TextDecoder().decode(samples[0].cls as Uint8Array)).toBe('5');
    const val = [];
    for await (const s of readSamples(shards.val)) val.push(s.__key__);
    expect(val[0]).toBe('val-00000');
    expect(val).toHaveLength(40);

    const again: string[] = [];
    const reused = await prepareMnist(cache, (m) => again.push(m), { limit: 40 });
    expect(reused).toEqual(shards);
    expect(again.join('\n')).toMatch(/shards ready/);
  });
});
