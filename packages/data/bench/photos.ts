// Benchmark data: about-500-px photo variants (crops at several aspect ratios and sizes) of the @stdlib public-domain
// photos, written as WebDataset shards with DFN-style json/txt members.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShardWriter } from '@aim/webdataset';
import sharp from 'sharp';
import { randomFor } from '@aim/base/random';
import { stdlibPhotoPaths } from '../test/fixtures.js';

export function stdlibPhotos(): Buffer[] {
  return stdlibPhotoPaths().map((p) => readFileSync(p));
}

/** `count` JPEG variants: a random crop (40-100% of each side) resized so the longer side is 440-560 px. */
export async function photoVariants(count: number): Promise<Buffer[]> {
  const sources = stdlibPhotos();
  const metas = await Promise.all(sources.map((s) => sharp(s).metadata()));
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const rng = randomFor(1234, 0, `variant${i}`);
    const s = i % sources.length;
    const { width, height } = metas[s] as { width: number; height: number };
    const w = Math.round(width * rng.uniform(0.4, 1));
    const h = Math.round(height * rng.uniform(0.4, 1));
    const left = rng.int(0, width - w + 1);
    const top = rng.int(0, height - h + 1);
    const longSide = rng.int(440, 561);
    out.push(
      await sharp(sources[s]).extract({ left, top, width: w, height: h }).resize(longSide, longSide, { fit: 'inside' }).jpeg({ quality: 90 }).toBuffer(),
    );
  }
  return out;
}

/** Writes the variants into shards of `perShard` samples; returns the shard paths. */
export async function writePhotoShards(dir: string, images: Buffer[], perShard: number): Promise<string[]> {
  const paths: string[] = [];
  const writer = new ShardWriter({ pattern: join(dir, 'photos-%05d.tar'), maxCount: perShard, onShard: (s) => paths.push(s.path) });
  for (const [i, jpg] of images.entries()) {
    await writer.write({ __key__: `photo${String(i).padStart(6, '0')}`, jpg, txt: `photo ${i}`, json: { status: 'success', key: i } });
  }
  await writer.close();
  return paths.sort();
}
