// --gpu-tiles auto as the trainer and the eval app use it (openGpuTiles): the adapter's file under the cache folder
// holds every GEMM tuned so far; a run tunes only the GEMMs the file lacks and adds them; a damaged file is tuned anew
// and replaced, and the run goes on. (The CLI runs, with the same losses as untuned, are in apps/trainer's tests.)
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GemmShape, engineDawnFlags, parseGemmTiles, requestEngineDevice } from '@aim/gpu';
import { probeWebGpu, vettedWebGpuAdapter } from '@aim/model';
import { type EngineDevice, openGpuTiles } from '../src/index.js';

const probe = await probeWebGpu({ softwareFallback: true, dawnFlags: engineDawnFlags() });
if (!probe.adapter && process.env.CI === 'true') throw new Error(`CI=true requires a WebGPU adapter: ${probe.why}`);
if (!probe.adapter) console.warn(`[train tests] --gpu-tiles auto not tested: ${probe.why}`);

const shape = (m: number, n: number, k: number, transB = false): [string, GemmShape] => {
  const label = `${transB ? 'NT' : 'NN'} n${n} k${k}`;
  return [label, { label, m, n, k, transB }];
};
const QKV = shape(32, 96, 32);
const FC2_DX = shape(32, 128, 32, true);

let on: EngineDevice;
beforeAll(async () => {
  if (!probe.adapter) return;
  on = { device: await requestEngineDevice(vettedWebGpuAdapter()!), adapter: 'test adapter: one/two', software: true };
});
afterAll(() => on?.device.destroy());

describe.skipIf(!probe.adapter)('--gpu-tiles auto', { timeout: 300_000 }, () => {
  it("tunes only the GEMMs the adapter's file lacks, adds them, and reads them back in the next run", async () => {
    const cache = mkdtempSync(join(tmpdir(), 'aim-gpu-tiles-'));
    const lines: string[] = [];
    const first = await openGpuTiles('auto', cache, (l) => lines.push(l))!.tilesFor(on, new Map([QKV]));
    expect([...first.keys()]).toEqual([QKV[0]]);
    // The adapter's name, made a file name.
    expect(readdirSync(join(cache, 'gpu-tiles'))).toEqual(['test-adapter-one-two.json']);
    const path = join(cache, 'gpu-tiles', 'test-adapter-one-two.json');
    expect(lines[0]).toBe(
      "--gpu-tiles auto: tuning 1 of this model's 1 GEMMs among 2 tiles on test adapter: one/two (a software adapter: a rehearsal among the first tiles; its timings say nothing of a GPU)",
    );
    expect(lines.at(-1)).toMatch(new RegExp(`^--gpu-tiles auto: tuned in [\\d.]+ s; kept in ${path} for the next run on this adapter$`));

    lines.length = 0;
    const second = await openGpuTiles('auto', cache, (l) => lines.push(l))!.tilesFor(on, new Map([QKV, FC2_DX]));
    expect(lines[0]).toContain("tuning 1 of this model's 2 GEMMs");
    expect(second.get(QKV[0])).toEqual(first.get(QKV[0]));
    const kept = parseGemmTiles(JSON.parse(readFileSync(path, 'utf8')), path);
    expect(kept.adapter).toBe('test adapter: one/two');
    expect([...kept.tiles.keys()].sort()).toEqual([FC2_DX[0], QKV[0]].sort());

    lines.length = 0;
    const third = await openGpuTiles('auto', cache, (l) => lines.push(l))!.tilesFor(on, new Map([FC2_DX]));
    expect(lines).toEqual([`--gpu-tiles auto: the 1 GEMMs of this model were tuned on this adapter before (${path})`]);
    // Only this model's GEMMs reach its engine.
    expect([...third.keys()]).toEqual([FC2_DX[0]]);
  });

  it('a damaged file is tuned anew and replaced, saying why', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'aim-gpu-tiles-'));
    await openGpuTiles('auto', cache, () => {})!.tilesFor(on, new Map([QKV]));
    const path = join(cache, 'gpu-tiles', 'test-adapter-one-two.json');
    writeFileSync(path, '{"format": "aim-gemm-tiles/1", "tiles": ');
    const lines: string[] = [];
    const tiles = await openGpuTiles('auto', cache, (l) => lines.push(l))!.tilesFor(on, new Map([QKV]));
    expect(lines[0]).toMatch(new RegExp(`^--gpu-tiles auto: ${path}: not JSON .*; tuning anew$`));
    expect(tiles.size).toBe(1);
    expect(parseGemmTiles(JSON.parse(readFileSync(path, 'utf8')), path).tiles.size).toBe(1);
  });
});

it('a file is read and checked at once; without an engine the flag says it is not used', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aim-gpu-tiles-'));
  expect(() => openGpuTiles('atuo', dir, () => {})).toThrow("--gpu-tiles atuo: cannot read it (ENOENT): it takes 'auto' or a file of tuned tiles");
  expect(openGpuTiles('', dir, () => {})).toBeUndefined();
  expect(openGpuTiles('auto', dir, () => {})!.unusedLine()).toBe('--gpu-tiles auto: not used (the WebGPU engine is not computing)');
});
