// eval:features on apple/ml-aim's reference fixtures: every block's features and the probe logits, under the model
// package's parity gates (packages/model/test/backends.ts): max|a-b|/max|b| <= 1e-6 and, on entries with
// |b| >= 0.1 max|b|, |a-b|/|b| <= 5e-6.
import { describe, expect, it, beforeAll } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, selectBackend } from '@aim/model';
import { featuresCommand } from '../src/features-command.js';

/** <repo root>/fixtures/golden. */
const GOLDEN_DIR = fileURLToPath(new URL('../../../fixtures/golden/', import.meta.url));

function golden(file: string): string {
  const path = join(GOLDEN_DIR, file);
  if (!existsSync(path)) throw new Error(`golden fixture missing: ${path} (it is part of the repository)`);
  return path;
}

async function readAll(path: string): Promise<Map<string, { shape: readonly number[]; data: Float32Array }>> {
  const f = await readSafetensors(path);
  try {
    const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [name, info] of f.tensors) if (info.dtype === 'F32') out.set(name, { shape: info.shape, data: await f.readFloat32(name) });
    return out;
  } finally {
    await f.close();
  }
}

const REL_TOL = 1e-6;
const ELEM_TOL = 5e-6;

/** max|a-b|/max|b| and the largest |a_i-b_i|/|b_i| over entries with |b_i| >= 0.1 max|b| (NaN counts as Infinity). */
function parityError(actual: Float32Array, expected: Float32Array): { maxRel: number; elemRel: number } {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  let elemRel = 0;
  for (let i = 0; i < expected.length; i++) {
    const b = Math.abs(expected[i]);
    if (b === 0 || b < 0.1 * scale) continue;
    const e = Math.abs(actual[i] - expected[i]) / b;
    elemRel = Number.isNaN(e) ? Infinity : Math.max(elemRel, e);
  }
  return { maxRel: diff / Math.max(scale, 1e-12), elemRel };
}

describe.each(['cpu', 'wasm'] as const)('eval:features on the golden fixtures (%s backend)', (backend) => {
  beforeAll(async () => {
    await selectBackend(backend);
  });

  it(`reproduces features.i for every block and the probe logits (rel <= ${REL_TOL}, elementwise <= ${ELEM_TOL})`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eval-features-'));
    try {
      const out = join(dir, 'features.safetensors');
      const io = golden('aim-golden-small.io.safetensors');
      const names = await featuresCommand({ checkpoint: golden('aim-golden-small.weights.safetensors'), input: io, out });
      expect(names).toEqual(['features.0', 'features.1', 'features.2', 'logits']);
      const got = await readAll(out);
      const want = await readAll(io);
      for (const name of names) {
        expect(got.get(name)!.shape, name).toEqual(want.get(name)!.shape);
        const err = parityError(got.get(name)!.data, want.get(name)!.data);
        expect(err.maxRel, `${name}: max|a-b|/max|b|`).toBeLessThanOrEqual(REL_TOL);
        expect(err.elemRel, `${name}: elementwise`).toBeLessThanOrEqual(ELEM_TOL);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the problem when the input tensor is missing or has the wrong size', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eval-features-'));
    try {
      const weights = golden('aim-golden-small.weights.safetensors');
      // The weights file has no 'input' tensor.
      await expect(featuresCommand({ checkpoint: weights, input: weights, out: join(dir, 'x.safetensors') })).rejects.toThrow(/no tensor named 'input'/);
      await expect(featuresCommand({ checkpoint: join(dir, 'none.safetensors'), input: weights, out: join(dir, 'x.safetensors') })).rejects.toThrow(
        /none\.safetensors/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
