// Locates and reads the reference fixtures in <repo root>/fixtures/golden, plus the relative-error measure.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as tf from '@tensorflow/tfjs-core';
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
  return parityError(actual, expected).maxRel;
}

/** Entries whose magnitude is at least this fraction of max|b| count for the elementwise check. */
export const ELEMENT_FLOOR = 0.1;

export interface ParityError {
  /** max|a - b| / max|b|. */
  maxRel: number;
  /** max |a_i - b_i| / |b_i| over the entries with |b_i| >= ELEMENT_FLOOR * max|b| (0 when there are none). */
  elemRel: number;
  /** Where elemRel is reached (-1 when no entry counts). */
  elemIndex: number;
}

/** Both parity measures of `actual` against the reference `expected`; non-finite values give Infinity. */
export function parityError(actual: ArrayLike<number>, expected: ArrayLike<number>): ParityError {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  const floor = ELEMENT_FLOOR * scale;
  let elemRel = 0;
  let elemIndex = -1;
  for (let i = 0; i < expected.length; i++) {
    const b = Math.abs(expected[i]);
    if (b === 0 || b < floor) continue;
    const e = Math.abs(actual[i] - expected[i]) / b;
    if (!(e <= elemRel)) {
      elemRel = Number.isNaN(e) ? Infinity : e;
      elemIndex = i;
    }
  }
  const maxRel = Number.isFinite(diff) ? diff / (scale === 0 ? 1 : scale) : Infinity;
  return { maxRel, elemRel, elemIndex };
}

/** Reads a tensor's values and disposes it. */
export async function take(t: tf.Tensor): Promise<Float32Array> {
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}
