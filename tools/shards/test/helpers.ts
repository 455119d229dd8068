// Test helpers: temporary folders, IDX writers, and captured CLI output.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { CliIo } from '../src/index.js';

export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'aim-shards-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Encode a ubyte IDX file with the given dims. */
export function idxBytes(dims: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/** Write a tiny MNIST-like pair of IDX files (optionally gzip) and return their paths and contents. */
export async function writeIdxPair(dir: string, count: number, rows: number, cols: number, gzip: boolean) {
  const pixels = new Uint8Array(count * rows * cols).map((_, i) => (i * 37 + (i >> 5)) & 255);
  const labels = new Uint8Array(count).map((_, i) => (i * 3) % 10);
  const suffix = gzip ? '.gz' : '';
  const images = join(dir, `images-idx3-ubyte${suffix}`);
  const labelsPath = join(dir, `labels-idx1-ubyte${suffix}`);
  const enc = (b: Uint8Array) => (gzip ? gzipSync(b) : b);
  await writeFile(images, enc(idxBytes([count, rows, cols], pixels)));
  await writeFile(labelsPath, enc(idxBytes([count], labels)));
  return { images, labels: labelsPath, pixels, labelValues: labels };
}

/** CLI streams that record what was written. */
export function captureIo(): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    out: () => out,
    err: () => err,
  };
}
