// The worker's per-sample function on real photos and malformed inputs: each bad input is rejected with its reason,
// every accepted input comes out as [K, p*p*3] finite values, deterministically.
import fc from 'fast-check';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  cropFirstPlan,
  decodeWithPlan,
  resizeFirstPlan,
  trainPlan,
  defaultTransformOptions,
  denormalize,
  processSample,
  randomResizedCropBox,
  rngFor,
  unpatchify,
  type SampleTask,
  type TransformOptions,
} from '../src/index.js';
import { imageCases, photos } from './fixtures.js';

const transform = defaultTransformOptions({ imageSize: 56, patchSize: 14 });
const task = (bytes: Uint8Array, key = 'k', over: Partial<SampleTask> = {}): SampleTask => ({
  key,
  bytes,
  seed: 7,
  epoch: 0,
  transform,
  limits: DEFAULT_LIMITS,
  ...over,
});

let photoBytes: Uint8Array[];
let cases: Record<string, Uint8Array>;
beforeAll(async () => {
  photoBytes = await photos(160);
  cases = await imageCases(photoBytes[0]);
});

const expectPatches = (patches: Float32Array, t: TransformOptions): void => {
  const k = (t.imageSize / t.patchSize) ** 2;
  expect(patches.length).toBe(k * t.patchSize * t.patchSize * 3);
  for (const v of patches) expect(Number.isFinite(v)).toBe(true);
};

describe('processSample', () => {
  it('turns every real photo into [K, p*p*3] finite values, train and eval', async () => {
    for (const mode of ['train', 'eval'] as const) {
      const t = { ...transform, mode };
      for (const [i, bytes] of photoBytes.entries()) {
        const r = await processSample(task(bytes, `photo${i}`, { transform: t }));
        if (!r.ok) throw new Error(`${mode} photo${i}: ${r.reason} ${r.message}`);
        expectPatches(r.patches, t);
      }
    }
  });

  it.each([
    ['truncatedJpeg', 'decode_error'],
    ['zeroBytes', 'decode_error'],
    ['textNamedJpg', 'decode_error'],
    ['hugeHeader', 'too_many_pixels'],
    ['gif', 'decode_error'],
  ])('rejects %s as %s', async (name, reason) => {
    const r = await processSample(task(cases[name]));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe(reason);
      expect(r.message.length).toBeGreaterThan(0);
    }
  });

  it('a decompression bomb with real data: rejected from its header before any decode; the decoder limit is a second guard', async () => {
    const bomb = cases.hugeHeader; // 12000 x 12000 1-bit PNG, complete image data (see fixtures.pngBomb)
    expect(bomb.length).toBeLessThan(100_000);
    // The data is real: a decoder without a limit decodes it (here only its first rows, sequentially).
    const top = await sharp(bomb, { limitInputPixels: false, sequentialRead: true }).extract({ left: 0, top: 0, width: 16, height: 4 }).raw().toBuffer();
    expect(top.length).toBe(16 * 4 * 3); // as sRGB
    expect(top.every((v) => v === 0)).toBe(true);
    // Default limits (PIL's 89,478,485 pixels): rejected from the header, before sharp sees the pixels. The PNG
    // signature and IHDR alone (33 bytes, no image data) give the same answer, so no pixel was needed for it; a decode
    // of those bytes would fail as decode_error.
    const expected = ['too_many_pixels', '12000x12000 = 144000000 pixels exceeds 89478485'];
    for (const bytes of [bomb, bomb.subarray(0, 33)]) {
      const r = await processSample(task(bytes, 'bomb'));
      expect(r.ok).toBe(false);
      if (!r.ok) expect([r.reason, r.message]).toEqual(expected);
    }
    // sharp's own limit (limitInputPixels = maxPixels) stops it too when asked to decode it anyway.
    const plan = cropFirstPlan({ left: 0, top: 0, width: 12_000, height: 12_000, fallback: false }, 56);
    await expect(decodeWithPlan(bomb, plan, DEFAULT_LIMITS.maxPixels)).rejects.toThrow(/pixel limit/i);
  });

  // CMYK JPEGs are not here: like PIL's convert('RGB') we ignore their colour profile, so they are not close to the
  // sRGB original; torchvision-parity.test.ts checks them against Pillow float for float.
  it.each(['pngWithAlpha', 'png16', 'grayPng', 'webp'])('decodes %s to 8-bit sRGB close to the original', async (name) => {
    const ref = await processSample(task(photoBytes[0], 'same-key', { transform: { ...transform, mode: 'eval' } }));
    const r = await processSample(task(cases[name], 'same-key', { transform: { ...transform, mode: 'eval' } }));
    if (!r.ok || !ref.ok) throw new Error(`${name} was rejected`);
    expectPatches(r.patches, transform);
    // Same crop of the same picture: pixel values agree up to encoding loss (gray loses colour, so compare loosely).
    const a = denormalize(unpatchify(r.patches, 56, 56, 3, 14)).data;
    const b = denormalize(unpatchify(ref.patches, 56, 56, 3, 14)).data;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff += Math.abs(a[i] - b[i]);
    expect(diff / a.length).toBeLessThan(name === 'grayPng' ? 0.15 : 0.05);
  });

  it('applies EXIF orientation before cropping', async () => {
    const rotated = new Uint8Array(await sharp(photoBytes[0]).withMetadata({ orientation: 6 }).jpeg().toBuffer());
    const r = await processSample(task(rotated));
    const plain = await processSample(task(photoBytes[0]));
    if (!r.ok || !plain.ok) throw new Error('rejected');
    expect([r.sourceWidth, r.sourceHeight]).toEqual([plain.sourceHeight, plain.sourceWidth]);
  });

  it('applies the size filters from the header', async () => {
    const small = await processSample(task(photoBytes[0], 'k', { limits: { ...DEFAULT_LIMITS, minSide: 200 } }));
    expect(small.ok || small.reason).toBe('too_small');
    const wide = new Uint8Array(await sharp(photoBytes[0]).resize(150, 30, { fit: 'fill' }).jpeg().toBuffer());
    const aspect = await processSample(task(wide, 'k', { limits: { ...DEFAULT_LIMITS, maxAspect: 3 } }));
    expect(aspect.ok || aspect.reason).toBe('aspect');
    const many = await processSample(task(photoBytes[0], 'k', { limits: { ...DEFAULT_LIMITS, maxPixels: 1000 } }));
    expect(many.ok || many.reason).toBe('too_many_pixels');
  });

  it('is deterministic in (seed, epoch, key) and changes with the epoch', async () => {
    const a = await processSample(task(photoBytes[1], 'x'));
    const b = await processSample(task(photoBytes[1], 'x'));
    const c = await processSample(task(photoBytes[1], 'x', { epoch: 1 }));
    if (!a.ok || !b.ok || !c.ok) throw new Error('rejected');
    expect(b.patches).toEqual(a.patches);
    expect(c.patches).not.toEqual(a.patches);
  });

  it('crops first (torchvision order) and the resize-first form for big JPEGs agrees up to resampling noise', async () => {
    const bytes = photoBytes[2];
    const size = transform.imageSize;
    const meta = await sharp(bytes).metadata();
    for (const key of ['a', 'b', 'c', 'd']) {
      const box = randomResizedCropBox(meta.width!, meta.height!, rngFor(7, 0, key));
      // A small photo: the worker's output is exactly crop-then-resize, normalised (no flip here).
      const r = await processSample(task(bytes, key, { transform: { ...transform, flipProbability: 0 } }));
      if (!r.ok) throw new Error('rejected');
      const cropFirst = await decodeWithPlan(bytes, cropFirstPlan(box, size), 1e8);
      const ours = denormalize(unpatchify(r.patches, size, size, 3, 14)).data;
      for (let i = 0; i < ours.length; i += 97) expect(ours[i]).toBeCloseTo(cropFirst.data[i] / 255, 4);
      // The resize-first plan (used when libjpeg can shrink on load) lands on the same pixels, give or take a pixel.
      const resizeFirst = await decodeWithPlan(bytes, resizeFirstPlan(meta.width!, meta.height!, box, size), 1e8);
      let diff = 0;
      for (let i = 0; i < resizeFirst.data.length; i++) diff += Math.abs(resizeFirst.data[i] - cropFirst.data[i]) / 255;
      expect(diff / resizeFirst.data.length).toBeLessThan(0.04);
    }
  });

  it('chooses resize-first only for JPEGs that shrink by 3 or more', () => {
    const box = { left: 10, top: 20, width: 900, height: 700, fallback: false };
    expect(trainPlan(1000, 800, box, 224, true).crop).toBeNull();
    expect(trainPlan(1000, 800, box, 224, false).crop).toEqual({ left: 10, top: 20, width: 900, height: 700 });
    expect(trainPlan(1000, 800, { ...box, width: 600, height: 600 }, 224, true).crop).not.toBeNull();
  });

  it('always yields the configured shape and finite values for random images and settings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 120 }),
        fc.constantFrom([32, 8], [28, 14], [48, 16]),
        fc.constantFrom('train', 'eval'),
        fc.constantFrom('png', 'jpeg', 'webp'),
        fc.boolean(),
        fc.integer(),
        async (w, h, [imageSize, patchSize], mode, format, jitter, seed) => {
          const noise = Buffer.alloc(w * h * 3);
          const rng = rngFor(seed, 0, 'noise');
          for (let i = 0; i < noise.length; i++) noise[i] = rng.int(0, 256);
          const bytes = new Uint8Array(
            await sharp(noise, { raw: { width: w, height: h, channels: 3 } })
              .toFormat(format)
              .toBuffer(),
          );
          const t = defaultTransformOptions({
            imageSize,
            patchSize,
            mode,
            colorJitter: jitter ? { brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1, p: 1 } : null,
          });
          const r = await processSample(task(bytes, `s${seed}`, { transform: t }));
          if (!r.ok) throw new Error(`${w}x${h} ${format}: ${r.reason} ${r.message}`);
          expectPatches(r.patches, t);
        },
      ),
      { numRuns: 40 },
    );
  });
});
