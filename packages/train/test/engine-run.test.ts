// The pretraining run on the WebGPU engine (SwiftShader in CI): 20 steps stopped at 10 and resumed reproduce the
// uninterrupted losses exactly; an engine checkpoint resumes on cpu (and a cpu checkpoint on the engine) with the same
// losses within 1e-4, and both write files of the same layout; the engine's steps match the tfjs model's step for step.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { AimEngine, engineDawnFlags, requestEngineDevice } from '@aim/gpu';
import { probeWebGpu, readSafetensors, selectBackend, vettedWebGpuAdapter } from '@aim/model';
import { ShardWriter } from '@aim/webdataset';
import { createRunParts, flagsToValues, latestCheckpoint, readCheckpointState, resolveConfig, runPretraining, type TrainConfig } from '../src/index.js';

// The engine's device as the trainer opens it (without Dawn's bounds checks).
const probe = await probeWebGpu({ softwareFallback: true, dawnFlags: engineDawnFlags() });
if (!probe.adapter && process.env.CI === 'true') throw new Error(`CI=true requires a WebGPU adapter: ${probe.why}`);
if (!probe.adapter) console.warn(`[train tests] engine runs not tested: ${probe.why}`);

let dir: string;
let device: GPUDevice;

beforeAll(async () => {
  if (!probe.adapter) return;
  await selectBackend('cpu');
  device = await requestEngineDevice(vettedWebGpuAdapter()!);
  dir = mkdtempSync(join(tmpdir(), 'aim-engine-run-'));
  const writer = new ShardWriter({ pattern: join(dir, 'train-%04d.tar'), maxCount: 20, mtime: 0 });
  for (let i = 0; i < 40; i++) {
    const px = Buffer.alloc(16 * 16 * 3).map((_, j) => (j * (i + 3) * 7) % 251);
    const png = await sharp(px, { raw: { width: 16, height: 16, channels: 3 } })
      .png()
      .toBuffer();
    await writer.write({ __key__: `s${String(i).padStart(4, '0')}`, png: new Uint8Array(png) });
  }
  await writer.close();
});

afterAll(() => device?.destroy());

function config(extra: Record<string, string> = {}): TrainConfig {
  const flags = new Map(
    Object.entries({
      '--preset': 'smoke',
      '--variant': 'aim-dev-nano',
      '--data': join(dir, 'train-{0000..0001}.tar'),
      '--val-data': join(dir, 'train-0001.tar'),
      '--steps': '20',
      '--batch-size': '4',
      '--accum': '2',
      '--workers': '1',
      '--prefetch': '2',
      '--save-every': '10',
      '--val-every': '10',
      '--val-batches': '2',
      '--seed': '5',
      ...extra,
    }),
  );
  return resolveConfig({ flags: flagsToValues(flags) });
}

/** A pretraining run; with `nanAtStep`, the engine is given a NaN patch in that step (1-based). */
async function run(cfg: TrainConfig, runDir: string, onEngine: boolean, resumeFrom?: string, nanAtStep?: number) {
  const losses = new Map<number, number>();
  const parts = createRunParts({ config: cfg, data: { train: cfg.data, val: cfg.valData }, backend: onEngine ? 'webgpu' : 'cpu' });
  const engine = onEngine ? await AimEngine.create(device, parts.model.config, { batch: cfg.batchSize }) : undefined;
  // For each step the engine is given: how many earlier steps the run has submitted and not yet reported.
  const behind: number[] = [];
  if (engine) {
    const step = engine.step.bind(engine);
    engine.step = (micro, hyper) => {
      behind.push(behind.length - losses.size);
      if (behind.length !== nanAtStep) return step(micro, hyper);
      const patches = micro[0].patches.slice();
      patches[7] = Number.NaN;
      return step([{ ...micro[0], patches }, ...micro.slice(1)], hyper);
    };
  }
  try {
    const summary = await runPretraining({
      config: cfg,
      runDir,
      parts: { ...parts, engine },
      resumeFrom,
      hooks: { onStep: (r) => losses.set(r.step, r.loss) },
    });
    return { summary, losses, behind };
  } finally {
    parts.model.dispose();
  }
}

const relative = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

// SwiftShader runs the shaders on the CPU, which CI shares with other test processes: allow minutes.
describe.skipIf(!probe.adapter)('runPretraining on the WebGPU engine', { timeout: 600_000 }, () => {
  let whole: Map<number, number>;
  let behind: number[];
  beforeAll(async () => {
    ({ losses: whole, behind } = await run(config(), join(dir, 'whole'), true));
    expect(whole.size).toBe(20);
  }, 600_000);

  it("submits each step before the previous one's result is taken, except after a validation or checkpoint step", () => {
    // Validation and checkpoints after steps 10 and 20: step 10 is waited for before step 11 is submitted.
    expect(behind).toEqual([0, ...Array(9).fill(1), 0, ...Array(9).fill(1)]);
  });

  it('a NaN in step 5, with step 6 queued behind it: the run stops naming step 5, and records it', async () => {
    const runDir = join(dir, 'nan');
    const failed = run(config(), runDir, true, undefined, 5);
    await expect(failed).rejects.toThrow(/^loss is NaN at step 5; stopping without applying this update/);
    const events = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { kind: string; step: number; event?: string });
    expect(events.filter((e) => e.kind === 'train').map((e) => e.step)).toEqual([1, 2, 3, 4]);
    expect(events.filter((e) => e.event === 'non-finite-loss').map((e) => e.step)).toEqual([5]);
  });

  it('stopped at step 10 and resumed, reproduces the uninterrupted losses exactly', async () => {
    const runDir = join(dir, 'split');
    const first = await run(config({ '--stop-at': '10' }), runDir, true);
    const checkpoint = latestCheckpoint(join(runDir, 'checkpoints'))!;
    expect(readCheckpointState(checkpoint)).toMatchObject({ step: 10, backend: 'webgpu', optimizerUpdates: 10 });
    const second = await run(config(), runDir, true, checkpoint);
    expect([...new Map([...first.losses, ...second.losses]).entries()]).toEqual([...whole.entries()]);
  });

  it('an engine checkpoint resumes on cpu, and a cpu checkpoint on the engine, with the same losses within 1e-4', async () => {
    const engineAt10 = join(dir, 'split', 'checkpoints', 'step-00000010');
    const onCpu = await run(config(), join(dir, 'engine-to-cpu'), false, engineAt10);
    for (const [step, loss] of onCpu.losses) expect(relative(loss, whole.get(step)!), `step ${step}`).toBeLessThan(1e-4);
    const cpuRun = await run(config({ '--stop-at': '10' }), join(dir, 'cpu'), false);
    for (const [step, loss] of cpuRun.losses) expect(relative(loss, whole.get(step)!), `cpu step ${step}`).toBeLessThan(1e-4);
    // Both paths write the same files: the same tensors, in the same order, shapes and offsets.
    const cpuAt10 = latestCheckpoint(join(dir, 'cpu', 'checkpoints'))!;
    for (const file of ['model.safetensors', 'optimizer.safetensors']) {
      const layout = async (checkpoint: string) => {
        const f = await readSafetensors(join(checkpoint, file));
        await f.close();
        return [...f.tensors.values()];
      };
      expect(await layout(engineAt10), file).toEqual(await layout(cpuAt10));
    }
    const onEngine = await run(config(), join(dir, 'cpu'), true, cpuAt10);
    expect(onEngine.losses.size).toBe(10);
    for (const [step, loss] of onEngine.losses) expect(relative(loss, whole.get(step)!), `step ${step}`).toBeLessThan(1e-4);
  });
});
