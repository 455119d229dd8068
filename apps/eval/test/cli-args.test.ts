import { describe, expect, it } from 'vitest';
import { parseBlocks, parseFeaturesArgs, parseProbeArgs } from '../src/cli-args.js';

describe('parseProbeArgs', () => {
  it('fills defaults and parses flags', () => {
    const a = parseProbeArgs(['--checkpoint', 'runs/x', '--probe', 'knn', '--blocks', '1,3-4', '--no-sweep', '--lr', '3e-4']);
    expect(a.checkpoint).toBe('runs/x');
    expect(a.probe).toBe('knn');
    expect(a.blocks).toEqual({ kind: 'list', blocks: [1, 3, 4] });
    expect(a.sweep).toBe(false);
    expect(a.baselines).toBe(true);
    expect(a.lr).toBe(3e-4);
    expect(a.train).toBe('mnist:train');
    expect(a.knnK).toBe(20);
    expect(a.knnTemperature).toBe(0.07);
  });

  it('accepts --random-init with --variant, and --cache-dir as the trainer spells it', () => {
    const a = parseProbeArgs(['--random-init', '--variant', 'aim-tiny', '--cache-dir', 'c']);
    expect(a.randomInit).toBe(true);
    expect(a.variant).toBe('aim-tiny');
    expect(a.cacheDir).toBe('c');
    expect(parseProbeArgs(['--checkpoint', 'x']).cacheDir).toBe('cache');
  });

  it('names the flag, the valid choices and the closest match on bad input', () => {
    expect(() => parseProbeArgs(['--checkpoint', 'x', '--probe', 'svm'])).toThrow(/--probe: 'svm' is not one of attentive, linear, knn/);
    expect(() => parseProbeArgs(['--checkpoint', 'x', '--backend', 'cuda'])).toThrow(/--backend: 'cuda' is not one of auto, tensorflow, webgpu, wasm, cpu/);
    expect(() => parseProbeArgs(['--checkpoint', 'x', '--probe', 'linaer'])).toThrow("(did you mean 'linear'?)");
    expect(() => parseProbeArgs(['--checkpoint', 'x', '--epochs', '2.5'])).toThrow(/--epochs: must be an integer >= 1, got '2.5'/);
    expect(() => parseProbeArgs(['--checkpoint', 'x', '--lr=-1'])).toThrow(/--lr: must be a positive number, got '-1'/);
    expect(() => parseProbeArgs(['--checkpoint', 'x', '--bogus'])).toThrow(/unknown flag --bogus; valid flags: /);
    expect(() => parseProbeArgs(['--checkpoint', 'x', '--preset', 'aim-dev-tiny'])).toThrow(/unknown flag --preset \(did you mean --variant\?\)/);
    expect(() => parseProbeArgs(['--checkpoint', 'x', '--cache', 'c'])).toThrow(/unknown flag --cache \(did you mean --cache-dir\?\)/);
    expect(() => parseProbeArgs([])).toThrow(/--checkpoint <run dir or file> or --random-init --variant/);
    expect(() => parseProbeArgs(['--random-init'])).toThrow(/--random-init needs --variant/);
    expect(() => parseProbeArgs(['--random-init', '--variant', 'a', '--checkpoint', 'x'])).toThrow(/exclude each other/);
    expect(() => parseProbeArgs(['--checkpoint', 'x', '--epochs', '2', '--warmup-epochs', '2'])).toThrow(/warmup-epochs/);
  });
});

describe('parseBlocks', () => {
  it('parses keywords, lists and ranges and rejects junk', () => {
    expect(parseBlocks('last')).toEqual({ kind: 'last' });
    expect(parseBlocks('best')).toEqual({ kind: 'best' });
    expect(parseBlocks('5,2')).toEqual({ kind: 'list', blocks: [2, 5] });
    expect(() => parseBlocks('2,2')).toThrow(/twice/);
    expect(() => parseBlocks('4-2')).toThrow(/backwards/);
    expect(() => parseBlocks('first')).toThrow(/not 'last', 'best' or a list/);
  });
});

describe('parseFeaturesArgs', () => {
  it('requires checkpoint, input and out', () => {
    expect(parseFeaturesArgs(['--checkpoint', 'a', '--input', 'b', '--out', 'c'])).toEqual({
      checkpoint: 'a',
      input: 'b',
      out: 'c',
      backend: undefined,
      gpuBoundsChecks: false,
    });
    expect(() => parseFeaturesArgs(['--checkpoint', 'a', '--out', 'c'])).toThrow(/--input is required/);
  });

  it('--gpu-bounds-checks on|off (off when absent); any other value is a usage error naming the choices', () => {
    const base = ['--checkpoint', 'a', '--input', 'b', '--out', 'c'];
    expect(parseFeaturesArgs([...base, '--gpu-bounds-checks', 'on']).gpuBoundsChecks).toBe(true);
    expect(parseFeaturesArgs([...base, '--gpu-bounds-checks', 'off']).gpuBoundsChecks).toBe(false);
    expect(() => parseFeaturesArgs([...base, '--gpu-bounds-checks', 'yes'])).toThrow(/--gpu-bounds-checks.*off, on/);
  });

  it('--gpu-tiles auto and --cache-dir (where auto keeps its tiles, as in eval:probe and the trainer)', () => {
    const base = ['--checkpoint', 'a', '--input', 'b', '--out', 'c'];
    const args = parseFeaturesArgs([...base, '--gpu-tiles', 'auto', '--cache-dir', 'd']);
    expect([args.gpuTiles, args.cacheDir]).toEqual(['auto', 'd']);
  });
});
