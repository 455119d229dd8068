// Config resolution order, presets (paper recipes at global batch 4096), and errors that name the valid choices.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, PRESETS, checkValues, flagsToValues, formatConfig, readConfigFile, resolveConfig } from '../src/index.js';

describe('resolveConfig', () => {
  it('defaults to the demo preset on MNIST with the paper optimiser settings', () => {
    const c = resolveConfig();
    expect(c.preset).toBe('demo');
    expect(c.data).toBe('mnist');
    expect([c.lr, c.beta1, c.beta2, c.eps, c.weightDecay, c.clipNorm, c.warmupFraction, c.warmupStartLr, c.finalLr]).toEqual([
      1e-3, 0.9, 0.95, 1e-8, 0.05, 1.0, 0.025, 1e-6, 0,
    ]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('applies defaults, then preset, then file, then flags', () => {
    const file = checkValues({ steps: 77, lr: 5e-4, batchSize: 4 }, 'test file');
    const flags = flagsToValues(new Map([['--lr', '2e-4']]));
    const c = resolveConfig({ preset: 'smoke', file, flags });
    expect(c.lr).toBe(2e-4); // flag beats file
    expect(c.steps).toBe(77); // file beats preset
    expect(c.valBatches).toBe(PRESETS.smoke.values.valBatches); // preset beats default
    expect(c.keep).toBe(DEFAULT_CONFIG.keep);
    expect(c.preset).toBe('smoke');
  });

  it('paper presets use global batch 4096 through accumulation, split web-scale data by shards and require --data', () => {
    for (const name of ['aim-600M', 'aim-1B', 'aim-3B', 'aim-7B']) {
      expect(() => resolveConfig({ preset: name })).toThrow(/needs training data: pass --data/);
      const c = resolveConfig({ preset: name, flags: flagsToValues(new Map([['--data', '/d/{0..9}.tar']])) });
      expect(c.batchSize * c.accum).toBe(4096);
      expect(c.variant).toBe(name);
      expect(c.lr).toBe(1e-3);
      expect(c.steps).toBe(name === 'aim-600M' ? 500_000 : 1_200_000);
      expect(c.dataSplit).toBe('shards');
    }
  });

  it('every preset names the command that runs it and what it prints', () => {
    for (const [name, p] of Object.entries(PRESETS)) {
      expect(p.name).toBe(name);
      expect(p.command).toMatch(/^npx nx run trainer:train/);
      if (name !== 'demo') expect(p.command).toContain(`--preset ${name}`);
      expect(p.prints.length).toBeGreaterThan(20);
    }
  });

  it('names valid choices in errors', () => {
    expect(() => resolveConfig({ preset: 'aim-600m' })).toThrow(
      /unknown preset 'aim-600m' \(did you mean 'aim-600M'\?\); valid presets: demo, smoke, aim-600M/,
    );
    expect(() => flagsToValues(new Map([['--lrate', '1']]))).toThrow(/unknown flag --lrate.*valid flags: .*--lr /);
    expect(() => flagsToValues(new Map([['--steps', 'ten']]))).toThrow(/--steps: must be an integer >= 1, got 'ten'/);
    expect(() => flagsToValues(new Map([['--steps', '2.5']]))).toThrow(/'steps' must be an integer >= 1, got 2.5/);
    expect(() => flagsToValues(new Map([['--backend', 'gpu']]))).toThrow(/'backend' must be one of 'auto', 'tensorflow', 'webgpu', 'wasm', 'cpu', got "gpu"/);
    expect(() => checkValues({ batch_size: 3 }, 'f.json')).toThrow(
      /f.json: unknown key 'batch_size' \(did you mean 'batchSize'\?\); valid keys: preset, variant/,
    );
    expect(() => checkValues({ lr: '1e-3' }, 'f.json')).toThrow(/f.json: 'lr' must be a number > 0, got "1e-3"/);
    expect(() => checkValues([1], 'f.json')).toThrow(/must be a JSON object/);
    expect(() => resolveConfig({ flags: flagsToValues(new Map([['--stop-at', '5000']])) })).toThrow(/stopAt \(5000\) must be <= steps/);
  });

  it('a printed/saved config is a valid --config file that resolves to the same config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aim-config-'));
    const original = resolveConfig({ preset: 'smoke', flags: flagsToValues(new Map([['--seed', '7']])) });
    writeFileSync(join(dir, 'config.json'), formatConfig(original));
    const again = resolveConfig({ file: readConfigFile(join(dir, 'config.json')) });
    expect(again).toEqual(original);
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    expect(() => readConfigFile(join(dir, 'bad.json'))).toThrow(/bad.json: not valid JSON/);
    expect(() => readConfigFile(join(dir, 'missing.json'))).toThrow(/missing.json: cannot read it/);
  });
});
