// The apple/ml-aim parity fixtures in <repo root>/fixtures/golden, read as typed arrays (see packages/model/test/golden.ts).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '@aim/model';

/** <repo root>/fixtures/golden: three levels above this file (packages/gpu/test). */
export const GOLDEN_DIR = fileURLToPath(new URL('../../../fixtures/golden/', import.meta.url));

export function goldenPath(file: string): string {
  const path = `${GOLDEN_DIR}${file}`;
  if (!existsSync(path)) throw new Error(`golden fixture missing: ${path} (it is part of the repository)`);
  return path;
}

export interface GoldenTensor {
  shape: number[];
  data: Float32Array | Uint8Array;
}

/** Every tensor of a fixture file (they are small); BOOL tensors as Uint8Array, the rest as float32. */
export async function readGoldenIo(file: string): Promise<Map<string, GoldenTensor>> {
  const f = await readSafetensors(goldenPath(file));
  try {
    const out = new Map<string, GoldenTensor>();
    for (const [name, info] of f.tensors) {
      const data = info.dtype === 'BOOL' ? ((await f.read(name)) as Uint8Array) : await f.readFloat32(name);
      out.set(name, { shape: [...info.shape], data });
    }
    return out;
  } finally {
    await f.close();
  }
}

export function tensor(io: Map<string, GoldenTensor>, name: string): { shape: number[]; data: Float32Array } {
  const t = io.get(name);
  if (t === undefined) throw new Error(`golden io has no tensor '${name}'`);
  if (!(t.data instanceof Float32Array)) throw new Error(`golden tensor '${name}' is not float`);
  return t as { shape: number[]; data: Float32Array };
}
