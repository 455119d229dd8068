// Data parallelism over MPI: 2 ranks x micro-batch 8, each decoding only its share of the samples, take the same step
// as 1 rank accumulating 2 micro-batches of 8 over the same samples (losses and final parameters within 1e-6, ranks
// bitwise identical); the same on the WebGPU engine, one device per rank (within 1e-5); a NaN on one rank stops both
// engines at that step; the accumulation split.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { probeWebGpu } from '@aim/model';
import { mpiAvailable } from '@aim/mpi';
import { microBatchesPerRank } from '../src/index.js';
import { makeShards } from './png-shards.js';

const RANK = join(import.meta.dirname, 'ranks', 'equivalence.ts');
/** Node arguments of one equivalence.ts process on the shards in `dir`: steps, batch size, accum [, backend]. */
const rankArgs = (dir: string, out: string, run: string[]) => [
  '--conditions=@aim/source',
  '--import',
  'tsx',
  RANK,
  out,
  join(dir, 'train-{0000..0001}.tar'),
  join(dir, 'val-0000.tar'),
  ...run,
];
const GATE = join(import.meta.dirname, 'ranks', 'engine-gate.ts');
const hasMpirun = spawnSync('mpirun', ['--version']).status === 0;
const missing = !hasMpirun
  ? 'mpirun not found (apt-get install openmpi-bin libopenmpi-dev)'
  : !mpiAvailable()
    ? '@aim/mpi was not built (npm rebuild @aim/mpi)'
    : undefined;
if (missing && process.env.CI === 'true') throw new Error(`data-parallel tests need MPI: ${missing}`);
// Each rank finds its own adapter the same way (SwiftShader where there is no GPU, VK_DRIVER_FILES inherited).
const probe = await probeWebGpu({ softwareFallback: true });
if (!probe.adapter && process.env.CI === 'true') throw new Error(`CI=true requires a WebGPU adapter: ${probe.why}`);
const noEngine = missing ?? (probe.adapter ? undefined : probe.why);
const mpirun = (args: string[]) =>
  spawnSync('mpirun', ['--oversubscribe', '--allow-run-as-root', '--bind-to', 'none', '-np', '2', process.execPath, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
  });

describe('microBatchesPerRank', () => {
  it("splits the step's micro-batches evenly, or names the --accum to use", () => {
    expect(microBatchesPerRank(2, 2)).toBe(1);
    expect(microBatchesPerRank(8, 4)).toBe(2);
    expect(microBatchesPerRank(3, 1)).toBe(3);
    expect(() => microBatchesPerRank(3, 2)).toThrow(/--accum 3 .* must be a multiple of the world size 2.*use --accum 4/);
    expect(() => microBatchesPerRank(1, 2)).toThrow(/use --accum 2/);
  });
});

const read = (dir: string, sub: string, rank: number) => ({
  params: new Float32Array(new Uint8Array(readFileSync(join(dir, sub, `params-rank${rank}.bin`))).buffer),
  log: JSON.parse(readFileSync(join(dir, sub, `losses-rank${rank}.json`), 'utf8')) as {
    losses: number[];
    vals: number[];
    images: number;
    dataStats: { seen: number; otherRanks?: number; rejectedTotal: number };
  },
});

describe.skipIf(missing !== undefined)(`data parallel over mpirun -np 2${missing ? ` (skipped: ${missing})` : ''}`, { timeout: 600_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aim-dp-'));
    await makeShards(join(dir, 'train-%04d.tar'), 56, 28, 1); // 10 steps x 16 = 160 samples: almost 3 epochs
    await makeShards(join(dir, 'val-%04d.tar'), 16, 16, 2);
  });

  it('2 ranks x micro-batch 8 = 1 rank accumulating 2 x 8 over the same samples, 10 steps, cpu', () => {
    const args = (out: string) => rankArgs(dir, out, ['10', '8', '2']);
    const one = spawnSync(process.execPath, args(join(dir, 'one')), { encoding: 'utf8', timeout: 300_000 });
    expect(one.status, one.stderr).toBe(0);
    const two = mpirun(args(join(dir, 'two')));
    expect(two.status, two.stderr + two.stdout).toBe(0);
    const ref = read(dir, 'one', 0);
    const r0 = read(dir, 'two', 0);
    const r1 = read(dir, 'two', 1);
    expect(ref.log.losses).toHaveLength(10);
    for (const r of [r0, r1]) {
      expect(r.log.losses).toHaveLength(10);
      r.log.losses.forEach((l, i) => expect(Math.abs(l - ref.log.losses[i])).toBeLessThanOrEqual(1e-6));
      expect(r.log.vals).toHaveLength(ref.log.vals.length);
      r.log.vals.forEach((l, i) => expect(Math.abs(l - ref.log.vals[i])).toBeLessThanOrEqual(1e-6));
      expect(r.log.images).toBeCloseTo(ref.log.images, 6); // every step counts the global batch
      let worst = 0;
      for (let i = 0; i < ref.params.length; i++) worst = Math.max(worst, Math.abs(r.params[i] - ref.params[i]));
      expect(worst).toBeLessThanOrEqual(1e-6);
    }
    // Each rank decoded only its share: 10 steps x 8 of its own samples (plus what its loader read ahead), while the one
    // process decoded all 160; the other rank's samples were passed over, not counted as seen or rejected.
    for (const r of [r0, r1]) {
      expect(r.log.dataStats.seen).toBeGreaterThanOrEqual(80);
      expect(r.log.dataStats.seen).toBeLessThan(ref.log.dataStats.seen - 40);
      expect(r.log.dataStats.otherRanks).toBeGreaterThanOrEqual(72);
      expect(r.log.dataStats.rejectedTotal).toBe(0);
    }
    expect(ref.log.dataStats.seen).toBeGreaterThanOrEqual(160);
    expect(ref.log.dataStats.otherRanks).toBeUndefined();
    // Every rank applied the same AdamW step to the same summed gradients: the same bits.
    expect(Buffer.from(r0.params.buffer).equals(Buffer.from(r1.params.buffer))).toBe(true);
    // Rank 0 alone wrote the run folder.
    expect(
      readFileSync(join(dir, 'two', 'run', 'metrics.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"kind":"train"')),
    ).toHaveLength(10);
  });
});

describe.skipIf(noEngine !== undefined)(`the WebGPU engine over mpirun -np 2${noEngine ? ` (skipped: ${noEngine})` : ''}`, { timeout: 600_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aim-dp-engine-'));
    await makeShards(join(dir, 'train-%04d.tar'), 16, 8, 3);
    await makeShards(join(dir, 'val-%04d.tar'), 8, 8, 4);
  });

  it('2 ranks x micro-batch 2, one device each = 1 rank accumulating 2 x 2 on the engine, 3 steps', () => {
    const args = (out: string) => rankArgs(dir, out, ['3', '2', '2', 'webgpu']);
    const one = spawnSync(process.execPath, args(join(dir, 'one')), { encoding: 'utf8', timeout: 300_000 });
    expect(one.status, one.stderr).toBe(0);
    const two = mpirun(args(join(dir, 'two')));
    expect(two.status, two.stderr + two.stdout).toBe(0);
    const ref = read(dir, 'one', 0);
    const [r0, r1] = [read(dir, 'two', 0), read(dir, 'two', 1)];
    expect(ref.log.losses).toHaveLength(3);
    expect(ref.log.vals).toHaveLength(1); // at the last step, one validation batch per rank
    for (const r of [r0, r1]) {
      expect(r.log.losses).toHaveLength(3);
      r.log.losses.forEach((l, i) => expect(Math.abs(l - ref.log.losses[i]), `step ${i + 1}`).toBeLessThanOrEqual(1e-5));
      r.log.vals.forEach((l, i) => expect(Math.abs(l - ref.log.vals[i])).toBeLessThanOrEqual(1e-5));
      let worst = 0;
      for (let i = 0; i < ref.params.length; i++) worst = Math.max(worst, Math.abs(r.params[i] - ref.params[i]));
      expect(worst).toBeLessThanOrEqual(1e-5);
    }
    // Summed gradients and loss are the same bits on both ranks, so the same update on each device.
    expect(Buffer.from(r0.params.buffer).equals(Buffer.from(r1.params.buffer))).toBe(true);
    expect(r0.log.losses).toEqual(r1.log.losses);
  });

  it("a NaN in rank 1's micro-batch stops both ranks at that step, naming it, with no update applied", () => {
    const r = mpirun(['--conditions=@aim/source', '--import', 'tsx', GATE, join(dir, 'gate')]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    for (const rank of [0, 1]) {
      const seen = JSON.parse(readFileSync(join(dir, 'gate', `gate-rank${rank}.json`), 'utf8')) as {
        firstLoss: number;
        haltedAt: number;
        message: string;
        unchanged: boolean;
      };
      expect(Number.isFinite(seen.firstLoss)).toBe(true);
      expect(seen.haltedAt, `rank ${rank}`).toBe(2);
      expect(seen.message).toMatch(/^loss is NaN at step 2; stopping without applying this update/);
      expect(seen.unchanged, `rank ${rank}`).toBe(true);
    }
  });
});
