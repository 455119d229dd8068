// Locates and reads the reference fixtures in <repo root>/fixtures/golden, plus the relative-error measure.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors } from '../src/index.js';

/** <repo root>/fixtures/golden: the repo root is three levels above this file (packages/model/test). */
export const GOLDEN_DIR = fileURLToPath(new URL('../../../fixtures/golden/', import.meta.url));

export function goldenPath(file: string): string {
  const path = `${GOLDEN_DIR}${file}`;
  if (!existsSync(path)) {
    throw new Error(`golden fixture missing: ${path} (it is part of the repository)`);
  }
  return path;
}

/** Every tensor of a fixture file as typed arrays (they are small). */
export async function readGoldenIo(file: string): Promise<Map<string, { shape: number[]; data: Float32Array | Uint8Array }>> {
  const f = await readSafetensors(goldenPath(file));
  try {
    const out = new Map<string, { shape: number[]; data: Float32Array | Uint8Array }>();
    for (const [name, info] of f.tensors) {
      const data = info.dtype === 'BOOL' ? ((await f.read(name)) as Uint8Array) : await f.readFloat32(name);
      out.set(name, { shape: [...info.shape], data });
    }
    return out;
  } finally {
    await f.close();
  }
}

/** Relative error max|a - b| / max|b| (b the reference); shapes must match. */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  if (!Number.isFinite(diff)) return Infinity;
  return diff / (scale === 0 ? 1 : scale);
}

/** Reads a tensor's values and disposes it. */
export async function take(t: tf.Tensor): Promise<Float32Array> {
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}
