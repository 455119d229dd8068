// --resume targets: newest run under runs/, a run folder, a checkpoint folder; config = checkpoint's + new flags.
import { mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flagsToValues, resolveConfig, saveCheckpointDir } from '@aim/train';
import { planResume } from '../src/resume.js';

async function fakeRun(runsRoot: string, name: string, step: number, mtime: number): Promise<string> {
  const config = resolveConfig({
    preset: 'smoke',
    flags: flagsToValues(
      new Map([
        ['--stop-at', '5'],
        ['--seed', '3'],
        ['--steps', '50'],
      ]),
    ),
  });
  const dir = await saveCheckpointDir({
    root: join(runsRoot, name, 'checkpoints'),
    step,
    keep: 2,
    write: async (tmp) => {
      writeFileSync(join(tmp, 'model.safetensors'), `weights of step ${step}`);
      const state = {
        format: 'aim-train-checkpoint/1',
        step,
        optimizerUpdates: step,
        dataPosition: { microBatches: step },
        rng: { runSeed: 3, scheme: '' },
        config,
        backend: 'cpu',
        savedAt: '',
      };
      writeFileSync(join(tmp, 'state.json'), JSON.stringify(state));
    },
  });
  utimesSync(join(dir, 'state.json'), mtime, mtime);
  return dir;
}

describe('planResume', () => {
  it('latest = the newest checkpoint of any run; its config with stopAt cleared, then the new flags', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'aim-runs-'));
    await fakeRun(runs, 'old', 9, 1_000_000);
    const newest = await fakeRun(runs, 'new', 5, 2_000_000);
    const plan = planResume('latest', flagsToValues(new Map([['--lr', '5e-4']])), runs);
    expect(plan.checkpoint).toBe(newest);
    expect(plan.runDir).toBe(join(runs, 'new'));
    expect(plan.config).toMatchObject({ preset: 'smoke', seed: 3, steps: 50, stopAt: 0, lr: 5e-4, out: join(runs, 'new'), resume: newest });
  });

  it('accepts a run folder or a checkpoint folder, and explains a wrong path', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'aim-runs-'));
    const ckpt = await fakeRun(runs, 'r', 7, 1_000_000);
    expect(planResume(join(runs, 'r'), {}).checkpoint).toBe(ckpt);
    expect(planResume(ckpt, flagsToValues(new Map([['--stop-at', '20']]))).config.stopAt).toBe(20);
    expect(() => planResume(join(runs, 'nope'), {})).toThrow(/--resume .*nope: .*neither a checkpoint folder/);
    expect(() => planResume('latest', {}, join(runs, 'empty'))).toThrow(/no checkpoint found under/);
  });

  it('passes over a damaged checkpoint for the newest one that verifies, naming it; a damaged folder given by name is an error', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'aim-runs-'));
    const older = await fakeRun(runs, 'r', 4, 1_000_000);
    const newest = await fakeRun(runs, 'r', 8, 2_000_000);
    const model = join(newest, 'model.safetensors');
    writeFileSync(model, readFileSync(model).subarray(0, 5)); // truncated
    for (const target of ['latest', join(runs, 'r')]) {
      const plan = planResume(target, {}, runs);
      expect(plan.checkpoint).toBe(older);
      expect(plan.skipped).toEqual([`skipped damaged checkpoint ${newest}: model.safetensors: 5 bytes, 17 recorded (truncated)`]);
      expect(plan.config.resume).toBe(older);
    }
    expect(() => planResume(newest, {})).toThrow(
      `--resume ${newest}: checkpoint ${newest} is damaged: model.safetensors: 5 bytes, 17 recorded (truncated); pass its run folder`,
    );
    // nothing verifies: a clear error naming every damaged checkpoint
    writeFileSync(join(older, 'state.json'), '{"format": "aim-train');
    expect(() => planResume('latest', {}, runs)).toThrow(
      /no checkpoint found under .* that verifies \(every one found is damaged: .*step-00000008: model.*; .*step-00000004: state\.json: not valid JSON/,
    );
    expect(() => planResume(join(runs, 'r'), {})).toThrow(/no checkpoint under .* verifies \(all damaged\)/);
  });
});
