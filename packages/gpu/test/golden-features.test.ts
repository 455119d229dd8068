// The engine's feature extraction vs apple/ml-aim's torch model on the golden fixture: every block's raw output with
// bidirectional attention, and the last block with prefix-causal attention (prefix lengths from the fixture's mask).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '@tensorflow/tfjs-backend-cpu';
import { type AimModel, loadAimCheckpoint, prefixLengthsFromMask, resolveAimConfig, selectBackend } from '@aim/model';
import { AimEngine } from '../src/index.js';
import { gpuUnavailable, testDevice } from './device.js';
import { goldenPath, readGoldenIo, tensor } from './golden.js';
import { relError } from '../src/harness.js';

const TOL = 1e-5;
const io = await readGoldenIo('aim-golden-small.io.safetensors');

/** [B, 3, H, W] -> [B, (H/p)(W/p), p*p*3] in MAE's layout: patch rows, then columns, then channels innermost. */
function patchify(x: Float32Array, [b, c, hh, ww]: number[], p: number): Float32Array {
  const gh = hh / p;
  const gw = ww / p;
  const out = new Float32Array(x.length);
  let at = 0;
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < gh; i++) {
      for (let j = 0; j < gw; j++) {
        for (let u = 0; u < p; u++) {
          for (let v = 0; v < p; v++) {
            for (let ch = 0; ch < c; ch++) out[at++] = x[((n * c + ch) * hh + i * p + u) * ww + j * p + v];
          }
        }
      }
    }
  }
  return out;
}

describe.skipIf(gpuUnavailable !== undefined)('engine features vs apple/ml-aim (golden fixture)', () => {
  let model: AimModel;
  let engine: AimEngine;
  let patches: Float32Array;
  const worst: Record<string, number> = {};

  beforeAll(async () => {
    await selectBackend('cpu');
    ({ model } = await loadAimCheckpoint(goldenPath('aim-golden-small.weights.safetensors')));
    engine = await AimEngine.create(await testDevice(), model.config, { batch: tensor(io, 'input').shape[0], pretrainHead: false });
    engine.setParameters(new Map(model.parameters().map((p) => [p.name, p.variable.dataSync().slice() as Float32Array])));
    const input = tensor(io, 'input');
    patches = patchify(input.data, input.shape, model.config.patchSize);
  });

  afterAll(async () => {
    await engine?.destroy();
    model?.dispose();
    console.info('[golden features] worst relative errors', worst);
  });

  it("is the 'aim-dev-tiny' trunk shape, and the MAE patchify reproduces the fixture's patches", () => {
    const tiny = resolveAimConfig('aim-dev-tiny');
    const trunk = ({ imageSize, patchSize, width, depth, heads, mlpDim }: typeof tiny) => ({
      imageSize,
      patchSize,
      width,
      depth,
      heads,
      mlpDim,
    });
    expect(trunk(model.config)).toEqual(trunk(tiny));
    expect(engine.program.pretrainHead).toBe(false);
    expect(relError(patches, tensor(io, 'patches').data)).toBe(0);
  });

  it('reproduces every block output with bidirectional attention', async () => {
    const blocks = Array.from({ length: model.config.depth }, (_, i) => i);
    const feats = await engine.extractFeatures(patches, { blocks });
    expect(feats).toHaveLength(blocks.length);
    for (const i of blocks) {
      const err = (worst[`features.${i}`] = relError(feats[i], tensor(io, `features.${i}`).data));
      expect(err, `features.${i}`).toBeLessThan(TOL);
    }
  });

  it('reproduces the last block with prefix-causal attention (prefix lengths from prefix_mask)', async () => {
    const mask = io.get('prefix_mask')!;
    const [b, k] = mask.shape;
    const prefixLengths = prefixLengthsFromMask(mask.data, b, k);
    // The fixture holds more than one prefix length, else this would not test the per-sample mask.
    expect(new Set(prefixLengths).size).toBeGreaterThan(1);
    const [last] = await engine.extractFeatures(patches, { blocks: [model.config.depth - 1], prefixLengths });
    const want = tensor(io, 'prefix_causal.last').data;
    const err = (worst['prefix_causal.last'] = relError(last, want));
    expect(err).toBeLessThan(TOL);
    // And it differs from the bidirectional output: the mask did something.
    expect(relError(last, tensor(io, `features.${model.config.depth - 1}`).data)).toBeGreaterThan(1e-3);
  });
});
