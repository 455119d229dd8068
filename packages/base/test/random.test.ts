// The generators' sequences are pinned where their users test them (@aim/webdataset's rng test, @aim/model's units,
// @aim/train's seeds); here: the pieces only this module has, and that it stays importable from a browser.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Mulberry32, mix32 } from '../src/random.js';

describe('mix32', () => {
  it('is MurmurHash3 fmix32 (fmix32(1) is the reference hash of no bytes with seed 1)', () => {
    expect(mix32(0)).toBe(0);
    expect(mix32(1)).toBe(0x514e28b7);
    expect(mix32(0xffffffff)).toBe(2180083513);
  });
});

describe('Mulberry32.unmixed', () => {
  it('is mulberry32 started at the given state (the reference stream from 0 begins 0.26642920868471265)', () => {
    const rng = Mulberry32.unmixed(0);
    expect(rng.uniform()).toBe(0.26642920868471265);
    expect([rng.nextUint32(), rng.nextUint32()]).toEqual([1416247, 958946056]);
  });

  it('reduces the state to 32 bits, and differs from the mixed constructor', () => {
    expect(Mulberry32.unmixed(2 ** 32 + 5).nextUint32()).toBe(Mulberry32.unmixed(5).nextUint32());
    expect(Mulberry32.unmixed(5).nextUint32()).not.toBe(new Mulberry32(5).nextUint32());
  });
});

describe('browser safety', () => {
  it.each(['random.ts', 'svg-chart.ts'])('%s imports nothing (so nothing Node-only reaches a browser bundle through it)', (file) => {
    const source = readFileSync(new URL(`../src/${file}`, import.meta.url), 'utf8');
    expect(source).not.toMatch(/^\s*import\b|\bimport\(|\brequire\(/m);
  });
});
