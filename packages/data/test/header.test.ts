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
          expect(ours).toEqual({ format: meta.format, width: meta.width, height: meta.height, orientation: meta.orientation ?? 1 });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('reads a decompression bomb\'s header without touching pixels, and declines other formats and garbage', async () => {
    expect(readImageHeader(pngHeaderClaiming(100_000, 100_000))).toEqual({ format: 'png', width: 100_000, height: 100_000, orientation: 1 });
    const cases = await imageCases((await photos(64))[0]);
    for (const name of ['webp', 'gif', 'textNamedJpg', 'zeroBytes']) expect(readImageHeader(cases[name])).toBeNull();
    // A truncated JPEG still has its header; the decoder rejects it later.
    expect(readImageHeader(cases.truncatedJpeg)?.format).toBe('jpeg');
    expect(readImageHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00]))).toBeNull();
  });
});
