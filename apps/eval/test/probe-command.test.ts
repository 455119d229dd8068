// eval:probe end to end on tiny synthetic shards with the nano variant: random-init mode, a run folder with
// several checkpoints (loss vs accuracy, sweep, baselines), and the feature cache on a second run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAim, readSafetensors, saveAimCheckpoint, selectBackend, writeSafetensors } from '@aim/model';
import { TRANSFORM_REVISION } from '@aim/data';
import { FeatureCache, fileSha256 } from '../src/cache.js';
import { CLASS_NAMES_METADATA_KEY } from '../src/class-names.js';
import { featuresCommand } from '../src/features-command.js';
import { parseProbeArgs } from '../src/cli-args.js';
import { probeCommand } from '../src/probe-command.js';
import { SYNTHETIC_CLASSES, writeSyntheticShards } from './synthetic-shards.js';

let dir: string;
let train: string;
let test: string;

beforeAll(async () => {
  await selectBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'eval-probe-'));
  train = await writeSyntheticShards(dir, 'train', 96, 1);
  test = await writeSyntheticShards(dir, 'test', 40, 2);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const passthrough = async (spec: string) => spec;
const common = (out: string) => [
  '--train',
  train,
  '--test',
  test,
  '--out',
  out,
  '--cache-dir',
  join(dir, 'cache'),
  '--epochs',
  '4',
  '--batch-size',
  '16',
  '--lr',
  '1e-2',
];

async function fakeRun(): Promise<string> {
  const run = join(dir, 'run');
  const metrics: string[] = [];
  for (const [i, step] of [100, 200].entries()) {
    const ck = join(run, 'checkpoints', `step-${String(step).padStart(8, '0')}`);
    await mkdir(ck, { recursive: true });
    const model = createAim('aim-dev-nano', {}, { seed: 10 + i, pretrainHead: false });
    await saveAimCheckpoint(join(ck, 'model.safetensors'), { model });
    model.dispose();
    await writeFile(join(ck, 'state.json'), JSON.stringify({ step }));
    metrics.push(JSON.stringify({ kind: 'val', step, loss: 1 - i * 0.25, images: 8 }));
  }
  await writeFile(join(run, 'metrics.jsonl'), metrics.join('\n') + '\n');
  return run;
}

describe('probeCommand', () => {
  it('probes a random-init trunk and writes report.json with the raw-pixel baseline', async () => {
    const out = join(dir, 'out-random');
    const args = parseProbeArgs(['--random-init', '--variant', 'aim-dev-nano', '--probe', 'linear', '--no-sweep', ...common(out)]);
    const { report } = await probeCommand(args, { resolveData: passthrough, log: () => {}, workers: 1 });
    expect(report.checkpoint).toBe('random-init:aim-dev-nano');
    expect(report.blocks).toEqual([0, 1]);
    expect(report.numSamples).toBe(40);
    expect(report.confusion).toHaveLength(SYNTHETIC_CLASSES);
    expect(report.baselines.map((b) => b.name)).toEqual(['raw pixels (normalised input)']);
    // The classes are visible in the pixels: the raw-pixel linear probe is far above chance.
    expect(report.baselines[0].top1).toBeGreaterThan(0.8);
    const json = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    for (const key of ['top1', 'top5', 'probe', 'blocks', 'checkpoint', 'recipe', 'perClass', 'confusion']) expect(json).toHaveProperty(key);
  });

  it('probes every checkpoint of a run, sweeps blocks, adds the random-init baseline, and reuses cached features', async () => {
    const run = await fakeRun();
    const out = join(dir, 'out-run');
    const names = Array.from({ length: SYNTHETIC_CLASSES }, (_, i) => `shape ${i}`);
    const args = parseProbeArgs(['--checkpoint', run, '--probe', 'attentive', '--blocks', 'last', '--class-names', names.join(','), ...common(out)]);
    const lines: string[] = [];
    const { report, files } = await probeCommand(args, { resolveData: passthrough, log: (l) => lines.push(l), workers: 1 });
    expect(report.checkpoints.map((c) => [c.step, c.valLoss])).toEqual([
      [100, 1],
      [200, 0.75],
    ]);
    expect(report.checkpoint).toContain('step-00000200');
    expect(report.blockSweep!.points.map((p) => p.block)).toEqual([0, 1]);
    expect(report.baselines.map((b) => b.name)).toEqual(['random-init trunk (same shape, untrained)', 'raw pixels (normalised input)']);
    expect(report.recipe).toMatchObject({ optimizer: 'AdamW', epochs: 4, batchSize: 16 });
    expect(report.top1).toBeGreaterThan(1 / SYNTHETIC_CLASSES);
    expect(files.map((f) => f.slice(out.length + 1)).sort()).toEqual([
      'block-sweep.svg',
      'confusion.svg',
      'loss-vs-accuracy.svg',
      'probe.safetensors',
      'report.json',
      'report.md',
    ]);
    // The class names reach the report (and its confusion matrix) and the probe file the browser page reads.
    expect(report.classNames).toEqual(names);
    const saved = await readSafetensors(join(out, 'probe.safetensors'));
    expect(JSON.parse(saved.metadata[CLASS_NAMES_METADATA_KEY])).toEqual(names);
    await saved.close();
    // The saved trunk + attentive probe gives logits through eval:features.
    const input = join(dir, 'input.safetensors');
    await writeSafetensors(input, [{ name: 'input', dtype: 'F32', shape: [2, 3, 16, 16], data: new Float32Array(2 * 3 * 16 * 16).fill(0.5) }]);
    const written = await featuresCommand({ checkpoint: join(out, 'probe.safetensors'), input, out: join(dir, 'f.safetensors') });
    expect(written).toEqual(['features.0', 'features.1', 'logits']);
    // One trunk pass per checkpoint and split for the probe's blocks together, and one per split for the sweep's single
    // blocks together (the random-init baseline's features are in the cache since the test above).
    const passes = lines.filter((l) => l.includes('extracting')).map((l) => l.replace(/ of .* on /, ' on ').trim());
    expect(passes.sort()).toEqual([
      ...Array(2).fill('extracting blocks 0,1 on test (40 samples)'),
      ...Array(2).fill('extracting blocks 0,1 on train (96 samples)'),
      'extracting blocks 0; blocks 1 on test (40 samples)',
      'extracting blocks 0; blocks 1 on train (96 samples)',
    ]);

    // Same run again with kNN: every feature comes from the cache, no trunk runs.
    const again: string[] = [];
    const knn = parseProbeArgs(['--checkpoint', run, '--probe', 'knn', '--no-baselines', ...common(join(dir, 'out-knn'))]);
    const second = await probeCommand(knn, { resolveData: passthrough, log: (l) => again.push(l), workers: 1 });
    expect(again.some((l) => l.includes('extracting'))).toBe(false);
    expect(second.report.recipe).toMatchObject({ k: 20, temperature: 0.07 });

    // The newest checkpoint's probe blocks, their cached mean removed: averaged from the sweep's cached single blocks,
    // with no trunk pass, into the same bits as the trunk pass gave.
    const newest = join(run, 'checkpoints', 'step-00000200', 'model.safetensors');
    const cache = new FeatureCache(join(dir, 'cache', 'eval-features'));
    const trunk = await fileSha256(newest);
    const transform = { name: 'eval', imageSize: 16, patchSize: 4, revision: TRANSFORM_REVISION };
    const keyOf = (spec: string, limit: number) => ({ trunk, blocks: [0, 1], data: { spec, limit }, transform });
    const [trainKey, testKey] = [keyOf(train, 5000), keyOf(test, 1000)];
    const fromTrunk = await cache.get(trainKey);
    expect(fromTrunk).not.toBeNull();
    for (const key of [trainKey, testKey]) await rm(cache.fileFor(key)!);
    const third: string[] = [];
    const again01 = parseProbeArgs([
      '--checkpoint',
      newest,
      '--blocks',
      '0,1',
      '--probe',
      'knn',
      '--no-sweep',
      '--no-baselines',
      ...common(join(dir, 'out-01')),
    ]);
    await probeCommand(again01, { resolveData: passthrough, log: (l) => third.push(l), workers: 1 });
    expect(third.some((l) => l.includes('extracting'))).toBe(false);
    expect(third.filter((l) => l.includes('averaged from the cached single blocks'))).toHaveLength(2);
    expect((await cache.get(trainKey))!.features.data).toEqual(fromTrunk!.features.data);
  });

  it('names a block that does not exist', async () => {
    const args = parseProbeArgs(['--random-init', '--variant', 'aim-dev-nano', '--blocks', '5', ...common(join(dir, 'x'))]);
    await expect(probeCommand(args, { resolveData: passthrough, log: () => {} })).rejects.toThrow(/block 5 does not exist; aim-dev-nano has blocks 0..1/);
  });
});
