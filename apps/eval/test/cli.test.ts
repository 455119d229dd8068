// eval:probe and eval:features as a user runs them (child processes): --help on stdout with exit 0, usage errors as
// one line with exit 2, a failure as one line with exit 1 (the stack only with --verbose).
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const CWD = fileURLToPath(new URL('..', import.meta.url));

function run(script: 'main-probe.ts' | 'main-features.ts', args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const main = fileURLToPath(new URL(`../src/${script}`, import.meta.url));
  return new Promise((resolve) => {
    execFile(process.execPath, ['--conditions=@aim/source', '--import', TSX, main, ...args], { cwd: CWD }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('eval CLI', { timeout: 120_000 }, () => {
  it('eval:probe --help: usage on stdout, exit 0', async () => {
    const r = await run('main-probe.ts', ['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('usage: npx nx run eval:probe');
    expect(r.stdout).toContain('--variant');
    expect(r.stdout).toContain('--cache-dir');
    expect(r.stdout).toContain('auto|tensorflow|webgpu|wasm|cpu');
  });

  it('eval:features --help: usage on stdout, exit 0', async () => {
    const r = await run('main-features.ts', ['--help']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain('usage: npx nx run eval:features');
  });

  it('a usage error: one line naming the flag, the choices and the closest match, exit 2', async () => {
    const r = await run('main-probe.ts', ['--checkpoint', 'x', '--probe', 'linaer']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("eval:probe: --probe: 'linaer' is not one of attentive, linear, knn (did you mean 'linear'?) (see --help)\n");
  });

  it('a bad --gpu-tiles file: one line naming the file and what is wrong, exit 2, before anything runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aim-eval-tiles-'));
    const file = join(dir, 'tiles.json');
    writeFileSync(file, '{"format": "aim-gemm-tiles/0"');
    const features = await run('main-features.ts', ['--checkpoint', 'x', '--input', 'y', '--out', join(dir, 'out'), '--gpu-tiles', file]);
    expect([features.code, features.stdout]).toEqual([2, '']);
    expect(features.stderr).toMatch(new RegExp(`^eval:features: --gpu-tiles ${file}: not JSON \\(.*\\) \\(see --help\\)\n$`));
    const probe = await run('main-probe.ts', ['--checkpoint', 'x', '--gpu-tiles', join(dir, 'none.json')]);
    expect([probe.code, probe.stdout]).toEqual([2, '']);
    expect(probe.stderr).toBe(
      `eval:probe: --gpu-tiles ${join(dir, 'none.json')}: cannot read it (ENOENT): it takes 'auto' or a file of tuned tiles (see --help)\n`,
    );
  });

  it('a failure: one line with the cause, exit 1; --verbose adds the stack', async () => {
    const args = ['--checkpoint', '/nonexistent/model.safetensors', '--input', '/nonexistent/in.safetensors', '--out', '/tmp/x', '--backend', 'cpu'];
    const r = await run('main-features.ts', args);
    expect(r.code).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('eval:features:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^eval:features: error: .*\/nonexistent\//);
    // progress (the backend line) goes to stderr; stdout carries only results
    expect(r.stderr).toMatch(/^backend: cpu /m);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toContain('    at ');
    const v = await run('main-features.ts', [...args, '--verbose']);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain('    at ');
  });
});
