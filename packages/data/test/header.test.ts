// The JS header reader agrees with sharp on dimensions and EXIF orientation, and declines what it does not parse.
import fc from 'fast-check';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readImageHeader } from '../src/index.js';
import { imageCases, photos, pngHeaderClaiming } from './fixtures.js';

describe('readImageHeader', () => {
  it('matches sharp for JPEG and PNG of any size and orientation', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom('jpeg', 'png', 'progressive', 'cmyk'),
        async (width, height, orientation, kind) => {
          let img = sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 90 } } });
          if (kind === 'cmyk') img = img.toColourspace('cmyk');
          if (kind !== 'png') img = img.withMetadata({ orientation });
          const bytes = new Uint8Array(await (kind === 'png' ? img.png() : img.jpeg({ progressive: kind === 'progressive' })).toBuffer());
          const ours = readImageHeader(bytes);
          const meta = await sharp(bytes).metadata();
          const components = meta.format === 'jpeg' ? { components: meta.channels } : {}; // 4 for CMYK
          expect(ours).toEqual({ format: meta.format, width: meta.width, height: meta.height, orientation: meta.orientation ?? 1, ...components });
          if (meta.space === 'cmyk') expect(ours?.components).toBe(4);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('reads big-endian (MM) EXIF as sharp does', async () => {
    const plain = await sharp({ create: { width: 30, height: 12, channels: 3, background: 'blue' } })
      .jpeg()
      .toBuffer();
    // APP1 "Exif\0\0" + TIFF "MM", 42, IFD0 at 8 with one entry: 0x0112 SHORT count 1 value 8.
    const tiff = Buffer.from([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
    const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
    const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 0xff]), body]);
    const bytes = new Uint8Array(Buffer.concat([plain.subarray(0, 2), app1, plain.subarray(2)]));
    const meta = await sharp(bytes).metadata();
    expect(meta.orientation).toBe(8);
    expect(readImageHeader(bytes)).toEqual({ format: 'jpeg', width: 30, height: 12, orientation: 8, components: 3 });
  });

  it("reads a decompression bomb's header without touching pixels, and declines other formats and garbage", async () => {
    expect(readImageHeader(pngHeaderClaiming(100_000, 100_000))).toEqual({ format: 'png', width: 100_000, height: 100_000, orientation: 1 });
    const cases = await imageCases((await photos(64))[0]);
    for (const name of ['webp', 'gif', 'textNamedJpg', 'zeroBytes']) expect(readImageHeader(cases[name])).toBeNull();
    // A truncated JPEG still has its header; the decoder rejects it later.
    expect(readImageHeader(cases.truncatedJpeg)?.format).toBe('jpeg');
    expect(readImageHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00]))).toBeNull();
  });
});
