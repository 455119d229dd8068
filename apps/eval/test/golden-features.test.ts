// eval:features on apple/ml-aim's reference fixtures: every block's features and the probe logits at 1e-5.
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

function relError(actual: Float32Array, expected: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

describe('eval:features on the golden fixtures (cpu backend)', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('reproduces features.i for every block and the probe logits to 1e-5', async () => {
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
        expect(relError(got.get(name)!.data, want.get(name)!.data), name).toBeLessThan(1e-5);
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
      await expect(featuresCommand({ checkpoint: weights, input: weights, out: join(dir, 'x.safetensors') })).rejects.toThrow(
        /no tensor named 'input'/,
      );
      await expect(featuresCommand({ checkpoint: join(dir, 'none.safetensors'), input: weights, out: join(dir, 'x.safetensors') })).rejects.toThrow(
        /none\.safetensors/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
