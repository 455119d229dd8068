// Parity with torchvision itself (Debian's python3-torchvision), not with a re-implementation: torchvision's own
// RandomResizedCrop.get_params, Resize + CenterCrop, RandomHorizontalFlip, ToTensor, Normalize and ColorJitter run in
// Python on PIL images, with torch's random source replaced by the draws our code made (test/torchvision_reference.py),
// and the results are compared with ours: boxes and eval plans exactly, pixels float for float for every input kind.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AIM_COLOR_JITTER,
  DEFAULT_LIMITS,
  Rng,
  cmykToRgb,
  defaultTransformOptions,
  evalResizePlan,
  processSample,
  randomResizedCropBox,
  rngFor,
  sampleColorJitter,
  type TransformOptions,
} from '../src/index.js';
import { photos } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'aim-torchvision-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SCRIPT = fileURLToPath(new URL('./torchvision_reference.py', import.meta.url));

/** The first interpreter with torchvision (Debian's python3 when a pyenv one comes first on PATH). */
const python = (() => {
  for (const exe of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(exe, ['-c', 'import torchvision, PIL, numpy'], { stdio: 'ignore' });
      return exe;
    } catch {
      // try the next one
    }
  }
  throw new Error('the torchvision parity tests need Python 3 with torchvision (Debian: apt-get install python3-torchvision python3-pil)');
})();

function reference(spec: Record<string, unknown>): Buffer {
  const specPath = join(dir, 'spec.json');
  const outPath = join(dir, 'out.bin');
  writeFileSync(specPath, JSON.stringify(spec));
  execFileSync(python, [SCRIPT, specPath, outPath], { maxBuffer: 1 << 26 });
  return readFileSync(outPath);
}

type Draw = ['u', number] | ['i', number] | ['perm', number[]];

/** Our generator for (seed, epoch, key), recording every draw in the form torch's patched random source replays. */
class RecordingRng extends Rng {
  readonly draws: Draw[] = [];
  private readonly inner: Rng;
  constructor(seed: number, epoch: number, key: string) {
    const inner = rngFor(seed, epoch, key);
    super({ next: () => inner.next(), int: (n: number) => inner.int(0, n) } as never);
    this.inner = inner;
  }
  override next(): number {
    const u = this.inner.next();
    this.draws.push(['u', u]);
    return u;
  }
  override uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }
  override int(low: number, highExclusive: number): number {
    const v = this.inner.int(low, highExclusive);
    this.draws.push(['i', v - low]);
    return v;
  }
  override permutation(n: number): number[] {
    const p = this.inner.permutation(n);
    this.draws.push(['perm', [...p]]);
    return p;
  }
}

describe('RandomResizedCrop boxes against torchvision.transforms.RandomResizedCrop.get_params', () => {
  it('gives the same box for the same uniform draws over 6000 image sizes, scales and ratios (fallbacks included)', () => {
    const sizeRng = rngFor(1, 0, 'sizes');
    const options: Array<{ scale: [number, number]; ratio: [number, number] }> = [
      { scale: [0.4, 1.0], ratio: [3 / 4, 4 / 3] }, // AIM
      { scale: [0.08, 1.0], ratio: [3 / 4, 4 / 3] }, // torchvision's default
      { scale: [0.9, 1.0], ratio: [0.5, 2.0] },
    ];
    const cases: Array<{ w: number; h: number; scale: [number, number]; ratio: [number, number]; draws: Draw[] }> = [];
    const ours: number[][] = [];
    let fallbacks = 0;
    for (let i = 0; i < 6000; i++) {
      const o = options[i % options.length];
      // mostly photo-like sizes; every 10th one very elongated, so that all ten attempts can fail
      const w = sizeRng.int(1, i % 10 === 9 ? 40 : 2500);
      const h = i % 10 === 9 ? sizeRng.int(200, 3000) : sizeRng.int(1, 2500);
      const [ww, hh] = i % 20 === 19 ? [h, w] : [w, h];
      const rec = new RecordingRng(5, i, 'box');
      const box = randomResizedCropBox(ww, hh, rec, o);
      if (box.fallback) fallbacks++;
      ours.push([box.left, box.top, box.width, box.height]);
      cases.push({ w: ww, h: hh, ...o, draws: rec.draws });
    }
    expect(fallbacks).toBeGreaterThan(50);
    const got = JSON.parse(reference({ command: 'boxes', cases }).toString()) as { boxes: number[][] };
    const differing = ours.flatMap((b, i) =>
      JSON.stringify(b) === JSON.stringify(got.boxes[i]) ? [] : [{ ...cases[i], draws: undefined, ours: b, torchvision: got.boxes[i] }],
    );
    expect(differing.slice(0, 3)).toEqual([]);
  });
});

describe('the eval plan against torchvision Resize(256) + CenterCrop(224)', () => {
  it('resizes to the same size and crops at the same offset for 3000 image sizes', () => {
    const rng = rngFor(2, 0, 'eval-sizes');
    const sizes: Array<[number, number]> = [
      [224, 224],
      [256, 256],
      [257, 256],
      [256, 257],
      [255, 300],
      [300, 255],
      [1, 1],
      [7, 3],
      [511, 512],
      [4000, 3000],
      [3000, 4000],
    ];
    while (sizes.length < 3000) {
      const short = rng.int(1, 1500);
      const long = Math.min(20 * short, short + rng.int(0, 2500));
      sizes.push(rng.next() < 0.5 ? [short, long] : [long, short]);
    }
    const got = JSON.parse(reference({ command: 'eval_plans', sizes, short: 256, size: 224 }).toString()) as { plans: number[][] };
    const differing = sizes.flatMap(([w, h], i) => {
      const p = evalResizePlan(w, h, 224);
      const ours = [p.resizeWidth, p.resizeHeight, p.left, p.top];
      return JSON.stringify(ours) === JSON.stringify(got.plans[i]) ? [] : [{ w, h, ours, torchvision: got.plans[i] }];
    });
    expect(differing.slice(0, 3)).toEqual([]);
  });
});

describe('CMYK conversion', () => {
  it("cmykToRgb equals Pillow's convert('RGB') for every (C, K) pair", () => {
    const want = reference({ command: 'cmyk_table' });
    const cmyk = new Uint8Array(65536 * 4);
    for (let k = 0; k < 256; k++) for (let c = 0; c < 256; c++) cmyk.set([c, c, c, k], (k * 256 + c) * 4);
    const rgb = cmykToRgb(cmyk);
    const red = Uint8Array.from({ length: 65536 }, (_, i) => rgb[i * 3]);
    expect(Buffer.from(red).equals(want)).toBe(true);
  });
});

/** Float-for-float comparison of our patches with torchvision's (a concatenation of float32 tensors). */
function compare(ours: Float32Array[], got: Buffer): Array<{ differing: number; worst: number }> {
  const floats = ours[0].length;
  expect(got.length).toBe(ours.length * floats * 4);
  return ours.map((patches, i) => {
    const want = new Float32Array(got.buffer, got.byteOffset + i * floats * 4, floats);
    let differing = 0;
    let worst = 0;
    for (let j = 0; j < floats; j++) {
      if (patches[j] !== want[j]) differing++;
      worst = Math.max(worst, Math.abs(patches[j] - want[j]));
    }
    return { differing, worst };
  });
}

const SIZE = 224;
const PATCH = 14;

/** A train case for the reference: the worker's draws for this key, in its order (box, flip, jitter). */
function trainCase(key: string, width: number, height: number, transform: TransformOptions): Record<string, unknown> {
  const rec = new RecordingRng(3, 1, key);
  randomResizedCropBox(width, height, rec, { scale: transform.scale, ratio: transform.ratio });
  rec.next();
  const jitter = transform.colorJitter ? sampleColorJitter(rec, transform.colorJitter) : undefined;
  return {
    mode: 'train',
    draws: rec.draws,
    scale: transform.scale,
    ratio: transform.ratio,
    flipP: transform.flipProbability,
    jitter: transform.colorJitter,
    params: jitter,
  };
}

describe('the worker against torchvision transforms on PIL images, every input kind', () => {
  it('train (RandomResizedCrop, flip) and eval (Resize 256, CenterCrop 224): the same float32 patches', { timeout: 180_000 }, async () => {
    const plain = await photos(480); // ~500 px, as DFN's images
    const base = sharp(plain[0]);
    const u8 = (b: Buffer) => new Uint8Array(b);
    // [name, bytes, extension, the PIL mode torchvision sees, EXIF orientation]
    const kinds: Array<[string, Uint8Array, string, string, number]> = plain.map(
      (p, i) => [`jpeg #${i}`, p, 'jpg', 'RGB', 1] as [string, Uint8Array, string, string, number],
    );
    kinds.push(
      ['jpeg with a Display P3 profile', u8(await sharp(plain[1]).withIccProfile('p3').jpeg({ quality: 90 }).toBuffer()), 'jpg', 'RGB', 1],
      ['CMYK jpeg', u8(await base.clone().toColourspace('cmyk').jpeg().toBuffer()), 'jpg', 'CMYK', 1],
      ['gray jpeg', u8(await base.clone().toColourspace('b-w').jpeg().toBuffer()), 'jpg', 'L', 1],
      ['gray png', u8(await base.clone().toColourspace('b-w').png().toBuffer()), 'png', 'L', 1],
      ['palette png', u8(await base.clone().png({ palette: true, colours: 64 }).toBuffer()), 'png', 'P', 1],
      ['16-bit rgb png', u8(await base.clone().toColourspace('rgb16').png().toBuffer()), 'png', 'RGB', 1],
      ['16-bit gray png', u8(await base.clone().toColourspace('grey16').png().toBuffer()), 'png', 'I', 1],
      ['rgba png', u8(await base.clone().ensureAlpha(0.4).png().toBuffer()), 'png', 'RGBA', 1],
      ['gray + alpha png', u8(await base.clone().toColourspace('b-w').ensureAlpha(0.7).png().toBuffer()), 'png', 'LA', 1],
    );
    for (const orientation of [2, 3, 4, 5, 6, 7, 8]) {
      kinds.push([
        `jpeg with EXIF orientation ${orientation}`,
        u8(await sharp(plain[2]).withMetadata({ orientation }).jpeg({ quality: 90 }).toBuffer()),
        'jpg',
        'RGB',
        orientation,
      ]);
    }
    const paths = kinds.map(([, bytes, ext], k) => {
      const path = join(dir, `kind${k}.${ext}`);
      writeFileSync(path, bytes);
      return path;
    });
    // The inputs are what their names say, as PIL sees them.
    const { modes } = JSON.parse(reference({ command: 'modes', paths }).toString()) as { modes: Array<[string, number[], number, boolean]> };
    expect(modes.map(([mode, , orientation]) => [mode, orientation])).toEqual(kinds.map(([, , , mode, orientation]) => [mode, orientation]));
    expect(modes[plain.length][3]).toBe(true); // the P3 file carries its profile
    expect((await sharp(kinds.find((k) => k[0] === '16-bit rgb png')![1]).metadata()).depth).toBe('ushort');

    const transform: TransformOptions = defaultTransformOptions({ imageSize: SIZE, patchSize: PATCH, shrinkOnLoad: false });
    const cases: Array<Record<string, unknown>> = [];
    const ours: Float32Array[] = [];
    for (const [k, [name, bytes]] of kinds.entries()) {
      for (const key of ['a', 'b', 'c', 'eval']) {
        const mode = key === 'eval' ? 'eval' : 'train';
        const r = await processSample({ key, bytes, seed: 3, epoch: 1, transform: { ...transform, mode }, limits: DEFAULT_LIMITS });
        if (!r.ok) throw new Error(`${name} rejected: ${r.message}`);
        ours.push(r.patches);
        // EXIF orientation: we apply it, torchvision does not (ImageOps.exif_transpose first makes them equal).
        // 16-bit gray: we take the high byte, Pillow's convert('RGB') clips at 255 (see the README).
        const c = { name, path: paths[k], mode, exif: name.includes('EXIF'), highByte: name === '16-bit gray png' };
        cases.push(mode === 'train' ? { ...c, ...trainCase(key, r.sourceWidth, r.sourceHeight, transform) } : c);
      }
    }
    // both flip outcomes occur (the flip is the last draw of a train case)
    const flips = cases.filter((c) => c.mode === 'train').map((c) => ((c.draws as Draw[]).at(-1)![1] as number) < transform.flipProbability);
    expect(flips.includes(true) && flips.includes(false)).toBe(true);
    const results = compare(ours, reference({ command: 'pixels', size: SIZE, patch: PATCH, short: 256, cases }));
    const report = results.flatMap((r, i) => (r.differing === 0 ? [] : [`${cases[i].name} ${cases[i].mode}: ${r.differing} floats differ, up to ${r.worst}`]));
    expect(report).toEqual([]);
  });

  it("16-bit gray PNGs: torchvision's own loader clips them white, which we do not reproduce", async () => {
    const [photo] = await photos(200);
    const bytes = new Uint8Array(await sharp(photo).toColourspace('grey16').png().toBuffer());
    const path = join(dir, 'gray16.png');
    writeFileSync(path, bytes);
    const transform = defaultTransformOptions({ imageSize: SIZE, patchSize: PATCH, shrinkOnLoad: false, mode: 'eval' });
    const r = await processSample({ key: 'k', bytes, seed: 0, epoch: 0, transform, limits: DEFAULT_LIMITS });
    if (!r.ok) throw new Error(r.message);
    const [clipped] = compare(
      [r.patches],
      reference({ command: 'pixels', size: SIZE, patch: PATCH, short: 256, cases: [{ path, mode: 'eval', exif: false }] }),
    );
    expect(clipped.differing).toBeGreaterThan(0.9 * r.patches.length);
  });
});

describe('ColorJitter against torchvision.transforms.ColorJitter on the float tensor (after ToTensor)', () => {
  it('the same draws give the same image up to float32 rounding (|a - b| <= 5e-6 normalised, ~3e-4 grey levels)', { timeout: 120_000 }, async () => {
    const [photo] = await photos(400);
    const path = join(dir, 'jitter.jpg');
    writeFileSync(path, photo);
    const jittered = defaultTransformOptions({ imageSize: SIZE, patchSize: PATCH, shrinkOnLoad: false, colorJitter: AIM_COLOR_JITTER });
    const plainTransform = { ...jittered, colorJitter: null };
    const cases: Array<Record<string, unknown>> = [];
    const ours: Float32Array[] = [];
    let applied = 0;
    for (let i = 0; i < 30; i++) {
      const key = `j${i}`;
      const r = await processSample({ key, bytes: photo, seed: 3, epoch: 1, transform: jittered, limits: DEFAULT_LIMITS });
      const unjittered = await processSample({ key, bytes: photo, seed: 3, epoch: 1, transform: plainTransform, limits: DEFAULT_LIMITS });
      if (!r.ok || !unjittered.ok) throw new Error('rejected');
      ours.push(r.patches);
      const c: Record<string, unknown> = { name: key, path, exif: false, ...trainCase(key, r.sourceWidth, r.sourceHeight, jittered) };
      cases.push(c);
      // RandomApply p = 0.8: applied ones change the picture; the others are the plain transform's output exactly
      let change = 0;
      for (let j = 0; j < r.patches.length; j++) change = Math.max(change, Math.abs(r.patches[j] - unjittered.patches[j]));
      if (c.params) {
        applied++;
        expect(change).toBeGreaterThan(0.05);
      } else {
        expect(change).toBe(0);
      }
    }
    expect(applied).toBeGreaterThan(15);
    expect(applied).toBeLessThan(30);
    const results = compare(ours, reference({ command: 'pixels', size: SIZE, patch: PATCH, short: 256, cases }));
    const worst = Math.max(...results.map((r) => r.worst));
    // measured 2026-11-29: worst 1.55e-6 over 30 draws (float64 arithmetic here, float32 in torch)
    expect(worst).toBeLessThanOrEqual(5e-6);
    expect(results.filter((r, i) => !cases[i].params && r.differing !== 0)).toEqual([]);
  });
});
