// folderToShards: class folders to shards (bytes, labels, json), seeded order, bad images, bad folders.
import { readSamples, sampleCls, sampleJson } from '@aim/webdataset';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { folderToShards } from '../src/index.js';
import { collect, withTempDir } from './helpers.js';

async function image(width: number, height: number, format: 'png' | 'jpeg' | 'webp'): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3).map((_, i) => (i * 13) & 255);
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .toFormat(format)
    .toBuffer();
}

/** root/cat/{a.png, b.jpg, deep/c.webp}, root/dog/{x.y.JPEG, notes.txt}, root/README (ignored). */
async function makeFolder(root: string): Promise<Record<string, Buffer>> {
  const files: Record<string, Buffer> = {
    'cat/a.png': await image(5, 4, 'png'),
    'cat/b.jpg': await image(8, 6, 'jpeg'),
    'cat/deep/c.webp': await image(3, 7, 'webp'),
    'dog/x.y.JPEG': await image(9, 2, 'jpeg'),
  };
  for (const [rel, data] of Object.entries(files)) {
    await mkdir(join(root, rel, '..'), { recursive: true });
    await writeFile(join(root, rel), data);
  }
  await writeFile(join(root, 'dog/notes.txt'), 'not an image');
  await writeFile(join(root, 'README'), 'top-level file');
  return files;
}

describe('folderToShards', () => {
  it('stores original bytes under the real format, class index, and a json record per image', async () => {
    await withTempDir(async (dir) => {
      const root = join(dir, 'images');
      const files = await makeFolder(root);
      const result = await folderToShards({ dir: root, outPattern: join(dir, 'out/f-%04d.tar'), maxCount: 3, seed: null });
      expect(result.classes).toEqual(['cat', 'dog']);
      expect(result.samples).toBe(4);
      expect(result.shards).toHaveLength(2);
      expect(result.ignored.map((p) => p.slice(root.length + 1)).sort()).toEqual(['README', 'dog/notes.txt']);
      const samples = await collect(readSamples(result.shards));
      // Unshuffled: sorted by class, then path. Keys keep folders; dots in file names become '_'.
      expect(samples.map((s) => s.__key__)).toEqual(['cat/a', 'cat/b', 'cat/deep/c', 'dog/x_y']);
      const ext = ['png', 'jpg', 'webp', 'jpg'];
      const sources = ['cat/a.png', 'cat/b.jpg', 'cat/deep/c.webp', 'dog/x.y.JPEG'];
      const sizes = [
        [5, 4],
        [8, 6],
        [3, 7],
        [9, 2],
      ];
      for (const [i, s] of samples.entries()) {
        expect(Object.keys(s).sort()).toEqual(['__key__', '__url__', 'cls', 'json', ext[i]].sort());
        expect(Buffer.from(s[ext[i]] as Uint8Array).equals(files[sources[i]])).toBe(true);
        expect(sampleCls(s)).toBe(i < 3 ? 0 : 1);
        expect(sampleJson(s)).toEqual({ source: sources[i], class: i < 3 ? 'cat' : 'dog', label: i < 3 ? 0 : 1, width: sizes[i][0], height: sizes[i][1] });
      }
    });
  });

  it('shuffles the order with a seed (same seed, same shards), mixing classes', async () => {
    await withTempDir(async (dir) => {
      const root = join(dir, 'images');
      for (const cls of ['a', 'b']) {
        await mkdir(join(root, cls), { recursive: true });
        for (let i = 0; i < 10; i++) await writeFile(join(root, cls, `${i}.png`), await image(2, 2, 'png'));
      }
      const keys = async (seed: number, out: string) =>
        (await collect(readSamples((await folderToShards({ dir: root, outPattern: join(dir, `${out}-%d.tar`), seed })).shards))).map((s) => s.__key__);
      const first = await keys(1, 'one');
      expect(await keys(1, 'two')).toEqual(first);
      expect(await keys(2, 'three')).not.toEqual(first);
      expect([...first].sort()).toEqual([...Array(10).keys()].flatMap((i) => [`a/${i}`, `b/${i}`]).sort());
      expect(first.slice(0, 10).some((k) => k.startsWith('b/'))).toBe(true);
    });
  });

  it('fails on a corrupt image naming the file, or skips and reports it with skipBad', async () => {
    await withTempDir(async (dir) => {
      const root = join(dir, 'images');
      await makeFolder(root);
      await writeFile(join(root, 'dog/broken.jpg'), Buffer.from('definitely not a jpeg'));
      const out = join(dir, 'out/f-%d.tar');
      await expect(folderToShards({ dir: root, outPattern: out })).rejects.toThrow(/dog\/broken\.jpg: not a readable image.*--skip-bad/);
      const skippedPaths: string[] = [];
      const result = await folderToShards({ dir: root, outPattern: out, skipBad: true, onSkip: (p) => skippedPaths.push(p) });
      expect(result.samples).toBe(4);
      expect(result.skipped.map((s) => s.path)).toEqual([join(root, 'dog/broken.jpg')]);
      expect(skippedPaths).toEqual([join(root, 'dog/broken.jpg')]);
      expect((await readFile(result.shards[0])).length).toBeGreaterThan(0);
    });
  });

  it('explains a folder without class subfolders or without images', async () => {
    await withTempDir(async (dir) => {
      await expect(folderToShards({ dir: join(dir, 'nope'), outPattern: join(dir, 'o-%d.tar') })).rejects.toThrow(/cannot read folder .*nope: no such folder/);
      await writeFile(join(dir, 'flat.png'), await image(2, 2, 'png'));
      await expect(folderToShards({ dir, outPattern: join(dir, 'o-%d.tar') })).rejects.toThrow(/has no class subfolders: expected .*\/<class>\/<image files>/);
      await mkdir(join(dir, 'empty-class'));
      await expect(folderToShards({ dir, outPattern: join(dir, 'o-%d.tar') })).rejects.toThrow(/no \.jpg, \.jpeg, \.png or \.webp images/);
    });
  });
});
