import { describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveCheckpointDir } from '@aim/train';
import { resolveCheckpoints } from '../src/checkpoints.js';

async function fakeRun(): Promise<string> {
  const run = await mkdtemp(join(tmpdir(), 'eval-run-'));
  for (const [step, valLoss] of [
    [200, undefined],
    [400, 0.7],
  ] as const) {
    const dir = join(run, 'checkpoints', `step-${String(step).padStart(8, '0')}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'model.safetensors'), '');
    await writeFile(join(dir, 'state.json'), JSON.stringify({ step, ...(valLoss === undefined ? {} : { valLoss }) }));
  }
  // An interrupted save without its marker is not a checkpoint.
  await mkdir(join(run, 'checkpoints', 'step-00000600'));
  await writeFile(
    join(run, 'metrics.jsonl'),
    [
      { kind: 'val', step: 200, loss: 0.9, images: 64 },
      { kind: 'val', step: 400, loss: 0.75, images: 64 },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n',
  );
  return run;
}

describe('resolveCheckpoints', () => {
  it("lists a run folder's complete checkpoints with steps and validation losses", async () => {
    const run = await fakeRun();
    try {
      const refs = resolveCheckpoints(run);
      expect(refs.map((r) => [r.step, r.valLoss])).toEqual([
        [200, 0.9],
        [400, 0.7],
      ]);
      expect(refs[0].file).toBe(join(run, 'checkpoints', 'step-00000200', 'model.safetensors'));
      const one = resolveCheckpoints(join(run, 'checkpoints', 'step-00000200'));
      expect(one).toHaveLength(1);
      expect(one[0].valLoss).toBe(0.9);
      expect(resolveCheckpoints(one[0].file)[0].step).toBeNull();
    } finally {
      await rm(run, { recursive: true, force: true });
    }
  });

  it('explains what it expected when the path is wrong', async () => {
    const run = await fakeRun();
    try {
      expect(() => resolveCheckpoints(join(run, 'nope'))).toThrow(/no such file or folder/);
      expect(() => resolveCheckpoints(join(run, 'metrics.jsonl'))).toThrow(/must be a .safetensors file/);
      expect(() => resolveCheckpoints(join(run, 'checkpoints', 'step-00000600'))).toThrow(/neither a .safetensors file/);
    } finally {
      await rm(run, { recursive: true, force: true });
    }
  });

  it('verifies sealed checkpoints: a damaged one is left out of a run (one line) and refused by name', async () => {
    const run = await mkdtemp(join(tmpdir(), 'eval-run-'));
    try {
      for (const step of [200, 400]) {
        await saveCheckpointDir({
          root: join(run, 'checkpoints'),
          step,
          keep: 5,
          write: async (dir) => {
            await writeFile(join(dir, 'model.safetensors'), `weights ${step}`);
            await writeFile(join(dir, 'state.json'), JSON.stringify({ step }));
          },
        });
      }
      const damaged = join(run, 'checkpoints', 'step-00000400');
      await writeFile(join(damaged, 'model.safetensors'), 'weights 401'); // same size, one byte changed
      const lines: string[] = [];
      expect(resolveCheckpoints(run, (l) => lines.push(l)).map((r) => r.step)).toEqual([200]);
      expect(lines).toEqual([expect.stringMatching(/^skipped damaged checkpoint .*step-00000400: model\.safetensors: SHA-256 .* \(corrupted\)$/)]);
      expect(() => resolveCheckpoints(damaged)).toThrow(/checkpoint is damaged: model\.safetensors: SHA-256/);
      expect(resolveCheckpoints(join(run, 'checkpoints', 'step-00000200'))[0].step).toBe(200);
    } finally {
      await rm(run, { recursive: true, force: true });
    }
  });
});
