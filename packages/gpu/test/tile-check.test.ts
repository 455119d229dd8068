// The sweep's correctness gate (src/tile-check.ts): a tile that computes the product passes, and a product that
// differs from the reference is caught and named.
import { describe, expect, it } from 'vitest';
import { GEMM_TILES } from '../src/kernels/gemm.js';
import { TILE_CHECK_TOLERANCE, checkTile, tileCheckCases, tileError } from '../src/tile-check.js';
import { gpuUnavailable, testDevice } from './device.js';

describe.skipIf(gpuUnavailable !== undefined)('tileError', () => {
  it('passes a correct tile on every layout and shape, and names the case a wrong product fails on', async () => {
    const device = await testDevice();
    const cases = tileCheckCases(true);
    expect(cases.map((c) => c.label)).toEqual([
      'NN 2 x 72x60x41',
      'NT 2 x 72x60x41',
      'TN 2 x 72x60x41',
      'NN 2 x 72x60x44',
      'NT 2 x 72x60x44',
      'TN 2 x 72x60x44',
    ]);
    const right = await tileError(device, { ...GEMM_TILES.large, vec4: true, vec4Loads: true }, cases);
    expect(right.error).toBeLessThanOrEqual(TILE_CHECK_TOLERANCE);
    // One output off by a tenth of the product's scale in the fifth case, as a tile with a race would be.
    const want = cases[4].want.slice();
    want[1234] += 0.1 * Math.max(...Array.from(want, Math.abs));
    const wrong = await tileError(
      device,
      GEMM_TILES.large,
      cases.map((c, i) => (i === 4 ? { ...c, want } : c)),
    );
    expect(wrong.error).toBeGreaterThan(TILE_CHECK_TOLERANCE);
    expect(wrong.on).toBe('NT 2 x 72x60x44');
  });

  it('checkTile checks a tile once per device (the sweep and the tuning after it share the result)', async () => {
    const device = await testDevice();
    const first = checkTile(device, GEMM_TILES.medium, true);
    expect(checkTile(device, { ...GEMM_TILES.medium }, true)).toBe(first);
    expect((await first).error).toBeLessThanOrEqual(TILE_CHECK_TOLERANCE);
  });
});
