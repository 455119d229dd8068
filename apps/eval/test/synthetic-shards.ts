// Test data: small labelled WebDataset shards of PNGs whose class is visible (a bright square in a class-specific
// place on a noisy background), so every probe should beat chance.
import { join } from 'node:path';
import sharp from 'sharp';
import { ShardWriter } from '@aim/webdataset';

export const SYNTHETIC_CLASSES = 4;

/** Writes `count` samples (`png`, `cls`) into `dir`; returns the shard spec. */
export async function writeSyntheticShards(dir: string, prefix: string, count: number, seed: number, size = 24): Promise<string> {
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const writer = new ShardWriter({ pattern: join(dir, `${prefix}-%06d.tar`), maxCount: Math.ceil(count / 2), mtime: 0 });
  for (let i = 0; i < count; i++) {
    const cls = i % SYNTHETIC_CLASSES;
    const px = new Uint8Array(size * size * 3);
    for (let j = 0; j < px.length; j++) px[j] = Math.floor(rnd() * 90);
    const half = size / 2;
    const [x0, y0] = [(cls % 2) * half, Math.floor(cls / 2) * half];
    for (let y = y0 + 2; y < y0 + half - 2; y++) for (let x = x0 + 2; x < x0 + half - 2; x++) px.fill(230, (y * size + x) * 3, (y * size + x) * 3 + 3);
    const png = await sharp(px, { raw: { width: size, height: size, channels: 3 } })
      .png()
      .toBuffer();
    await writer.write({ __key__: `${prefix}-${String(i).padStart(5, '0')}`, png: new Uint8Array(png), cls });
  }
  const paths = await writer.close();
  return paths.length === 1 ? paths[0] : join(dir, `${prefix}-{000000..${String(paths.length - 1).padStart(6, '0')}}.tar`);
}
