// End to end on the cpu and wasm backends with shards made here: a run stopped with stopAt (mid-epoch and at an
// epoch boundary) and resumed reproduces the uninterrupted run's losses step for step; a damaged newest checkpoint
// is passed over for the previous one; checkpoints, metrics and the plot are where users look for them.
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ShardWriter } from '@aim/webdataset';
import { loadAimCheckpoint, selectBackend } from '@aim/model';
import {
  createRunParts,
  flagsToValues,
  latestCheckpoint,
  readCheckpointState,
  readMetrics,
  resolveCheckpoint,
  resolveConfig,
  runPretraining,
  type TrainConfig,
} from '../src/index.js';
import { makeShards } from './png-shards.js';

let dir: string;

beforeAll(async () => {
  await selectBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'aim-resume-'));
  await makeShards(join(dir, 'train-%04d.tar'), 40, 20, 1);
  await makeShards(join(dir, 'val-%04d.tar'), 8, 8, 2);
});

function config(extra: Record<string, string> = {}): TrainConfig {
  const flags = new Map(
    Object.entries({
      '--preset': 'smoke',
      '--variant': 'aim-dev-nano',
      '--data': join(dir, 'train-{0000..0001}.tar'),
      '--val-data': join(dir, 'val-0000.tar'),
      '--steps': '8',
      '--batch-size': '4',
      '--accum': '2',
      '--backend': 'cpu',
      '--workers': '1',
      '--prefetch': '2',
      '--save-every': '2',
      '--keep': '2',
      '--val-every': '4',
      '--val-batches': '2',
      '--seed': '5',
      ...extra,
    }),
  );
  return resolveConfig({ flags: flagsToValues(flags) });
}

async function run(cfg: TrainConfig, runDir: string, resumeFrom?: string, shouldStop?: () => boolean) {
  const losses = new Map<number, number>();
  const parts = createRunParts({ config: cfg, data: { train: cfg.data, val: cfg.valData }, backend: cfg.backend as 'cpu' | 'wasm' });
  try {
    const summary = await runPretraining({
      config: cfg,
      runDir,
      parts,
      resumeFrom,
      shouldStop,
      hooks: { onStep: (r) => losses.set(r.step, r.loss) },
    });
    return { summary, losses };
  } finally {
    parts.model.dispose();
  }
}

describe('runPretraining', () => {
  // 40 samples / batch 4 = 10 micro-batches per epoch; 8 steps x accum 2 = 16 micro-batches: 1.6 epochs.
  // Step 3 = 6 micro-batches (mid-epoch: 24 of 40 samples); step 5 = 10 micro-batches (the epoch boundary).
  for (const backend of ['cpu', 'wasm'] as const) {
    describe(`on ${backend}`, () => {
      let wholeLosses: Map<number, number>;
      beforeAll(async () => {
        await selectBackend(backend);
        const r = await run(config({ '--backend': backend }), join(dir, `run-whole-${backend}`));
        expect(r.summary.stopReason).toBe('completed');
        wholeLosses = r.losses;
        expect([...wholeLosses.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      });

      it('each checkpoint event records its bytes (every file of the folder) and the seconds it took', () => {
        const runDir = join(dir, `run-whole-${backend}`);
        const events = readMetrics(join(runDir, 'metrics.jsonl')).filter((r) => r.kind === 'event' && r.event === 'checkpoint');
        expect(events.map((e) => e.step)).toEqual([2, 4, 6, 8]);
        const last = events.at(-1) as unknown as { dir: string; bytes: number; seconds: number };
        const folder = readdirSync(last.dir).reduce((n, f) => n + statSync(join(last.dir, f)).size, 0);
        expect(last.bytes).toBe(folder);
        expect(last.seconds).toBeGreaterThan(0);
      });

      const stops: Array<[number, string, object]> = [
        [3, 'mid-epoch', { epoch: 0, samplesInEpoch: 24 }],
        [5, 'at the epoch boundary', { epoch: 0, samplesInEpoch: 40 }],
      ];
      for (const [stopAt, where, loader] of stops) {
        it(`stop at step ${stopAt} (${where}) + resume reproduces the uninterrupted losses exactly`, async () => {
          const runDir = join(dir, `run-split-${stopAt}-${backend}`);
          const first = await run(config({ '--backend': backend, '--stop-at': String(stopAt) }), runDir);
          expect(first.summary.stopReason).toBe('stop-at');
          expect(first.summary.finalStep).toBe(stopAt);
          const checkpoint = latestCheckpoint(join(runDir, 'checkpoints'))!;
          const state = readCheckpointState(checkpoint);
          expect(state.step).toBe(stopAt);
          expect(state.backend).toBe(backend);
          expect(state.dataPosition.microBatches).toBe(stopAt * 2);
          expect(state.dataPosition.loader).toEqual(loader);
          expect(state.config.stopAt).toBe(stopAt);

          const second = await run(config({ '--backend': backend }), runDir, checkpoint);
          expect(second.summary.startStep).toBe(stopAt);
          expect([...second.losses.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8].filter((s) => s > stopAt));
          const resumed = new Map([...first.losses, ...second.losses]);
          expect([...resumed.entries()]).toEqual([...wholeLosses.entries()]);

          // validation compares across runs: same value at the same step
          const val = (d: string) => readMetrics(join(d, 'metrics.jsonl')).filter((r) => r.kind === 'val');
          const wholeVal = new Map(val(join(dir, `run-whole-${backend}`)).map((r) => [r.step, r.loss]));
          const splitVal = new Map(val(runDir).map((r) => [r.step, r.loss]));
          expect(splitVal.get(8)).toBe(wholeVal.get(8));
          expect(existsSync(join(runDir, 'loss-curve.svg'))).toBe(true);
          expect(readFileSync(join(runDir, 'loss-curve.svg'), 'utf8')).toContain('<title>validation</title>');
          expect(JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')).variant).toBe('aim-dev-nano');
        });
      }

      it('a bit-flipped newest checkpoint: loading it is an error; the run folder resumes from the previous one, exactly', async () => {
        const runDir = join(dir, `run-damaged-${backend}`);
        await run(config({ '--backend': backend, '--stop-at': '3' }), runDir); // checkpoints at steps 2 and 3
        const damaged = join(runDir, 'checkpoints', 'step-00000003');
        const optimizer = join(damaged, 'optimizer.safetensors');
        const bytes = readFileSync(optimizer);
        bytes[bytes.length - 3] ^= 0x10; // a moment's low mantissa bit: the file still parses
        writeFileSync(optimizer, bytes);
        await expect(run(config({ '--backend': backend }), runDir, damaged)).rejects.toThrow(
          new RegExp(`checkpoint ${damaged.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged: optimizer\\.safetensors: SHA-256 .* \\(corrupted\\)`),
        );
        const skipped: string[] = [];
        const previous = resolveCheckpoint(runDir, (l) => skipped.push(l));
        expect(previous).toBe(join(runDir, 'checkpoints', 'step-00000002'));
        expect(skipped).toEqual([expect.stringMatching(/^skipped damaged checkpoint .*step-00000003: optimizer\.safetensors: SHA-256/)]);
        const again = await run(config({ '--backend': backend }), runDir, previous);
        expect(again.summary.startStep).toBe(2);
        expect([...again.losses.entries()]).toEqual([...wholeLosses.entries()].filter(([s]) => s > 2));
      });
    });
  }

  it('keeps the last K checkpoints, each loadable as a plain AIM checkpoint', async () => {
    await selectBackend('cpu');
    const runDir = join(dir, 'run-whole-cpu');
    const dirs = ['step-00000006', 'step-00000008'];
    expect(existsSync(join(runDir, 'checkpoints', 'step-00000004'))).toBe(false);
    for (const d of dirs) expect(existsSync(join(runDir, 'checkpoints', d, 'state.json'))).toBe(true);
    const loaded = await loadAimCheckpoint(join(runDir, 'checkpoints', dirs[1], 'model.safetensors'));
    expect(loaded.model.config.name).toBe('aim-dev-nano');
    expect(loaded.model.hasPretrainHead).toBe(true);
    loaded.model.dispose();
  });

  it('a corrupt image is counted and reported, and the run goes on', async () => {
    const writer = new ShardWriter({ pattern: join(dir, 'bad-%04d.tar'), maxCount: 100, mtime: 0 });
    await writer.write({ __key__: 'broken', png: new TextEncoder().encode('not a png at all') });
    await writer.close();
    const cfg = config({ '--data': `${join(dir, 'bad-0000.tar')}::${join(dir, 'train-{0000..0001}.tar')}`, '--steps': '2' });
    const { summary } = await run(cfg, join(dir, 'run-bad'));
    expect(summary.stopReason).toBe('completed');
    expect(summary.dataStats).toMatchObject({ rejected: { decode_error: 1 } });
  });

  it('a stop request (SIGINT) finishes the step, saves and returns', async () => {
    const runDir = join(dir, 'run-signal');
    let steps = 0;
    const { summary } = await run(config(), runDir, undefined, () => ++steps >= 3);
    expect(summary.stopReason).toBe('signal');
    expect(summary.finalStep).toBe(3);
    expect(readCheckpointState(latestCheckpoint(join(runDir, 'checkpoints'))!).step).toBe(3);
  });
});
