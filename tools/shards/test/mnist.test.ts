// The built-in MNIST shards: conversion into readable WebDataset shards, reuse of the cache.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { readSamples } from '@aim/webdataset';
import { prepareMnist } from '../src/mnist.js';

describe('prepareMnist', () => {
  it('converts MNIST into PNG shards with labels once, then reuses them', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'aim-mnist-'));
    const logs: string[] = [];
    const shards = await prepareMnist(cache, (m) => logs.push(m), { limit: 40 });
    expect(logs.some((l) => l.includes('40/80 images') || l.includes('80/80 images'))).toBe(true);
    const samples = [];
    for await (const s of readSamples(shards.train)) samples.push(s);
    expect(samples).toHaveLength(40);
    expect(samples[0].__key__).toBe('train-000000');
    const meta = await sharp(samples[0].png as Uint8Array).metadata();
    expect([meta.width, meta.height]).toEqual([28, 28]);
    // MNIST's first training label is 5
    expect(new TextDecoder().decode(samples[0].cls as Uint8Array)).toBe('5');
    const val = [];
    for await (const s of readSamples(shards.val)) val.push(s.__key__);
    expect(val[0]).toBe('val-000000');
    expect(val).toHaveLength(40);

    const again: string[] = [];
    const reused = await prepareMnist(cache, (m) => again.push(m), { limit: 40 });
    expect(reused).toEqual(shards);
    expect(again.join('\n')).toMatch(/shards ready/);
  });
});
