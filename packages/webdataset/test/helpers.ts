// Test helpers: temporary folders, collecting async iterables, and comparing samples without their URL.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sample, WritableSample } from '../src/index.js';

export async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'aim-wds-'));
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

/** A sample as plain comparable data: key plus members as plain Uint8Arrays, without `__url__`. */
export function comparable(sample: Sample | WritableSample): Record<string, unknown> {
  const out: Record<string, unknown> = { __key__: sample.__key__ };
  for (const [k, v] of Object.entries(sample)) {
    if (k.startsWith('__')) continue;
    out[k] = v instanceof Uint8Array ? Array.from(v) : v;
  }
  return out;
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
