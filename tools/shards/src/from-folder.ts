// Convert a folder of images in class subfolders (ImageNet layout) into WebDataset shards:
// `KEY.<jpg|png|webp>` (original bytes), `KEY.cls` (class index), `KEY.json` (source, class, width, height).
import { createRng, deriveSeed, formatShardName, shuffleInPlace, ShardWriter } from '@aim/webdataset';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import sharp from 'sharp';
import { mapOrdered } from './ordered.js';
import type { ShardsResult } from './from-idx.js';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp']);
/** sharp's format name -> the extension decoders expect. */
const FORMAT_EXT: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp' };

export interface FolderToShardsOptions {
  /** Root folder; each subfolder is a class, images anywhere below it. */
  dir: string;
  outPattern: string;
  /** Samples per shard. Default 10000. */
  maxCount?: number;
  /** Bytes per shard. Default 3e9. */
  maxSize?: number;
  /** Seed for shuffling the file order (so shards mix classes); `null` keeps sorted order. Default 0. */
  seed?: number | null;
  /** Skip unreadable or unsupported images (reported through onSkip and the result) instead of failing. */
  skipBad?: boolean;
  onSkip?: (path: string, reason: string) => void;
  onProgress?: (done: number, total: number) => void;
  /** Image reads in flight. Default 8. */
  concurrency?: number;
}

export interface FolderShardsResult extends ShardsResult {
  /** Class names in index order (sorted folder names). */
  classes: string[];
  skipped: { path: string; reason: string }[];
  /** Files ignored because they are not images or are not inside a class folder. */
  ignored: string[];
}

interface ImageFile {
  path: string;
  classIndex: number;
}

type LoadedImage = { file: ImageFile; bytes: Buffer; ext: string; width: number; height: number } | { file: ImageFile; error: string };

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

/** A key that reads back as itself: `class/relative/stem` with dots in the last segment replaced. */
function keyFor(root: string, path: string): string {
  const rel = relative(root, path).split('\\').join('/');
  const stem = rel.slice(0, rel.length - extname(rel).length);
  const slash = stem.lastIndexOf('/');
  return stem.slice(0, slash + 1) + stem.slice(slash + 1).replace(/\./g, '_');
}

export async function folderToShards(options: FolderToShardsOptions): Promise<FolderShardsResult> {
  formatShardName(options.outPattern, 0); // a bad pattern fails before any work
  let entries;
  try {
    entries = await readdir(options.dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      `cannot read folder ${options.dir}: ${code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : (error as Error).message}`,
    );
  }
  const classes = entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  const ignored = entries.filter((e) => !e.isDirectory() && !e.name.startsWith('.')).map((e) => join(options.dir, e.name));
  if (classes.length === 0) {
    throw new Error(`${options.dir} has no class subfolders: expected ${options.dir}/<class>/<image files>`);
  }
  const files: ImageFile[] = [];
  for (const [classIndex, name] of classes.entries()) {
    for (const path of await listFiles(join(options.dir, name))) {
      if (IMAGE_EXTENSIONS.has(extname(path).toLowerCase())) files.push({ path, classIndex });
      else ignored.push(path);
    }
  }
  if (files.length === 0) throw new Error(`${options.dir}: no .jpg, .jpeg, .png or .webp images in its class subfolders`);
  const seed = options.seed === undefined ? 0 : options.seed;
  if (seed !== null) shuffleInPlace(files, createRng(deriveSeed(seed, 0, 'aim-shards from-folder')));

  const skipped: { path: string; reason: string }[] = [];
  const usedKeys = new Set<string>();
  const writer = new ShardWriter({ pattern: options.outPattern, maxCount: options.maxCount ?? 10_000, maxSize: options.maxSize ?? 3e9 });
  try {
    const loaded = mapOrdered(files, options.concurrency ?? 8, async (file): Promise<LoadedImage> => {
      let bytes: Buffer;
      try {
        bytes = await readFile(file.path);
      } catch (error) {
        return { file, error: `cannot read the file (${(error as Error).message})` };
      }
      try {
        const meta = await sharp(bytes).metadata();
        const ext = meta.format ? FORMAT_EXT[meta.format] : undefined;
        if (!ext) return { file, error: `unsupported image format ${meta.format ?? 'unknown'}` };
        if (!meta.width || !meta.height) return { file, error: 'image has no size' };
        return { file, bytes, ext, width: meta.width, height: meta.height };
      } catch (error) {
        return { file, error: `not a readable image (${(error as Error).message})` };
      }
    });
    let done = 0;
    let written = 0;
    for await (const item of loaded) {
      done++;
      if ('error' in item) {
        if (!options.skipBad) throw new Error(`${item.file.path}: ${item.error} (use --skip-bad to skip such files)`);
        skipped.push({ path: item.file.path, reason: item.error });
        options.onSkip?.(item.file.path, item.error);
        continue;
      }
      let key = keyFor(options.dir, item.file.path);
      for (let n = 2; usedKeys.has(key); n++) key = `${keyFor(options.dir, item.file.path)}_${n}`;
      usedKeys.add(key);
      await writer.write({
        __key__: key,
        [item.ext]: item.bytes,
        cls: item.file.classIndex,
        json: {
          source: relative(options.dir, item.file.path).split('\\').join('/'),
          class: classes[item.file.classIndex],
          label: item.file.classIndex,
          width: item.width,
          height: item.height,
        },
      });
      written++;
      options.onProgress?.(done, files.length);
    }
    return { shards: await writer.close(), samples: written, classes, skipped, ignored };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}
