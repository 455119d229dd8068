// The variant registry: every row is valid; paper rows match the published sizes; dev rows build and run.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AIM_VARIANTS,
  AIM_VARIANT_NAMES,
  AimModel,
  aimStateSpecs,
  createAim,
  numPatches,
  patchDim,
  pretrainHeadParamCount,
  resolveAimConfig,
  samplePrefixLengths,
  trunkParamCount,
} from '../src/index.js';

const PAPER_TRUNK_PARAMS: Record<string, number> = {
  'aim-600M': 0.68e9,
  'aim-1B': 1.21e9,
  'aim-3B': 2.72e9,
  'aim-7B': 6.45e9,
};

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

beforeAll(async () => {
  // wasm: the 25M development row's forward pass takes ~30 s on the plain-JS cpu backend.
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('AIM_VARIANTS', () => {
  it('is frozen, including nested probe blocks', () => {
    expect(Object.isFrozen(AIM_VARIANTS)).toBe(true);
    for (const row of Object.values(AIM_VARIANTS)) {
      expect(Object.isFrozen(row)).toBe(true);
      expect(Object.isFrozen(row.probeBlocks.last)).toBe(true);
    }
    expect(() => {
      (AIM_VARIANTS['aim-600M'] as { width: number }).width = 1;
    }).toThrow();
  });

  it('has the four paper variants with head dim 128 and the released probe blocks', () => {
    const best: Record<string, number> = { 'aim-600M': 14, 'aim-1B': 12, 'aim-3B': 12, 'aim-7B': 14 };
    for (const [name, first] of Object.entries(best)) {
      const c = AIM_VARIANTS[name];
      expect(c.width / c.heads).toBe(128);
      expect(c.mlpDim).toBe(4 * c.width);
      expect([c.imageSize, c.patchSize, numPatches(c), patchDim(c)]).toEqual([224, 14, 256, 588]);
      expect([c.headWidth, c.headDepth, c.headMlpDim]).toEqual([2048, 12, 8192]);
      expect(c.probeBlocks.best).toEqual([0, 1, 2, 3, 4, 5].map((i) => first + i));
      expect(c.probeBlocks.last).toEqual([0, 1, 2, 3, 4, 5].map((i) => c.depth - 6 + i));
    }
  });

  it('has a development variant of about 5M parameters in total', () => {
    const c = AIM_VARIANTS['aim-dev-5M'];
    const total = trunkParamCount(c) + pretrainHeadParamCount(c);
    expect(total).toBeGreaterThan(4.5e6);
    expect(total).toBeLessThan(5.5e6);
  });

  for (const name of AIM_VARIANT_NAMES) {
    const config = AIM_VARIANTS[name];

    it(`${name}: valid, and the parameter counts agree with the state-dict shapes`, () => {
      expect(resolveAimConfig(name)).toEqual(config);
      const specs = aimStateSpecs(config, { pretrainHead: true });
      const trunk = specs.filter((s) => !s.name.startsWith('pretrain_head.'));
      const head = specs.filter((s) => s.name.startsWith('pretrain_head.'));
      expect(trunk.reduce((n, s) => n + sizeOf(s.shape), 0)).toBe(trunkParamCount(config));
      expect(head.reduce((n, s) => n + sizeOf(s.shape), 0)).toBe(pretrainHeadParamCount(config));
      expect(new Set(specs.map((s) => s.name)).size).toBe(specs.length);
    });

    if (name in PAPER_TRUNK_PARAMS) {
      it(`${name}: trunk parameters within 0.1% of the paper's ${PAPER_TRUNK_PARAMS[name] / 1e9}B (counted, not built)`, () => {
        const count = trunkParamCount(config);
        expect(Math.abs(count / PAPER_TRUNK_PARAMS[name] - 1)).toBeLessThan(0.001); // measured: 0.08%, 0.05%, 0.001%, 0.07%
      });
    } else {
      it(`${name}: builds, runs the pretraining forward pass and the loss, and counts match the variables`, async () => {
        const before = tf.memory().numTensors;
        const model = createAim(name, {}, { seed: 1 });
        expect(model.parameterCount()).toBe(trunkParamCount(config) + pretrainHeadParamCount(config));
        const k = numPatches(config);
        const patches = tf.randomNormal([2, k, patchDim(config)], 0, 1, 'float32', 3) as tf.Tensor3D;
        const prefix = samplePrefixLengths(2, k, 5);
        const pred = model.forwardPretrain(patches, prefix);
        expect(pred.shape).toEqual([2, k, patchDim(config)]);
        const loss = model.pretrainLoss(patches, prefix);
        const value = (await loss.data())[0];
        // Fresh model, standardised targets: the loss is of order 1 and finite.
        expect(Number.isFinite(value)).toBe(true);
        expect(value).toBeGreaterThan(0.1);
        expect(value).toBeLessThan(10);
        tf.dispose([pred, loss, patches]);
        model.dispose();
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }
});

describe('resolveAimConfig', () => {
  it('applies overrides and re-derives probe blocks when only the depth changes', () => {
    const c = resolveAimConfig('aim-dev-5M', { depth: 4 });
    expect(c.depth).toBe(4);
    expect(c.probeBlocks.last).toEqual([0, 1, 2, 3]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('rejects unknown variants and keys with the valid choices, and bad values with the field name', () => {
    expect(() => resolveAimConfig('aim-2B')).toThrow(/unknown AIM variant 'aim-2B' \(valid: aim-600M, aim-1B/);
    expect(() => resolveAimConfig('aim-dev-tiny', { widht: 64 } as never)).toThrow(/unknown AimConfig override 'widht'.*width/);
    expect(() => resolveAimConfig('aim-dev-tiny', { heads: 5 })).toThrow(/'width' \(64\) must be a multiple of 'heads' \(5\)/);
    expect(() => resolveAimConfig('aim-dev-tiny', { patchSize: 5 })).toThrow(/'imageSize' \(32\) must be a multiple of 'patchSize'/);
    expect(() => resolveAimConfig('aim-dev-tiny', { depth: 0 })).toThrow(/'depth' must be a positive integer/);
    expect(() => new AimModel('aim-dev-tiny' as never)).toThrow("new AimModel('aim-dev-tiny'): pass a resolved config (createAim('aim-dev-tiny') builds");
    expect(() => resolveAimConfig('aim-dev-tiny', { probeBlocks: { last: [3], best: [0] } })).toThrow(/'probeBlocks.last' has block 3 outside 0..2/);
  });

  it('fills a hand-written config with the paper defaults', () => {
    const c = resolveAimConfig({ name: 'mine', imageSize: 32, patchSize: 8, width: 64, depth: 8, heads: 2 });
    expect(c).toMatchObject({ mlpDim: 256, headWidth: 2048, headDepth: 12, headMlpDim: 8192 });
    expect(c.probeBlocks).toEqual({ last: [2, 3, 4, 5, 6, 7], best: [2, 3, 4, 5, 6, 7] });
    expect(() => resolveAimConfig({ name: 'bad', imageSize: 32, patchSize: 8, width: 64, heads: 2 } as never)).toThrow(/'depth' must be a positive integer/);
  });

  it('createAim is deterministic in the seed', async () => {
    const a = createAim('aim-dev-nano', {}, { seed: 7 });
    const b = createAim('aim-dev-nano', {}, { seed: 7 });
    const c = createAim('aim-dev-nano', {}, { seed: 8 });
    const name = 'trunk.blocks.1.mlp.fc1.weight';
    const [va, vb, vc] = await Promise.all([a, b, c].map((m) => m.stateTensor(name).data()));
    expect(Array.from(va)).toEqual(Array.from(vb));
    expect(Array.from(va)).not.toEqual(Array.from(vc));
    for (const m of [a, b, c]) m.dispose();
  });
});
