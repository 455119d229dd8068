// The trainer under mpirun -np 2 (cpu backend): a rank killed with SIGKILL ends the job within seconds naming the
// rank, and the run resumes from its last checkpoint; a failure on every rank (a bad split) aborts with the cause;
// --backend webgpu trains on 2 ranks (SwiftShader where there is no GPU); with --data-split shards each rank reads its
// own shards and resumes exactly on as many ranks.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { probeWebGpu } from '@aim/model';
import { mpiAvailable } from '@aim/mpi';
import { prepareMnist } from '@aim/shards';
import { ShardWriter, readSamples } from '@aim/webdataset';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const CWD = fileURLToPath(new URL('..', import.meta.url));
const hasMpirun = spawnSync('mpirun', ['--version']).status === 0;
const missing = !hasMpirun
  ? 'mpirun not found (apt-get install openmpi-bin libopenmpi-dev)'
  : !mpiAvailable()
    ? '@aim/mpi was not built (npm rebuild @aim/mpi)'
    : undefined;
if (missing && process.env.CI === 'true') throw new Error(`trainer MPI tests need MPI: ${missing}`);
const probe = await probeWebGpu({ softwareFallback: true });
if (!probe.adapter && process.env.CI === 'true') throw new Error(`CI=true requires a WebGPU adapter: ${probe.why}`);

interface Result {
  code: number | null;
  output: string;
  exitedAt: number;
}

/** mpirun -np N of the trainer; `onOutput` sees everything printed so far (all ranks, merged). */
function mpirunTrainer(np: number, args: string[], onOutput?: (text: string) => void): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'mpirun',
      [
        '--oversubscribe',
        '--allow-run-as-root',
        '--bind-to',
        'none',
        '-np',
        String(np),
        process.execPath,
        '--conditions=@aim/source',
        '--import',
        TSX,
        MAIN,
        ...args,
      ],
      { cwd: CWD },
    );
    let output = '';
    const take = (d: Buffer): void => {
      output += d.toString();
      onOutput?.(output);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, exitedAt: Date.now() }));
  });
}

describe.skipIf(missing !== undefined)(`trainer under mpirun -np 2${missing ? ` (skipped: ${missing})` : ''}`, { timeout: 400_000 }, () => {
  let dir: string;
  let common: string[];
  let shards: Awaited<ReturnType<typeof prepareMnist>>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aim-trainer-mpi-'));
    shards = await prepareMnist(join(dir, 'cache'), () => {}, { limit: 64 });
    common = [
      '--preset',
      'smoke',
      '--variant',
      'aim-dev-nano',
      '--backend',
      'cpu',
      '--data',
      shards.train,
      '--no-val',
      '--batch-size',
      '4',
      '--accum',
      '2',
      '--workers',
      '1',
      '--log-every',
      '1',
    ];
  });

  it('SIGKILL of rank 1 mid-run ends the job within 10 s naming the rank; resuming from the last checkpoint works', async () => {
    const runDir = join(dir, 'runs/kill');
    let killedAt = 0;
    let killedPid = 0;
    const r = await mpirunTrainer(2, [...common, '--steps', '500', '--save-every', '2', '--out', runDir], (text) => {
      if (killedAt) return;
      const pid = /rank 1 of 2 \(.*pid (\d+)\)/.exec(text)?.[1];
      if (pid && /checkpoint .*step-00000004/.test(text)) {
        killedPid = Number(pid);
        killedAt = Date.now();
        process.kill(killedPid, 'SIGKILL');
      }
    });
    expect(killedAt, r.output).toBeGreaterThan(0);
    expect(r.code).not.toBe(0);
    console.log(`mpirun exited ${r.exitedAt - killedAt} ms after SIGKILL of rank 1`);
    expect(r.exitedAt - killedAt).toBeLessThan(10_000);
    expect(r.output).toMatch(/process rank 1 with PID \d+ on node \S+ exited on signal 9 \(Killed\)/);
    const latest = readFileSync(join(runDir, 'checkpoints', 'latest'), 'utf8').trim();
    const step = Number(/step-(\d+)/.exec(latest)![1]);
    expect(step).toBeGreaterThanOrEqual(4);

    const resumed = await mpirunTrainer(2, ['--resume', runDir, '--stop-at', String(step + 2)]);
    expect(resumed.code, resumed.output).toBe(0);
    expect(resumed.output).toContain(`resumed from ${join(runDir, 'checkpoints', latest)} at step ${step}`);
    expect(resumed.output).toContain(`(this process: ${step} -> ${step + 2})`);
  });

  it('an error on the ranks aborts the job, each rank naming itself and the cause', async () => {
    const started = Date.now();
    const r = await mpirunTrainer(2, [...common, '--accum', '3', '--steps', '4', '--out', join(dir, 'runs/bad')]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/rank [01] of 2 failed: data parallel: --accum 3 .*must be a multiple of the world size 2.*; aborting the job \(MPI_Abort\)/);
    expect(r.exitedAt - started).toBeLessThan(120_000);
  });

  it.skipIf(!probe.adapter)(
    `--backend webgpu on 2 ranks trains, each rank on a WebGPU device of its own (Vulkan device <local rank> where there are several), the first tuning the machine's GEMM tiles${probe.adapter ? '' : ` (skipped: ${probe.why})`}`,
    async () => {
      const out = join(dir, 'runs/gpu');
      const cacheDir = join(dir, 'cache-gpu');
      // On SwiftShader, a second manifest of the same driver (its library by absolute path) makes a second, identical
      // device, as on a machine of two GPUs: each rank then trains on a device of its own.
      const vk = process.env.VK_DRIVER_FILES;
      const twin = vk?.endsWith('vk_swiftshader_icd.json') ? join(dir, 'swiftshader-twin.json') : undefined;
      if (twin) {
        const manifest = JSON.parse(readFileSync(vk!, 'utf8'));
        manifest.ICD.library_path = join(dirname(vk!), manifest.ICD.library_path);
        writeFileSync(twin, JSON.stringify(manifest));
        process.env.VK_DRIVER_FILES = `${vk}:${twin}`;
      }
      let r: Result;
      try {
        r = await mpirunTrainer(2, [...common, '--backend', 'webgpu', '--gpu-tiles', 'auto', '--cache-dir', cacheDir, '--steps', '2', '--out', out]);
      } finally {
        process.env.VK_DRIVER_FILES = vk;
      }
      expect(r.code, r.output).toBe(0);
      expect(r.output).toContain('backend: webgpu (webgpu asked for by name: the WebGPU engine');
      expect(r.output).toContain('global batch 8 = 4 x 2 (2 ranks x 1 micro-batches each)');
      // Each rank asked the one-device layer for device <local rank>.
      expect(r.output).toMatch(/engine: each of the 2 ranks on \S+ sees only Vulkan device <local rank> mod \d+ \(@aim\/vulkan-device's layer\)/);
      if (twin) expect(r.output).toContain("sees only Vulkan device <local rank> mod 2 (@aim/vulkan-device's layer): a device each");
      expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).toContain('"kind":"train","step":2');
      // Rank 0 tuned (its lines are the ones shown) while rank 1 waited at the barrier, then read the file.
      expect(r.output).toContain("--gpu-tiles auto: tuning 17 of this model's 17 GEMMs");
      expect(readdirSync(join(cacheDir, 'gpu-tiles'))).toHaveLength(1);
    },
  );

  it("the README's launch through nx works as written: mpirun -np 2 -x NX_NATIVE_COMMAND_RUNNER=false npx nx run trainer:train", () => {
    const out = join(dir, 'runs/nx');
    const r = spawnSync(
      'mpirun',
      [
        '--oversubscribe',
        '--allow-run-as-root',
        '--bind-to',
        'none',
        '-np',
        '2',
        '-x',
        'NX_NATIVE_COMMAND_RUNNER=false',
        '-x',
        'NX_DAEMON=false',
        'npx',
        'nx',
        'run',
        'trainer:train',
        '--',
        ...common,
        '--steps',
        '2',
        '--out',
        out,
      ],
      { cwd: join(CWD, '..', '..'), encoding: 'utf8', timeout: 240_000 },
    );
    const output = r.stdout + r.stderr;
    expect(r.status, output).toBe(0);
    expect(output).toMatch(/data parallel: rank 0 of 2 /);
    expect(output).toMatch(/data parallel: rank 1 of 2 /);
    expect(output).toContain('global batch 8 = 4 x 2 (2 ranks x 1 micro-batches each)');
    expect(output).toMatch(/data \(rank 0's share\): \d+ images loaded, 0 rejected/);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).toContain('"kind":"train","step":2');
  });

  it('resuming with another world size is exact: 2 ranks stopped at step 4, resumed on 1, equal the 1-rank run bit for bit', async () => {
    const args = [...common, '--steps', '6', '--save-every', '2'];
    const single = (extra: string[]) =>
      spawnSync(process.execPath, ['--conditions=@aim/source', '--import', TSX, MAIN, ...extra], { cwd: CWD, encoding: 'utf8', timeout: 200_000 });
    const one = single([...args, '--out', join(dir, 'runs/ws1')]);
    expect(one.status, one.stderr).toBe(0);
    const two = await mpirunTrainer(2, [...args, '--stop-at', '4', '--out', join(dir, 'runs/ws2')]);
    expect(two.code, two.output).toBe(0);
    const resumed = single(['--resume', join(dir, 'runs/ws2')]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('(this process: 4 -> 6)');
    const model = (run: string) => readFileSync(join(dir, 'runs', run, 'checkpoints', 'step-00000006', 'model.safetensors'));
    expect(model('ws2').equals(model('ws1'))).toBe(true);
  });

  it('--data-split shards: each rank reads only its shards, and a run stopped at step 9 resumes on 2 ranks bit for bit; one process is refused, writing nothing', async () => {
    // The 64 images in 4 shards of 16: each rank reads 2 shards, 32 images an epoch.
    const writer = new ShardWriter({ pattern: join(dir, 'quarters-%02d.tar'), maxCount: 16, mtime: 0 });
    for await (const sample of readSamples(shards.train)) await writer.write({ __key__: sample.__key__, png: sample.png, cls: sample.cls });
    await writer.close();
    const args = [...common, '--data', join(dir, 'quarters-{00..03}.tar'), '--data-split', 'shards', '--steps', '12', '--save-every', '3'];
    const full = await mpirunTrainer(2, [...args, '--out', join(dir, 'runs/shards-full')]);
    expect(full.code, full.output).toBe(0);
    expect(full.output).toContain('each rank reads only its own shards, r, r+N, ... (--data-split shards)');

    const runDir = join(dir, 'runs/shards');
    const stopped = await mpirunTrainer(2, [...args, '--stop-at', '9', '--out', runDir]);
    expect(stopped.code, stopped.output).toBe(0);
    // 9 micro-batches of 4 per rank = 36 images: one epoch of the rank's 32, then 4. Reading every shard (the
    // 'samples' split) the ranks would share one 64-image epoch and stand at 8 and 4 of its second.
    const state = JSON.parse(readFileSync(join(runDir, 'checkpoints', 'step-00000009', 'state.json'), 'utf8'));
    expect(state.dataPosition.ranks).toMatchObject({
      dataSplit: 'shards',
      loaders: [
        { epoch: 1, samplesInEpoch: 4 },
        { epoch: 1, samplesInEpoch: 4 },
      ],
    });

    const metricsBefore = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8');
    const alone = spawnSync(process.execPath, ['--conditions=@aim/source', '--import', TSX, MAIN, '--resume', runDir], {
      cwd: CWD,
      encoding: 'utf8',
      timeout: 200_000,
    });
    expect(alone.status).toBe(1);
    expect(alone.stderr).toContain(
      "resume: this checkpoint's 2 ranks each read their own shards (--data-split shards), so it resumes only on 2 ranks with --data-split shards, not with one process",
    );
    // Refused before the run folder is written: no resume event in its metrics.
    expect(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')).toBe(metricsBefore);
    const resumed = await mpirunTrainer(2, ['--resume', runDir]);
    expect(resumed.code, resumed.output).toBe(0);
    expect(resumed.output).toContain('(this process: 9 -> 12)');
    const model = (run: string) => readFileSync(join(dir, 'runs', run, 'checkpoints', 'step-00000012', 'model.safetensors'));
    expect(model('shards').equals(model('shards-full'))).toBe(true);
  });
});
