// The CLI: flags reach the config in the documented order; bad input fails naming the valid choices.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/cli.js';
import { formatDuration, formatProgress } from '../src/progress.js';

const train = (argv: string[]) => {
  const cmd = parseArgs(argv);
  if (cmd.kind !== 'train') throw new Error('expected a train command');
  return cmd.config;
};

describe('parseArgs', () => {
  it('no arguments: the demo preset on the built-in MNIST data', () => {
    const c = train([]);
    expect(c.preset).toBe('demo');
    expect(c.data).toBe('mnist');
  });

  it('accepts every documented flag form', () => {
    const c = train([
      '--preset',
      'smoke',
      '--data',
      '/d/{0..3}.tar',
      '--val-data',
      '/v/0.tar',
      '--steps',
      '40',
      '--batch-size',
      '4',
      '--accum',
      '2',
      '--lr=3e-4',
      '--backend',
      'cpu',
      '--workers',
      '1',
      '--seed',
      '9',
      '--out',
      'runs/x',
      '--save-every',
      '5',
      '--keep',
      '2',
      '--stop-at',
      '20',
      '--resume',
    ]);
    expect(c).toMatchObject({
      preset: 'smoke',
      data: '/d/{0..3}.tar',
      valData: '/v/0.tar',
      steps: 40,
      batchSize: 4,
      accum: 2,
      lr: 3e-4,
      backend: 'cpu',
      workers: 1,
      seed: 9,
      out: 'runs/x',
      saveEvery: 5,
      keep: 2,
      stopAt: 20,
      resume: 'latest',
    });
    expect(train(['--resume', 'runs/a/checkpoints/step-00000010']).resume).toBe('runs/a/checkpoints/step-00000010');
  });

  it('reads --config files, and flags override them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aim-cli-'));
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ preset: 'smoke', steps: 12, lr: 2e-3 }));
    const c = train(['--config', join(dir, 'c.json'), '--lr', '5e-4']);
    expect([c.preset, c.steps, c.lr]).toEqual(['smoke', 12, 5e-4]);
  });

  it('errors name the flag, the valid choices and the closest match', () => {
    expect(() => parseArgs(['--stpes', '3'])).toThrow(/unknown flag --stpes \(did you mean --steps\?\); valid flags:/);
    expect(() => parseArgs(['--backend', 'cuda'])).toThrow("--backend: 'cuda' is not one of auto, tensorflow, webgpu, wasm, cpu");
    expect(() => parseArgs(['--backend', 'wsam'])).toThrow("(did you mean 'wasm'?)");
    expect(() => parseArgs(['--preset', 'nope'])).toThrow(/is not one of demo, smoke, aim-600M, aim-1B, aim-3B, aim-7B/);
    expect(() => parseArgs(['--steps'])).toThrow(/flag --steps needs a value/);
    expect(() => parseArgs(['steps', '3'])).toThrow(/unexpected argument 'steps'/);
    expect(() => parseArgs(['--batch-size', '0'])).toThrow(/'batchSize' must be an integer >= 1, got 0/);
  });

  it('--no-val (which survives nx, unlike an empty argument) and --val-data= both mean no validation', () => {
    expect(train(['--no-val']).valData).toBe('');
    expect(train(['--val-data=']).valData).toBe('');
    expect(train([]).valData).toBe('mnist');
    expect(() => parseArgs(['--no-val', '--val-data', 'mnist'])).toThrow('--no-val and --val-data contradict each other');
    expect(() => parseArgs(['--val'])).toThrow('--no-val turns validation off');
    // what `nx run trainer:train -- --val-data ''` delivers: nx drops the empty argument
    expect(() => parseArgs(['--val-data'])).toThrow("flag --val-data needs a value; for no validation use --no-val (nx drops an empty '')");
  });

  it('--help lists flags and every preset with its command', () => {
    const cmd = parseArgs(['--help']);
    expect(cmd.kind).toBe('help');
    if (cmd.kind === 'help') {
      expect(cmd.text).toContain('--stop-at');
      expect(cmd.text).toContain('npx nx run trainer:train -- --preset aim-7B');
    }
  });
});

describe('progress', () => {
  it('formats the progress line with step, loss, lr, img/s and ETA', () => {
    expect(formatProgress({ step: 7, totalSteps: 100, loss: 0.51234, lr: 0.00098, imagesPerSecond: 41.26, etaSeconds: 185 })).toBe(
      'step   7/100 | loss 0.5123 | lr 9.80e-4 | 41.3 img/s | ETA 3m05s',
    );
    expect(formatDuration(7300)).toBe('2h01m');
    expect(formatDuration(NaN)).toBe('?');
  });
});
