// The page's pure parts in Node: the probe file loader and the attentive probe against apple/ml-aim's golden logits,
// safetensors errors, and the eval transform's geometry.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadProbeFile } from '../src/probe-file.js';
import { attentiveProbe, averageBlocks, topK } from '../src/probe.js';
import { parseSafetensors } from '../src/safetensors.js';
import { evalResizePlan } from '@aim/data/browser';
import { patchifyNormalized } from '../src/transform.js';
import { cpuExtractFeatures, erf } from '../src/cpu-trunk.js';
import { resizeBicubic } from '@aim/data';
import { resizeBicubicRgb } from '../src/pillow-resize.js';

const golden = new URL('../../../fixtures/golden/', import.meta.url);
const bytes = (f: string): ArrayBuffer => {
  const b = readFileSync(new URL(f, golden));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};

describe('probe file and attentive probe', () => {
  it('reproduces the golden logits from the golden features', () => {
    const model = loadProbeFile(bytes('aim-golden-small.weights.safetensors'), 'golden');
    const io = parseSafetensors(bytes('aim-golden-small.io.safetensors'), 'io');
    expect(model.config.width).toBe(64);
    expect(model.blocks).toEqual([1, 2]);
    const [b, n] = io.tensors.get('features.0')!.shape;
    const features = averageBlocks(model.blocks.map((i) => io.float32(`features.${i}`)));
    const { logits, attention } = attentiveProbe(model.probe, features, b, n);
    const want = io.float32('logits');
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs(logits[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    expect(worst / scale).toBeLessThan(1e-5);
    for (let s = 0; s < b * model.config.heads; s++) {
      const row = attention.subarray(s * n, (s + 1) * n);
      expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 5);
    }
    const top = topK(logits, model.probe.numClasses, 0, 5);
    expect(top).toHaveLength(5);
    expect(top[0].prob).toBeGreaterThanOrEqual(top[4].prob);
  });

  it('names what is wrong with a malformed file', () => {
    expect(() => parseSafetensors(new ArrayBuffer(3), 'x.safetensors')).toThrow(/x.safetensors: .*too short/);
    const junk = new Uint8Array(64);
    new DataView(junk.buffer).setBigUint64(0, 10n, true);
    junk.set(new TextEncoder().encode('{not json}'), 8);
    expect(() => parseSafetensors(junk.buffer, 'j')).toThrow(/j: .*not JSON/);
    const io = bytes('aim-golden-small.io.safetensors');
    expect(() => loadProbeFile(io, 'io')).toThrow(/io: /);
    expect(() => loadProbeFile(bytes('aim-golden-small.weights.safetensors').slice(0, 5000), 'cut')).toThrow(/cut: .*outside/);
  });
});

describe('eval transform', () => {
  it('plans torchvision arithmetic: shorter side floor(size / 0.875), centre crop', () => {
    expect(evalResizePlan(28, 28, 32)).toMatchObject({ resizeWidth: 36, resizeHeight: 36, left: 2, top: 2 });
    expect(evalResizePlan(640, 480, 224)).toMatchObject({ resizeWidth: 341, resizeHeight: 256, left: 58, top: 16 });
  });

  it('patchifies in (row, col, channel) order with ImageNet normalisation', () => {
    const size = 4;
    const p = 2;
    const rgba = new Uint8ClampedArray(size * size * 4);
    for (let i = 0; i < size * size; i++) rgba.set([i, 2 * i, 3 * i, 255], 4 * i);
    const out = patchifyNormalized(rgba, size, p);
    expect(out.length).toBe(size * size * 3);
    // Patch 1 (row 0, col 1), its pixel (0, 1) is image pixel (0, 3) = index 3; channel 2.
    const v = out[1 * p * p * 3 + (0 * p + 1) * 3 + 2];
    expect(v).toBeCloseTo((9 / 255 - 0.406) / 0.225, 5);
  });
});

describe('cpu trunk (the no-WebGPU fallback)', () => {
  it('erf is accurate', () => {
    // Reference values of erf (Abramowitz & Stegun table 7.1 / mpmath).
    for (const [x, want] of [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
      [-1.5, -0.9661051464753108],
    ]) {
      expect(Math.abs(erf(x) - want)).toBeLessThan(1e-13);
    }
  });

  it('reproduces the golden features and logits', () => {
    const model = loadProbeFile(bytes('aim-golden-small.weights.safetensors'), 'golden');
    const io = parseSafetensors(bytes('aim-golden-small.io.safetensors'), 'io');
    const [b, n] = io.tensors.get('patches')!.shape;
    const blocks = [0, 1, 2];
    const got = cpuExtractFeatures(model.config, model.trunk, io.float32('patches'), b, blocks);
    for (const i of blocks) {
      const want = io.float32(`features.${i}`);
      let worst = 0;
      let scale = 0;
      for (let j = 0; j < want.length; j++) {
        worst = Math.max(worst, Math.abs(got[i][j] - want[j]));
        scale = Math.max(scale, Math.abs(want[j]));
      }
      expect(worst / scale, `features.${i}`).toBeLessThan(1e-5);
    }
    const { logits } = attentiveProbe(model.probe, averageBlocks(model.blocks.map((i) => got[i])), b, n);
    const want = io.float32('logits');
    expect(Math.max(...Array.from(want, (w, j) => Math.abs(w - logits[j])))).toBeLessThan(1e-4);
  });
});

describe('Pillow bicubic in the page', () => {
  it("equals @aim/data's resizeBicubic byte for byte (up, down, one axis, crop windows)", () => {
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 255;
    for (const [w, h, rw, rh] of [
      [28, 28, 36, 36],
      [300, 200, 54, 36],
      [37, 91, 36, 88],
      [64, 48, 64, 36],
      [5, 9, 40, 72],
    ]) {
      const rgb = Uint8Array.from({ length: w * h * 3 }, rand);
      for (const win of [
        { left: 0, top: 0, width: rw, height: rh },
        { left: Math.floor(rw / 4), top: Math.floor(rh / 3), width: Math.ceil(rw / 2), height: Math.ceil(rh / 2) },
      ]) {
        const want = resizeBicubic({ data: rgb, width: w, height: h, channels: 3 }, rw, rh, win).data;
        const got = resizeBicubicRgb(rgb, w, h, rw, rh, win);
        expect(Buffer.from(got).equals(Buffer.from(want)), `${w}x${h} -> ${rw}x${rh} ${JSON.stringify(win)}`).toBe(true);
      }
    }
  });
});
