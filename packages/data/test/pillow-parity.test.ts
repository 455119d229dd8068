// Our bicubic resize against Pillow itself: equal byte for byte. (The worker's whole output against torchvision's own
// transforms is test/torchvision-parity.test.ts.) Needs Python 3 with Pillow and NumPy (CI installs them).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { missingSystemDependency } from '../../../vitest.shared.js';
import { resizeBicubic, rngFor } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'aim-pillow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first interpreter that has Pillow and NumPy (Debian's own python3 when a pyenv one comes first on PATH). */
const python = (() => {
  for (const exe of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(exe, ['-c', 'import PIL, numpy'], { stdio: 'ignore' });
      return exe;
    } catch {
      // try the next one
    }
  }
  return undefined;
})();
const noPillow = missingSystemDependency('Python 3 with Pillow and NumPy (Pillow parity tests)', 'python3 python3-pil python3-numpy', python !== undefined);

function runPython(script: string, spec: unknown): Buffer {
  const specPath = join(dir, 'spec.json');
  const outPath = join(dir, 'out.bin');
  writeFileSync(specPath, JSON.stringify(spec));
  execFileSync(python!, ['-c', script, specPath, outPath]);
  return readFileSync(outPath);
}

describe.skipIf(noPillow)('resizeBicubic', () => {
  it("equals Pillow's Image.resize(BICUBIC).crop(window) byte for byte, down and up, for random images", () => {
    const cases = fc.sample(
      fc
        .record({
          w: fc.integer({ min: 1, max: 300 }),
          h: fc.integer({ min: 1, max: 300 }),
          rw: fc.integer({ min: 1, max: 260 }),
          rh: fc.integer({ min: 1, max: 260 }),
          seed: fc.integer(),
        })
        .chain((c) =>
          fc.record({
            c: fc.constant(c),
            left: fc.integer({ min: 0, max: c.rw - 1 }),
            top: fc.integer({ min: 0, max: c.rh - 1 }),
          }),
        )
        .map(({ c, left, top }) => ({ ...c, window: { left, top, width: c.rw - left, height: c.rh - top } })),
      { numRuns: 300, seed: 42 },
    );
    // Exact ratios put tap centres on half pixels, where rounding and truncation matter most.
    for (const [w, h, rw, rh] of [
      [448, 448, 224, 224],
      [300, 150, 150, 75],
      [224, 310, 224, 224],
      [10, 7, 40, 28],
      [641, 480, 341, 256],
    ]) {
      cases.push({ w, h, rw, rh, seed: w + h, window: { left: 0, top: 0, width: rw, height: rh } });
    }
    const images = cases.map((c) => {
      const rng = rngFor(c.seed, 0, 'pixels');
      // Half noise (worst case for overshoot and clamping), half smooth gradients (photo-like).
      const smooth = (c.seed & 1) === 0;
      return Uint8Array.from({ length: c.w * c.h * 3 }, (_, i) => (smooth ? ((i % (c.w * 3)) * 5 + Math.floor(i / (c.w * 3)) * 3) & 255 : rng.int(0, 256)));
    });
    writeFileSync(join(dir, 'pixels.bin'), Buffer.concat(images));
    const script = `
import json, sys
from PIL import Image
spec = json.load(open(sys.argv[1])); blob = open(spec['pixels'], 'rb').read(); at = 0; out = []
for c in spec['cases']:
    n = c['w'] * c['h'] * 3
    im = Image.frombytes('RGB', (c['w'], c['h']), blob[at:at + n]); at += n
    win = c['window']
    out.append(im.resize((c['rw'], c['rh']), Image.BICUBIC).crop((win['left'], win['top'], win['left'] + win['width'], win['top'] + win['height'])).tobytes())
open(sys.argv[2], 'wb').write(b''.join(out))
`;
    const reference = runPython(script, { pixels: join(dir, 'pixels.bin'), cases });
    let at = 0;
    for (const [i, c] of cases.entries()) {
      const ours = resizeBicubic({ data: images[i], width: c.w, height: c.h, channels: 3 }, c.rw, c.rh, c.window);
      const n = c.window.width * c.window.height * 3;
      expect([ours.width, ours.height]).toEqual([c.window.width, c.window.height]);
      expect(Buffer.from(ours.data).equals(reference.subarray(at, at + n)), `${c.w}x${c.h} -> ${c.rw}x${c.rh} window ${JSON.stringify(c.window)}`).toBe(true);
      at += n;
    }
  });

  it('keeps a constant image constant and returns an unchanged size as is', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 255 }),
        (w, h, rw, rh, v) => {
          const flat = resizeBicubic({ data: new Uint8Array(w * h * 3).fill(v), width: w, height: h, channels: 3 }, rw, rh);
          expect(flat.data.every((x) => x === v)).toBe(true);
          const image = { data: Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) & 255), width: w, height: h, channels: 3 };
          expect(resizeBicubic(image, w, h).data).toEqual(image.data);
        },
      ),
    );
  });

  it('names the bad argument', () => {
    const image = { data: new Uint8Array(12), width: 2, height: 2, channels: 3 };
    expect(() => resizeBicubic(image, 0, 4)).toThrow(/empty output 0x4/);
    expect(() => resizeBicubic(image, 4, 4, { left: 2, top: 0, width: 4, height: 4 })).toThrow(/window .* is outside the 4x4 result/);
    expect(() => resizeBicubic({ ...image, channels: 4, data: new Uint8Array(16) }, 4, 4)).toThrow(/needs 3 channels, got 4/);
  });
});
