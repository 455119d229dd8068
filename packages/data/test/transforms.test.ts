// Properties of the pure transforms: patchify/unpatchify, crop boxes, flip, normalisation, ColorJitter.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyColorJitter,
  resizeFirstPlan,
  denormalize,
  evalResizePlan,
  horizontalFlip,
  normalize,
  normalizedPatches,
  patchify,
  randomResizedCropBox,
  rngFor,
  roundHalfEven,
  sampleColorJitter,
  AIM_COLOR_JITTER,
  unpatchify,
  type ImageData,
} from '../src/index.js';

const floatImage = (width: number, height: number, channels: number, seed: number): ImageData<Float32Array> => {
  const rng = rngFor(seed, 0, 'img');
  const data = new Float32Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.next();
  return { data, width, height, channels };
};

describe('patchify / unpatchify', () => {
  it('are inverses for every size divisible by the patch', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer(),
        (p, gw, gh, c, seed) => {
          const img = floatImage(gw * p, gh * p, c, seed);
          const patches = patchify(img, p);
          expect(patches.length).toBe(gw * gh * p * p * c);
          const back = unpatchify(patches, img.width, img.height, c, p);
          expect(back.data).toEqual(img.data);
        },
      ),
    );
  });

  it('uses the MAE layout: raster patches, each flattened as (row, col, channel)', () => {
    // 4x4 RGB image, patch 2: value encodes (y, x, c).
    const w = 4;
    const data = new Float32Array(4 * 4 * 3);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = y * 100 + x * 10 + c;
    const patches = patchify({ data, width: 4, height: 4, channels: 3 }, 2); // [4, 12]
    // Patch 1 is the top-right one (gy 0, gx 1); its element (r=1, c=0, ch=2) is pixel (y=1, x=2), channel 2.
    expect(patches[1 * 12 + (1 * 2 + 0) * 3 + 2]).toBe(1 * 100 + 2 * 10 + 2);
    // Patch 2 is bottom-left (gy 1, gx 0); element (r=0, c=1, ch=0) is pixel (y=2, x=1).
    expect(patches[2 * 12 + (0 * 2 + 1) * 3 + 0]).toBe(2 * 100 + 1 * 10 + 0);
  });

  it('normalizedPatches equals flip + normalise + patchify composed, for any channel count', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        fc.integer(),
        (p, gw, gh, channels, flip, seed) => {
          const rng = rngFor(seed, 0, 'bytes');
          const img = { data: Uint8Array.from({ length: gw * p * gh * p * channels }, () => rng.int(0, 256)), width: gw * p, height: gh * p, channels };
          const mean = Array.from({ length: channels }, () => rng.uniform(0.3, 0.6));
          const std = Array.from({ length: channels }, () => rng.uniform(0.2, 0.3));
          const expected = patchify(normalize(flip ? horizontalFlip(img) : img, mean, std), p);
          const fused = normalizedPatches(img, p, mean, std, flip);
          expect(fused).toEqual(expected); // both are torchvision's float32 values, exactly
        },
      ),
    );
  });

  it('rejects sizes not divisible by the patch with a clear message', () => {
    expect(() => patchify(floatImage(10, 8, 3, 1), 4)).toThrow(/10x8 is not divisible by patch size 4/);
  });
});

describe('RandomResizedCrop boxes', () => {
  it('stay inside the image and keep the area fraction in the scale range (after rounding)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4000 }),
        fc.integer({ min: 1, max: 4000 }),
        fc.integer(),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        (width, height, seed, low) => {
          const scale: [number, number] = [low, Math.min(1, low + 0.6)];
          const box = randomResizedCropBox(width, height, rngFor(seed, 0, 'k'), { scale });
          expect(box.left).toBeGreaterThanOrEqual(0);
          expect(box.top).toBeGreaterThanOrEqual(0);
          expect(box.width).toBeGreaterThan(0);
          expect(box.height).toBeGreaterThan(0);
          expect(box.left + box.width).toBeLessThanOrEqual(width);
          expect(box.top + box.height).toBeLessThanOrEqual(height);
          if (!box.fallback) {
            // w and h are each rounded by at most 0.5, so the area moves by at most (w + h) / 2 + 1/4.
            const slack = (box.width + box.height) / 2 + 0.25;
            const area = box.width * box.height;
            expect(area).toBeGreaterThanOrEqual(scale[0] * width * height - slack);
            expect(area).toBeLessThanOrEqual(scale[1] * width * height + slack);
            const ratio = box.width / box.height;
            expect(ratio).toBeGreaterThanOrEqual((3 / 4) * (1 - 1 / Math.min(box.width, box.height)) - 1e-9);
            expect(ratio).toBeLessThanOrEqual((4 / 3) * (1 + 1 / Math.min(box.width, box.height)) + 1e-9);
          }
        },
      ),
    );
  });

  it("falls back to torchvision's centre crop for extreme aspect ratios", () => {
    // 1000x10: no box of area >= 40% with ratio <= 4/3 fits, so h = 10 and w = round(10 * 4/3) = 13, centred.
    const box = randomResizedCropBox(1000, 10, rngFor(0, 0, 'wide'));
    expect(box).toEqual({ left: Math.floor((1000 - 13) / 2), top: 0, width: 13, height: 10, fallback: true });
  });

  it('is deterministic in (seed, epoch, key) and varies with each', () => {
    const a = randomResizedCropBox(640, 480, rngFor(1, 2, 'x'));
    expect(randomResizedCropBox(640, 480, rngFor(1, 2, 'x'))).toEqual(a);
    const others = [rngFor(2, 2, 'x'), rngFor(1, 3, 'x'), rngFor(1, 2, 'y')].map((r) => randomResizedCropBox(640, 480, r));
    for (const o of others) expect(o).not.toEqual(a);
  });

  it('rounds halves to even like Python', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 2, 3]);
  });

  it('resize plans keep the output window inside the resized image', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 3000 }), fc.integer(), fc.integer({ min: 8, max: 300 }), (w, h, seed, size) => {
        const box = randomResizedCropBox(w, h, rngFor(seed, 0, 'p'));
        const plan = resizeFirstPlan(w, h, box, size);
        expect(plan.left + size).toBeLessThanOrEqual(plan.resizeWidth);
        expect(plan.top + size).toBeLessThanOrEqual(plan.resizeHeight);
        // The window lands within one output pixel of where the box maps.
        expect(Math.abs(plan.left - (box.left * size) / box.width)).toBeLessThanOrEqual(1);
        const evalPlan = evalResizePlan(w, h, size);
        expect(Math.min(evalPlan.resizeWidth, evalPlan.resizeHeight)).toBe(Math.floor(size / 0.875));
        expect(evalPlan.left + size).toBeLessThanOrEqual(evalPlan.resizeWidth);
        expect(evalPlan.top + size).toBeLessThanOrEqual(evalPlan.resizeHeight);
      }),
    );
  });

  it('eval plan matches torchvision for 640x480 at 224: resize to 341x256, crop at (58, 16)', () => {
    expect(evalResizePlan(640, 480, 224)).toEqual({ crop: null, resizer: 'pillow', resizeWidth: 341, resizeHeight: 256, left: 58, top: 16, size: 224 });
  });
});

describe('pixel transforms', () => {
  it('horizontal flip is an involution and mirrors pixels', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (w, h, c, seed) => {
        const img = floatImage(w, h, c, seed);
        const flipped = horizontalFlip(img);
        expect(flipped.data[c * (w - 1)]).toBe(img.data[0]);
        expect(horizontalFlip(flipped).data).toEqual(img.data);
      }),
    );
  });

  it('normalise then denormalise returns the input', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 }), fc.integer(), (w, h, seed) => {
        const img = floatImage(w, h, 3, seed);
        const back = denormalize(normalize(img));
        for (let i = 0; i < img.data.length; i++) expect(back.data[i]).toBeCloseTo(img.data[i], 5);
      }),
    );
  });

  it('normalises bytes with ImageNet statistics', () => {
    const out = normalize({ data: new Uint8Array([255, 0, 128]), width: 1, height: 1, channels: 3 });
    expect(out.data[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
    expect(out.data[1]).toBeCloseTo((0 - 0.456) / 0.224, 5);
    expect(out.data[2]).toBeCloseTo((128 / 255 - 0.406) / 0.225, 5);
  });

  it('ColorJitter keeps values in [0, 1], applies with probability p, and leaves gray unchanged by saturation/hue', () => {
    let applied = 0;
    for (let i = 0; i < 400; i++) {
      const params = sampleColorJitter(rngFor(0, 0, `j${i}`), AIM_COLOR_JITTER);
      if (!params) continue;
      applied++;
      expect(params.order.slice().sort()).toEqual([0, 1, 2, 3]);
      expect(params.brightness).toBeGreaterThanOrEqual(0.6);
      expect(params.brightness).toBeLessThan(1.4);
      expect(Math.abs(params.hue)).toBeLessThanOrEqual(0.1);
      const out = applyColorJitter(floatImage(5, 4, 3, i), params);
      for (const v of out.data) expect(v >= 0 && v <= 1).toBe(true);
    }
    expect(applied / 400).toBeGreaterThan(0.7);
    expect(applied / 400).toBeLessThan(0.9);
    const grayImg: ImageData<Float32Array> = { data: new Float32Array([0.5, 0.5, 0.5]), width: 1, height: 1, channels: 3 };
    const out = applyColorJitter(grayImg, { order: [2, 3], brightness: 1, contrast: 1, saturation: 1.2, hue: 0.1 });
    for (const v of out.data) expect(v).toBeCloseTo(0.5, 4); // torchvision's gray weights sum to 0.9999
    // A pure hue rotation by 1/3 turn maps red to green.
    const red = applyColorJitter(
      { data: new Float32Array([1, 0, 0]), width: 1, height: 1, channels: 3 },
      { order: [3], brightness: 1, contrast: 1, saturation: 1, hue: 1 / 3 },
    );
    expect(Array.from(red.data).map((v) => Math.round(v * 1000) / 1000)).toEqual([0, 1, 0]);
  });
});
