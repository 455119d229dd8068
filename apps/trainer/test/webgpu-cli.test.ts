// The GPU path as a user runs it, on SwiftShader where there is no GPU: `trainer:train --backend webgpu` for a few
// steps, then `eval:probe --backend webgpu` on its checkpoint. Both exit 0 (no crash at exit) and match their cpu runs.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeEngine, gemmTilesFile, parseGemmTiles } from '@aim/gpu';
import { probeWebGpu, resolveAimConfig, writeSafetensors } from '@aim/model';
import { prepareMnist } from '@aim/shards';

const TRAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const PROBE = fileURLToPath(new URL('../../eval/src/main-probe.ts', import.meta.url));
const FEATURES = fileURLToPath(new URL('../../eval/src/main-features.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const CWD = fileURLToPath(new URL('..', import.meta.url));

const probe = await probeWebGpu({ softwareFallback: true });
if (!probe.adapter && process.env.CI === 'true') throw new Error(`CI=true requires a WebGPU adapter: ${probe.why}`);
if (!probe.adapter) console.warn(`[trainer tests] webgpu CLI not tested: ${probe.why}`);

function run(entry: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@aim/source', '--import', TSX, entry, ...args], { cwd: CWD });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const trainLosses = (runDir: string): number[] =>
  readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"kind":"train"'))
    .map((l) => (JSON.parse(l) as { loss: number }).loss);

const top1 = (stdout: string): number => Number(/top-1 ([\d.]+)%/.exec(stdout)?.[1]);

let dir: string;
let shards: { train: string; val: string };
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aim-webgpu-cli-'));
  shards = await prepareMnist(join(dir, 'cache'), () => {}, { limit: 64 });
});

describe.skipIf(!probe.adapter)('trainer:train and eval:probe with --backend webgpu', { timeout: 600_000 }, () => {
  let common: string[];
  it('train a few steps, probe the checkpoint: exit 0, the same numbers as on cpu', async () => {
    common = [
      '--preset',
      'smoke',
      '--variant',
      'aim-dev-nano',
      '--data',
      shards.train,
      '--val-data',
      shards.val,
      '--batch-size',
      '4',
      '--workers',
      '1',
      '--val-batches',
      '2',
      '--steps',
      '4',
    ];
    const gpu = await run(TRAIN, [...common, '--backend', 'webgpu', '--out', join(dir, 'gpu')]);
    expect(gpu.code, gpu.stderr.slice(-2000)).toBe(0);
    expect(gpu.stderr).toContain('backend: webgpu (webgpu asked for by name: the WebGPU engine');
    // By default without Dawn's bounds checks: a read past a binding returns what lies there (or 0 from a driver's own check).
    expect(gpu.stderr).toMatch(/Dawn's bounds checks off \(a read past a binding: (unchecked|zero)\)/);
    // The default --activations auto reads no GPU memory on a software adapter: the mode that needs least.
    expect(gpu.stderr).toContain("engine: --activations auto: recompute, a software adapter, whose memory is the host's\n");
    const cpu = await run(TRAIN, [...common, '--backend', 'cpu', '--out', join(dir, 'cpu')]);
    expect(cpu.code, cpu.stderr.slice(-2000)).toBe(0);
    const [a, b] = [trainLosses(join(dir, 'gpu')), trainLosses(join(dir, 'cpu'))];
    expect(a).toHaveLength(4);
    a.forEach((loss, i) => expect(Math.abs(loss - b[i]) / b[i], `step ${i + 1}`).toBeLessThan(1e-4));

    const probeArgs = (backend: string) => [
      '--checkpoint',
      join(dir, 'gpu'),
      '--train',
      shards.train,
      '--test',
      shards.val,
      '--train-limit',
      '48',
      '--test-limit',
      '16',
      '--epochs',
      '2',
      '--no-sweep',
      '--no-baselines',
      '--backend',
      backend,
      '--cache-dir',
      join(dir, `cache-${backend}`),
      '--out',
      join(dir, `probe-${backend}`),
    ];
    const probeGpu = await run(PROBE, probeArgs('webgpu'));
    expect(probeGpu.code, probeGpu.stderr.slice(-2000)).toBe(0);
    const probeCpu = await run(PROBE, probeArgs('cpu'));
    expect(probeCpu.code, probeCpu.stderr.slice(-2000)).toBe(0);
    // Features agree to ~1e-7, so the probes trained on them agree to within one test image of 16.
    expect(Math.abs(top1(probeGpu.stdout) - top1(probeCpu.stdout))).toBeLessThanOrEqual(100 / 16);
  });

  it('--gpu-tiles (the bench sweep file), --activations selective and --gpu-bounds-checks on: the same losses and features bit for bit', async () => {
    const defaultRun = join(dir, 'gpu');
    expect(existsSync(join(defaultRun, 'metrics.jsonl')), 'compares with the run of the test above').toBe(true);
    // Not a tile the defaults pick for these small shapes, so the tuned run really runs other kernels.
    const tile = { bm: 32, bn: 64, bk: 8, tm: 2, tn: 4, prefetch: true };
    const keys = [...describeEngine(resolveAimConfig('aim-dev-nano'), { batch: 4 }).gemmShapes.keys()];
    const file = join(dir, 'gemm-tiles.json');
    writeFileSync(file, JSON.stringify(gemmTilesFile(new Map(keys.map((k) => [k, tile])), 'test')));
    // With selective recomputation too: the backward recomputes less, and the run trains to the same bits.
    const tuned = await run(TRAIN, [...common, '--backend', 'webgpu', '--gpu-tiles', file, '--activations', 'selective', '--out', join(dir, 'gpu-tuned')]);
    expect(tuned.code, tuned.stderr.slice(-2000)).toBe(0);
    expect(tuned.stderr).toMatch(
      /engine: [\d.]+ MiB on the GPU \(parameters, gradients, AdamW moments, the GEMMs' outputs; norms, attention probabilities and GELU recomputed/,
    );
    expect(tuned.stderr).toMatch(/engine: --activations at micro-batch 4: recompute [\d.]+ MiB, selective [\d.]+ MiB, keep [\d.]+ MiB/);
    const n = keys.length;
    expect(tuned.stderr).toContain(`engine: tuned tiles for ${n} GEMM shapes from ${file} (tuned on test); ${n} of them occur in this model\n`);
    expect(trainLosses(join(dir, 'gpu-tuned'))).toEqual(trainLosses(defaultRun));

    // eval:features takes the same file (the feature engine's forward GEMMs have the same keys): the same bytes.
    const checkpoints = join(dir, 'gpu-tuned', 'checkpoints');
    const model = join(checkpoints, readdirSync(checkpoints).sort().at(-1)!, 'model.safetensors');
    const input = join(dir, 'input.safetensors');
    await writeSafetensors(input, [{ name: 'input', dtype: 'F32', shape: [3, 3, 16, 16], data: new Float32Array(3 * 3 * 256).map((_, i) => Math.sin(i)) }]);
    const features = (extra: string[], out: string) =>
      run(FEATURES, ['--checkpoint', model, '--input', input, '--out', join(dir, out), '--backend', 'webgpu', ...extra]);
    const plain = await features([], 'features.safetensors');
    expect(plain.code, plain.stderr.slice(-2000)).toBe(0);
    const withTiles = await features(['--gpu-tiles', file], 'features-tuned.safetensors');
    expect(withTiles.code, withTiles.stderr.slice(-2000)).toBe(0);
    // The feature engine runs the trunk's forward only: of the step's shapes, those of the patch embedding, qkv, proj,
    // fc1 and fc2.
    expect(withTiles.stderr).toContain(`engine: tuned tiles for ${n} GEMM shapes from ${file} (tuned on test); 5 of them occur in this model\n`);
    expect(readFileSync(join(dir, 'features-tuned.safetensors')).equals(readFileSync(join(dir, 'features.safetensors')))).toBe(true);

    // With Dawn's bounds checks kept (--gpu-bounds-checks on): the same bytes.
    const checked = await features(['--gpu-bounds-checks', 'on'], 'features-checked.safetensors');
    expect(checked.code, checked.stderr.slice(-2000)).toBe(0);
    expect(checked.stderr).toContain("Dawn's bounds checks on (a read past a binding: clamped)");
    expect(readFileSync(join(dir, 'features-checked.safetensors')).equals(readFileSync(join(dir, 'features.safetensors')))).toBe(true);
  });
  it('--gpu-tiles auto: tunes on the device once, keeps the tiles per adapter, and computes the same bit for bit', async () => {
    const defaultRun = join(dir, 'gpu');
    expect(existsSync(join(defaultRun, 'metrics.jsonl')), 'compares with the run of the first test').toBe(true);
    const cacheDir = join(dir, 'cache-auto');
    const auto = (out: string) => run(TRAIN, [...common, '--backend', 'webgpu', '--gpu-tiles', 'auto', '--cache-dir', cacheDir, '--out', join(dir, out)]);
    const keys = [...describeEngine(resolveAimConfig('aim-dev-nano'), { batch: 4 }).gemmShapes.keys()];

    const first = await auto('gpu-auto');
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    expect(first.stderr).toContain(`--gpu-tiles auto: tuning ${keys.length} of this model's ${keys.length} GEMMs among 2 tiles on `);
    const [folder] = readdirSync(join(cacheDir, 'gpu-tiles'));
    const kept = join(cacheDir, 'gpu-tiles', folder);
    const file = parseGemmTiles(JSON.parse(readFileSync(kept, 'utf8')), kept);
    expect([...file.tiles.keys()].sort()).toEqual([...keys].sort());
    expect(first.stderr).toContain(`engine: GEMM tiles tuned on this device for ${keys.length} of its GEMMs (--gpu-tiles auto, kept in ${kept})`);
    expect(trainLosses(join(dir, 'gpu-auto'))).toEqual(trainLosses(defaultRun));

    // The next run reads the kept tiles instead of tuning: the same losses again.
    const second = await auto('gpu-auto-again');
    expect(second.code, second.stderr.slice(-2000)).toBe(0);
    expect(second.stderr).toContain(`--gpu-tiles auto: the ${keys.length} GEMMs of this model were tuned on this adapter before (${kept})`);
    expect(second.stderr).not.toContain('tuning');
    expect(trainLosses(join(dir, 'gpu-auto-again'))).toEqual(trainLosses(defaultRun));

    // eval:features with the same cache folder: the trunk's GEMMs are among the step's, so it tunes nothing; the same bytes.
    expect(existsSync(join(dir, 'input.safetensors')), 'the input the test above wrote').toBe(true);
    const checkpoints = join(dir, 'gpu-auto', 'checkpoints');
    const model = join(checkpoints, readdirSync(checkpoints).sort().at(-1)!, 'model.safetensors');
    const features = (extra: string[], out: string) =>
      run(FEATURES, ['--checkpoint', model, '--input', join(dir, 'input.safetensors'), '--out', join(dir, out), '--backend', 'webgpu', ...extra]);
    const plain = await features([], 'features-auto-plain.safetensors');
    expect(plain.code, plain.stderr.slice(-2000)).toBe(0);
    const tuned = await features(['--gpu-tiles', 'auto', '--cache-dir', cacheDir], 'features-auto.safetensors');
    expect(tuned.code, tuned.stderr.slice(-2000)).toBe(0);
    expect(tuned.stderr).toContain(`--gpu-tiles auto: the 5 GEMMs of this model were tuned on this adapter before (${kept})`);
    expect(tuned.stderr).toContain(`engine: GEMM tiles tuned on this device for 5 of its GEMMs (--gpu-tiles auto, kept in ${kept})`);
    expect(readFileSync(join(dir, 'features-auto.safetensors')).equals(readFileSync(join(dir, 'features-auto-plain.safetensors')))).toBe(true);
  });
});
