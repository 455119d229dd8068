// Small PNG shards for the training tests: smooth random gradients, so there is something to predict.
import sharp from 'sharp';
import { ShardWriter } from '@aim/webdataset';

/** Writes `count` 20x20 PNGs (smooth random gradients, so there is something to predict) into shards. */
export async function makeShards(pattern: string, count: number, perShard: number, seed: number): Promise<void> {
  const writer = new ShardWriter({ pattern, maxCount: perShard, mtime: 0 });
  let s = seed;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let i = 0; i < count; i++) {
    const [a, b, c] = [rand(), rand(), rand()];
    const px = Buffer.alloc(20 * 20 * 3);
    for (let y = 0; y < 20; y++)
      for (let x = 0; x < 20; x++) for (let ch = 0; ch < 3; ch++) px[(y * 20 + x) * 3 + ch] = Math.round((255 * ((a * x + b * y + c * ch * 7) % 20)) / 20);
    const png = await sharp(px, { raw: { width: 20, height: 20, channels: 3 } })
      .png()
      .toBuffer();
    await writer.write({ __key__: `s${seed}-${String(i).padStart(4, '0')}`, png: new Uint8Array(png), cls: i % 10 });
  }
  await writer.close();
}
