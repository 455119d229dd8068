// Gradients of the full pretraining loss (trunk + head) against central finite differences, on every backend.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AimModel, Rng, createAim, numPatches, patchDim, samplePrefixLengths } from '../src/index.js';
import { backendsUnderTest, useBackend } from './backends.js';

// Tensors spread over the patch embedding, every kind of trunk layer and the pretraining head.
const CHECKED = [
  'preprocessor.patchifier.proj.weight',
  'preprocessor.patchifier.proj.bias',
  'preprocessor.patchifier.norm.weight',
  'trunk.blocks.0.norm_1.bias',
  'trunk.blocks.0.attn.qkv.weight',
  'trunk.blocks.1.attn.proj.weight',
  'trunk.blocks.1.mlp.fc1.weight',
  'trunk.blocks.0.mlp.fc2.weight',
  'trunk.post_trunk_norm.weight',
  'pretrain_head.decoder_projection.weight',
  'pretrain_head.decoder_blocks.0.norm_1.weight',
  'pretrain_head.decoder_blocks.1.mlp.fc2.weight',
  'pretrain_head.decoder_pred.weight',
  'pretrain_head.decoder_pred.bias',
];

// float32 central differences with step 1e-2 along a unit direction: round-off (~1e-7 of a loss of order 1,
// divided by the step) and truncation (O(step^2)) keep a correct gradient within ~1e-5 relative along its own
// direction and ~5e-6 absolute along a random one (measured on cpu). ABS_TOL leaves ~4x headroom and is the sharp
// check; REL_TOL is far looser (~200x). A wrong term (e.g. the GELU derivative's x*phi(x) scaled by 0.8) misses
// them by an order of magnitude.
const STEP = 1e-2;
const REL_TOL = 2e-3;
const ABS_TOL = 2e-5;

for (const backend of backendsUnderTest) {
  describe(`pretraining-loss gradients on ${backend.name}`, () => {
    let model: AimModel;
    let patches: tf.Tensor3D;
    let prefix: Int32Array;
    let grads: Map<string, Float32Array>;

    // data(), not dataSync(): WebGPU in Node has no synchronous readback.
    const loss = async (): Promise<number> => {
      const l = model.pretrainLoss(patches, prefix);
      const v = (await l.data())[0];
      l.dispose();
      return v;
    };

    /** Central difference of the loss along `dir` (a unit vector over one parameter). */
    const numericDirectional = async (name: string, dir: Float32Array): Promise<number> => {
      const v = model.parameters().find((p) => p.name === name)!.variable;
      const orig = tf.clone(v);
      const shift = (s: number): Promise<number> => {
        tf.tidy(() => v.assign(tf.add(orig, tf.mul(tf.tensor(dir, v.shape), s))));
        return loss();
      };
      const up = await shift(STEP);
      const down = await shift(-STEP);
      v.assign(orig);
      orig.dispose();
      return (up - down) / (2 * STEP);
    };

    beforeAll(async () => {
      await useBackend(backend.name);
      model = createAim('aim-dev-nano', {}, { seed: 3 });
      const c = model.config;
      const rng = new Rng(42);
      const values = Float32Array.from({ length: 2 * numPatches(c) * patchDim(c) }, () => rng.normal());
      patches = tf.tensor3d(values, [2, numPatches(c), patchDim(c)]);
      prefix = samplePrefixLengths(2, numPatches(c), 9);
      const params = model.parameters();
      const { value, grads: g } = tf.variableGrads(
        () => model.pretrainLoss(patches, prefix),
        params.map((p) => p.variable),
      );
      value.dispose();
      grads = new Map();
      for (const p of params) {
        grads.set(p.name, (await g[p.variable.name].data()) as Float32Array);
        g[p.variable.name].dispose();
      }
    });

    afterAll(() => {
      model.dispose();
      patches.dispose();
    });

    it('returns a gradient for every parameter', () => {
      expect(grads.size).toBe(model.parameters().length);
      for (const name of CHECKED) expect(grads.has(name), name).toBe(true);
    });

    for (const name of CHECKED) {
      it(`${name}: agrees with finite differences along its own direction and a random one`, async () => {
        const g = grads.get(name)!;
        const norm = Math.hypot(...g);
        expect(norm, 'gradient is zero: nothing to check').toBeGreaterThan(1e-4);
        // Along g/|g| the derivative is |g|; along a random unit direction it is g . u.
        const rng = new Rng(name.length * 7919);
        const random = Float32Array.from(g, () => rng.normal());
        const rnorm = Math.hypot(...random);
        random.forEach((x, i) => (random[i] = x / rnorm));
        const ownDir = Float32Array.from(g, (x) => x / norm);
        for (const [dir, analytic] of [
          [ownDir, norm],
          [random, g.reduce((s, x, i) => s + x * random[i], 0)],
        ] as const) {
          const numeric = await numericDirectional(name, dir);
          expect(Math.abs(numeric - analytic), `${name}: numeric ${numeric} vs analytic ${analytic}`).toBeLessThanOrEqual(
            REL_TOL * Math.abs(analytic) + ABS_TOL,
          );
        }
      });
    }

    it('activation checkpointing (recomputeBlocks) gives the same loss and gradients', async () => {
      const twin = createAim('aim-dev-nano', {}, { seed: 3, recomputeBlocks: true });
      const params = twin.parameters();
      const { value, grads: g } = tf.variableGrads(
        () => twin.pretrainLoss(patches, prefix),
        params.map((p) => p.variable),
      );
      const [lossTwin, lossRef] = [(await value.data())[0], await loss()];
      expect(Math.abs(lossTwin - lossRef)).toBeLessThanOrEqual(1e-6 * Math.abs(lossRef));
      let worst = 0;
      for (const p of params) {
        const a = (await g[p.variable.name].data()) as Float32Array;
        const b = grads.get(p.name)!;
        const scale = Math.max(...b.map(Math.abs), 1e-12);
        worst = Math.max(worst, Math.max(...a.map((x, i) => Math.abs(x - b[i]))) / scale);
      }
      expect(worst, `largest relative gradient difference ${worst}`).toBeLessThanOrEqual(1e-4);
      value.dispose();
      tf.dispose(g);
      twin.dispose();
    });

    it('agrees entry by entry on the largest gradient entries of three tensors', async () => {
      for (const name of ['trunk.blocks.0.attn.qkv.weight', 'pretrain_head.decoder_pred.weight', 'preprocessor.patchifier.proj.weight']) {
        const g = grads.get(name)!;
        const order = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]));
        for (const i of order.slice(0, 3)) {
          const dir = new Float32Array(g.length);
          dir[i] = 1;
          const numeric = await numericDirectional(name, dir);
          expect(Math.abs(numeric - g[i]), `${name}[${i}]: numeric ${numeric} vs analytic ${g[i]}`).toBeLessThanOrEqual(REL_TOL * Math.abs(g[i]) + ABS_TOL);
        }
      }
    });
  });
}
