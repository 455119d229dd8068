// Tuning an engine program's GEMM tiles on the device (what --gpu-tiles auto runs): every GEMM of the program gets a
// tile, chosen among the candidates that computed the reference product and the tile it would have without tuning;
// a candidate the device cannot run or that computes a wrong product is left out, saying why.
import { describe, expect, it } from 'vitest';
import { resolveAimConfig } from '@aim/model';
import { GEMM_TILES, type GemmTile, describeEngine, gemmRates, tileName, tuneGemmTiles } from '../src/index.js';
import { gpuUnavailable, testDevice } from './device.js';

const program = describeEngine(resolveAimConfig('aim-dev-nano'), { batch: 2 });
const A: GemmTile = { bm: 32, bn: 64, bk: 8, tm: 2, tn: 4, prefetch: true };
const B: GemmTile = { bm: 64, bn: 32, bk: 16, tm: 4, tn: 2 };

it("the program lists each unbatched GEMM once, by its tile key, at the program's batch", () => {
  const shapes = [...program.gemmShapes.values()];
  expect(shapes.length).toBeGreaterThanOrEqual(6);
  for (const [key, s] of program.gemmShapes) expect(s.label).toBe(key);
  // The trunk's qkv projection: tokens x 3 width from width, tokens = batch x patches.
  const { width } = program.config;
  expect(program.gemmShapes.get(`NN n${3 * width} k${width}`)?.m).toBe(2 * 16);
});

describe.skipIf(gpuUnavailable)('tuneGemmTiles on the device', () => {
  it('gives every GEMM a checked candidate or its untuned tile, and leaves out a tile the device cannot run', async () => {
    const device = await testDevice();
    const tooBig: GemmTile = { bm: 256, bn: 256, bk: 64, tm: 16, tn: 16 };
    const lines: string[] = [];
    const tuning = await tuneGemmTiles(device, program.gemmShapes.values(), {
      candidates: [A, B, tooBig],
      smallChecks: true,
      seconds: 0.01,
      log: (l) => lines.push(l),
    });
    expect(tuning.rejected.map((r) => r.tile)).toEqual([tooBig]);
    expect(tuning.rejected[0].why).toMatch(/workgroup memory/);
    expect(lines.some((l) => l.includes(tileName(tooBig)) && l.includes('left out'))).toBe(true);
    expect([...tuning.tiles.keys()].sort()).toEqual([...program.gemmShapes.keys()].sort());
    const allowed = [A, B, GEMM_TILES.large, GEMM_TILES.medium, GEMM_TILES.small];
    for (const [key, tile] of tuning.tiles) {
      expect(allowed, key).toContain(tile);
      const mine = tuning.rates.filter((r) => r.key === key && Number.isFinite(r.tflops));
      // The chosen tile is the fastest one timed on this GEMM.
      expect(mine.find((r) => r.tile === tile)?.tflops).toBe(Math.max(...mine.map((r) => r.tflops)));
    }
    expect(tuning.rates.every((r) => r.tflops > 0)).toBe(true);
  });

  it('a candidate that fails the reference check is never timed nor chosen', async () => {
    const device = await testDevice();
    // Rows not a multiple of its thread block: the kernel cannot be built, so the check fails it, saying why
    // (test/tile-check.test.ts shows the check failing a wrong product).
    const broken = { ...A, tm: 3 } as GemmTile;
    const tuning = await tuneGemmTiles(device, program.gemmShapes.values(), { candidates: [A, broken], smallChecks: true, seconds: 0.01 });
    expect(tuning.rejected.map((r) => r.tile)).toEqual([broken]);
    expect(tuning.rejected[0].why).toMatch(/not valid/);
    expect(tuning.rates.some((r) => r.tile === broken)).toBe(false);
  });

  it('gemmRates times each tile on the same operands, and one Dawn refuses rates NaN without losing the others', async () => {
    const device = await testDevice();
    const shape = { label: 'NN', m: 64, n: 96, k: 40 };
    const refused = { bm: 256, bn: 256, bk: 64, tm: 16, tn: 16 };
    const [a, bad, b] = await gemmRates(device, shape, [A, refused, B], 0.01);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect(bad).toBeNaN();
  });
});
