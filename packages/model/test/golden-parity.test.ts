// Parity with apple/ml-aim's torch model on the shared golden fixtures, on every backend under test.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AimModel, type AttentiveProbe, loadAimCheckpoint, normalizePatchTargets, normalizedPixelLoss, prefixLengthsFromMask } from '../src/index.js';
import { backendsUnderTest, useBackend } from './backends.js';
import { goldenPath, parityError, readGoldenIo, take } from './golden.js';

const io = await readGoldenIo('aim-golden-small.io.safetensors');
function golden(name: string): { shape: number[]; data: Float32Array } {
  const t = io.get(name);
  if (t === undefined) throw new Error(`golden io has no tensor '${name}'`);
  return t as { shape: number[]; data: Float32Array };
}

for (const backend of backendsUnderTest) {
  describe(`golden parity on ${backend.name} (rel error <= ${backend.relTol}, elementwise <= ${backend.elemTol})`, () => {
    let model: AimModel;
    let probe: AttentiveProbe;
    let images: tf.Tensor4D;
    let patches: tf.Tensor3D;
    let prefixLengths: Int32Array;

    beforeAll(async () => {
      await useBackend(backend.name);
      const loaded = await loadAimCheckpoint(goldenPath('aim-golden-small.weights.safetensors'));
      model = loaded.model;
      if (loaded.probe === null) throw new Error('golden weights have no attentive probe');
      probe = loaded.probe;
      const input = golden('input');
      images = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
      patches = model.patchify(images);
      const mask = io.get('prefix_mask')!;
      prefixLengths = prefixLengthsFromMask(mask.data, mask.shape[0], mask.shape[1]);
    });

    afterAll(() => {
      model.dispose();
      probe.dispose();
      images.dispose();
      patches.dispose();
    });

    const expectClose = (actual: Float32Array, name: string): void => {
      const want = golden(name).data;
      const err = parityError(actual, want);
      expect(err.maxRel, `${name}: max|a-b|/max|b| = ${err.maxRel}`).toBeLessThanOrEqual(backend.relTol);
      const at = err.elemIndex;
      expect(err.elemRel, `${name}: elementwise rel error ${err.elemRel} at [${at}] (${actual[at]} vs ${want[at]})`).toBeLessThanOrEqual(backend.elemTol);
    };

    it('reads the fixture config from the apple/ml-aim metadata keys', () => {
      expect(model.config).toMatchObject({ imageSize: 32, patchSize: 8, width: 64, depth: 3, heads: 4 });
      expect(model.config.probeBlocks.last).toEqual([1, 2]);
      expect(probe.numClasses).toBe(10);
    });

    it('patchifies in the MAE layout', async () => {
      expectClose((await patches.data()) as Float32Array, 'patches');
    });

    it('embeds tokens (patch embedding + LayerNorm + sin-cos positions)', async () => {
      expectClose(await take(model.embed(patches)), 'tokens');
    });

    it('reproduces every block output with bidirectional attention', async () => {
      const feats = model.extractFeatures(patches, { blocks: [0, 1, 2] });
      for (let i = 0; i < feats.length; i++) expectClose(await take(feats[i]), `features.${i}`);
    });

    it('reproduces the prefix-causal last block and post-trunk norm', async () => {
      const [last] = model.extractFeatures(patches, { blocks: [2], prefixLengths });
      expectClose(await take(last), 'prefix_causal.last');
      expectClose(await take(model.encode(patches, { prefixLengths })), 'prefix_causal.post_norm');
    });

    it('reproduces the attentive-probe logits (BatchNorm in eval mode)', async () => {
      const logits = tf.tidy(() => probe.forward(model.probeFeatures(patches, model.config.probeBlocks.last), 'eval'));
      expectClose(await take(logits), 'logits');
    });

    it('reproduces the normalised targets and the loss', async () => {
      expectClose(await take(normalizePatchTargets(patches)), 'normalized_targets');
      const pred = golden('prediction');
      const loss = tf.tidy(() => normalizedPixelLoss(tf.tensor3d(pred.data, pred.shape as [number, number, number]), patches, prefixLengths));
      expectClose(await take(loss), 'loss');
    });
  });
}
