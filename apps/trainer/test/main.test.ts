// The CLI as a user runs it (a child process on the cpu backend with small MNIST shards): stop-at then resume,
// SIGINT, a diverging run, missing data, --help and bad flags. Progress and messages go to stderr, the summary to stdout.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareMnist } from '@aim/shards';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
// Runs from this package's folder (decode workers resolve tsx from the working directory); outputs go to a temp dir.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const CWD = fileURLToPath(new URL('..', import.meta.url));
let dir: string;
let common: string[];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function trainer(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@aim/source', '--import', TSX, MAIN, ...args], { cwd: CWD });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aim-trainer-'));
  const shards = await prepareMnist(join(dir, 'cache'), () => {}, { limit: 64 });
  common = [
    '--preset',
    'smoke',
    '--variant',
    'aim-dev-nano',
    '--backend',
    'cpu',
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
    '--log-every',
    '1',
  ];
});

// Child processes share two cores with everything else: allow minutes, not the default 60 s.
describe('trainer CLI', { timeout: 240_000 }, () => {
  it('--stop-at saves and prints the resume command; --resume finishes the schedule', async () => {
    const first = await trainer([...common, '--steps', '6', '--stop-at', '3', '--out', join(dir, 'runs/a')]);
    expect(first.stderr).not.toMatch(/error/);
    expect(first.code, first.stderr.slice(-1500)).toBe(0);
    expect(first.stderr).toContain('"stopAt": 3');
    expect(first.stderr).toMatch(/step 3\/6 \| loss \d\.\d{4} \|.* lr \S+ \| [\d.]+ img\/s \| ETA \S+/);
    expect(first.stderr).not.toContain('looks like you are running TensorFlow.js');
    expect(first.stdout).not.toMatch(/step \d\/6 \|/);
    expect(first.stdout).toContain('stopped (--stop-at): step 3/6');
    expect(first.stdout).toContain(`resume with: npx nx run trainer:train -- --resume ${join(dir, 'runs/a')}`);

    const second = await trainer(['--resume', join(dir, 'runs/a')]);
    expect(second.code, second.stderr.slice(-1500)).toBe(0);
    expect(second.stderr).toContain(`resumed from ${join(dir, 'runs/a/checkpoints/step-00000003')} at step 3`);
    expect(second.stdout).toContain('done: step 6/6 (this process: 3 -> 6)');
    const steps = readFileSync(join(dir, 'runs/a/metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((r) => r.kind === 'train')
      .map((r) => r.step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    expect(existsSync(join(dir, 'runs/a/loss-curve.svg'))).toBe(true);
  });

  it('SIGINT finishes the step, saves, prints how to resume and exits 0', async () => {
    let sent = false;
    const r = await trainer([...common, '--steps', '400', '--out', join(dir, 'runs/sig')], (text, child) => {
      if (!sent && /step +2\/400/.test(text)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(r.code, r.stderr.slice(-1500)).toBe(0);
    expect(r.stderr).toContain('SIGINT: finishing the steps under way, then saving a checkpoint; resume with:');
    const reached = Number(/stopped \(signal\): step (\d+)\/400/.exec(r.stdout)?.[1]);
    expect(reached).toBeGreaterThanOrEqual(2);
    expect(reached).toBeLessThan(400);
    expect(r.stdout).toContain(`resume with: npx nx run trainer:train -- --resume ${join(dir, 'runs/sig')}`);
    // The checkpoint holds the step reached: the last step trained (metrics), the step printed, the step saved.
    const trained = readFileSync(join(dir, 'runs/sig/metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((rec) => rec.kind === 'train')
      .map((rec) => rec.step);
    expect(trained.at(-1)).toBe(reached);
    const latest = readFileSync(join(dir, 'runs/sig/checkpoints/latest'), 'utf8').trim();
    expect(latest).toBe(`step-${String(reached).padStart(8, '0')}`);
    const state = JSON.parse(readFileSync(join(dir, 'runs/sig/checkpoints', latest, 'state.json'), 'utf8'));
    expect(state.step).toBe(reached);
    expect(state.optimizerUpdates).toBe(reached);
  });

  it('a diverging run stops with an error naming the step', async () => {
    const r = await trainer([...common, '--steps', '10', '--lr', '1e30', '--warmup-start-lr', '1e29', '--clip-norm', '0', '--out', join(dir, 'runs/nan')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: loss is (NaN|Infinity|-Infinity) at step \d+; stopping without applying this update/);
  });

  it('bad flags exit 2 with one line naming the flag, the valid choices and the closest match', async () => {
    const r = await trainer(['--backend', 'wsam']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("trainer:train: --backend: 'wsam' is not one of auto, tensorflow, webgpu, wasm, cpu (did you mean 'wasm'?) (see --help)\n");
  });

  it('a bad --gpu-tiles file: exit 2, one line naming the file, the tile and what is wrong, no run folder', async () => {
    const out = join(dir, 'runs/tiles');
    const args = ['--preset', 'smoke', '--variant', 'aim-dev-nano', '--backend', 'cpu', '--no-val', '--out', out];
    const file = join(dir, 'tiles.json');
    writeFileSync(file, JSON.stringify({ format: 'aim-gemm-tiles/1', adapter: 'x', tiles: { 'NN n64 k64': { bm: 64, bn: 64, bk: 0, tm: 4, tn: 4 } } }));
    const bad = await trainer([...args, '--gpu-tiles', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`trainer:train: --gpu-tiles ${file}: tile "NN n64 k64": bk must be a positive integer, got 0 (see --help)\n`);
    const missing = await trainer([...args, '--gpu-tiles', join(dir, 'none.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--gpu-tiles ${join(dir, 'none.json')}: cannot read it (ENOENT)`);
    expect(existsSync(out)).toBe(false);
  });

  it('--help prints the usage on stdout and exits 0', async () => {
    const r = await trainer(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('usage: npx nx run trainer:train');
    expect(r.stdout).toContain('--no-val');
  });

  it('missing shards: one line naming the missing file (and how many more), exit 1, no run folder left; --verbose adds the stack', async () => {
    const out = join(dir, 'runs/missing');
    const args = ['--preset', 'smoke', '--variant', 'aim-dev-nano', '--backend', 'cpu', '--workers', '1', '--no-val', '--out', out];
    const r = await trainer([...args, '--data', '/nonexistent/x-{000..001}.tar']);
    expect(r.code).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('trainer:train:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^trainer:train: error: .*read no samples: .*\/nonexistent\/x-00[01]\.tar.*no such file \(and 1 more read error\)/);
    expect(r.stderr).not.toContain('    at ');
    expect(existsSync(out)).toBe(false);
    const v = await trainer([...args, '--data', '/nonexistent/x-000.tar', '--verbose']);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain('    at ');
    expect(existsSync(out)).toBe(false);
  });
});
