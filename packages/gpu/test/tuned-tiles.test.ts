// Tuned GEMM tiles (the benchmark's per-shape sweep, keyed by gemmTileKey): every unbatched GEMM of the step whose
// key is in the map runs with that tile, attention's batched GEMMs keep theirs, and the step computes the same.
import { describe, expect, it } from 'vitest';
import { numPatches, patchDim, resolveAimConfig } from '@aim/model';
import { AimEngine, type GemmTile, describeEngine, gemmTileKey, gemmTilesFile, parseGemmTiles } from '../src/index.js';
import { gpuUnavailable, testDevice } from './device.js';

const config = resolveAimConfig('aim-dev-tiny');
const batch = 2;
const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05, clipNorm: 1 };
const ceilDiv = (a: number, b: number) => Math.ceil(a / b);
// Neither of the tiles the default picks for these small shapes, so a tuned GEMM is told apart by its grid.
const TUNED: GemmTile = { bm: 32, bn: 64, bk: 8, tm: 2, tn: 4, prefetch: true };
/** A tuned tile that reads its operands as vec4s (the arena's offsets and the model's widths allow it). */
const TUNED_VEC4: GemmTile = { bm: 32, bn: 64, bk: 16, tm: 4, tn: 8, prefetch: true, vec4: true, vec4Loads: true };
const everyUnbatched = (tile = TUNED) =>
  new Map(
    gemms()
      .filter((g) => g.workgroups[2] === 1)
      .map((g) => [g.key, tile] as const),
  );

/** The step's GEMM dispatches as (key, m, n, workgroups), read from the described program. */
function gemms(tiles?: ReadonlyMap<string, GemmTile>) {
  const program = describeEngine(config, { batch, gemmTiles: tiles });
  return program.pb.dispatches
    .filter((d) => /^gemm[NT]{2}$/.test(d.kernel.name))
    .map((d) => {
      const [m, n, k] = d.params;
      const key = gemmTileKey({ m, n, k, transA: d.kernel.name[4] === 'T', transB: d.kernel.name[5] === 'T' });
      return { key, m, n, workgroups: d.workgroups };
    });
}

it('gemmTileKey keeps the dimensions that do not grow with the batch', () => {
  expect(gemmTileKey({ m: 512, n: 192, k: 64 })).toBe('NN n192 k64');
  expect(gemmTileKey({ m: 1024, n: 192, k: 64 })).toBe('NN n192 k64');
  expect(gemmTileKey({ m: 512, n: 256, k: 64, transB: true })).toBe('NT n256 k64');
  expect(gemmTileKey({ m: 64, n: 256, k: 512, transA: true })).toBe('TN m64 n256');
});

it('every unbatched GEMM whose key is tuned runs with its tile; the batched ones do not', () => {
  const tuned = everyUnbatched();
  expect(tuned.size).toBeGreaterThan(3);
  let unbatched = 0;
  let changed = 0;
  const before = gemms();
  for (const [i, g] of gemms(tuned).entries()) {
    if (g.workgroups[2] !== 1) continue;
    unbatched++;
    expect(g.workgroups, g.key).toEqual([ceilDiv(g.n, TUNED.bn), ceilDiv(g.m, TUNED.bm), 1]);
    if (before[i].workgroups[0] !== g.workgroups[0] || before[i].workgroups[1] !== g.workgroups[1]) changed++;
  }
  expect(unbatched).toBeGreaterThan(10);
  expect(changed).toBeGreaterThan(unbatched / 2);
  // Attention's batched GEMMs are left to the default choice.
  const batched = (tiles?: ReadonlyMap<string, GemmTile>) =>
    gemms(tiles)
      .filter((g) => g.workgroups[2] > 1)
      .map((g) => g.workgroups);
  expect(batched(tuned)).toEqual(batched());
});

it('the program lists the tuned keys its GEMMs use: none from a file tuned on another model', () => {
  const tuned = everyUnbatched();
  expect(describeEngine(config, { batch, gemmTiles: tuned }).tunedTileKeys).toEqual(new Set(tuned.keys()));
  const other = new Map([['NN n4096 k1024', TUNED] as const]);
  expect(describeEngine(config, { batch, gemmTiles: other }).tunedTileKeys.size).toBe(0);
});

describe.skipIf(gpuUnavailable !== undefined)('a step with tuned tiles', () => {
  it('gives the loss and gradients of the default tiles (scalar and vec4-loading tuned tiles)', async () => {
    const device = await testDevice();
    const vec4Loading = (tiles: ReadonlyMap<string, GemmTile>) =>
      describeEngine(config, { batch, gemmTiles: tiles }).pb.dispatches.filter((d) => d.kernel.code.includes('A: array<vec4<f32>>')).length;
    expect(vec4Loading(everyUnbatched())).toBe(0);
    expect(vec4Loading(everyUnbatched(TUNED_VEC4))).toBeGreaterThan(10);
    const micro = {
      patches: new Float32Array(batch * numPatches(config) * patchDim(config)).map((_, i) => Math.sin(i * 0.37)),
      prefixLengths: Int32Array.from([1, 15]),
    };
    const run = async (gemmTiles?: ReadonlyMap<string, GemmTile>) => {
      const engine = await AimEngine.create(device, config, { batch, gemmTiles });
      try {
        const initial = new Map([...(await engine.readParameters())].map(([name, v]) => [name, v.map((_, i) => 0.05 * Math.cos(i + name.length))]));
        engine.setParameters(initial);
        const stats = await engine.step([micro], { ...hyper, lr: 0 });
        return { loss: stats.loss, grads: await engine.readGradients() };
      } finally {
        await engine.destroy();
      }
    };
    const a = await run();
    for (const tile of [TUNED, TUNED_VEC4]) {
      const b = await run(everyUnbatched(tile));
      expect(Math.abs(a.loss - b.loss) / Math.abs(a.loss)).toBeLessThan(1e-5);
      let worst = 0;
      for (const [name, g] of a.grads) {
        const h = b.grads.get(name)!;
        const scale = Math.max(...Array.from(g, Math.abs), 1e-12);
        for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - h[i]) / scale);
      }
      expect(worst).toBeLessThan(1e-4);
    }
  }, 300_000);
});

describe('the tuned-tiles file (bench --tiles-out, trainer --gpu-tiles)', () => {
  const tiles = new Map<string, GemmTile>([
    ['NN n192 k64', TUNED],
    ['TN m64 n256', { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, prefetch: true, vec4: true, doubleBuffer: true, vec4Loads: true }],
  ]);
  const written = () => JSON.parse(JSON.stringify(gemmTilesFile(tiles, 'nvidia / hopper'))) as Record<string, unknown>;

  it('reads back what the bench writes', () => {
    expect(parseGemmTiles(written(), 'tiles.json')).toEqual({ adapter: 'nvidia / hopper', tiles });
  });

  it('names the file, the tile and what is wrong', () => {
    const withTile = (key: string, tile: unknown) => ({ ...written(), tiles: { [key]: tile } });
    expect(() => parseGemmTiles({ tiles: {} }, 'a.json')).toThrow(/^a\.json: not a GEMM tiles file \(expected "format": "aim-gemm-tiles\/1"\)$/);
    expect(() => parseGemmTiles(withTile('NN 192 64', TUNED), 'a.json')).toThrow(/a\.json: tile "NN 192 64": the key must look like/);
    expect(() => parseGemmTiles(withTile('NN n192 k64', { ...TUNED, bk: 0 }), 'a.json')).toThrow(/tile "NN n192 k64": bk must be a positive integer, got 0/);
    expect(() => parseGemmTiles(withTile('NN n192 k64', { ...TUNED, vec4: 'yes' }), 'a.json')).toThrow(/vec4 must be true or false/);
    expect(() => parseGemmTiles(withTile('NN n192 k64', { ...TUNED, bq: 3 }), 'a.json')).toThrow(/unknown field\(s\) bq/);
    expect(() => parseGemmTiles(withTile('NN n192 k64', { ...TUNED, tm: 5 }), 'a.json')).toThrow(/tile "NN n192 k64": GEMM tile .* is not valid/);
  });
});
