// A probe file in our own format (what eval:probe writes: `aim.config` and `aim.probe_blocks` metadata, saved by
// saveAimCheckpoint) read by the page's loader, through the TypeScript trunk and probe, against the tfjs model.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { AttentiveProbe, createAim, saveAimCheckpoint } from '@aim/model';
import { afterAll, expect, it } from 'vitest';
import { cpuExtractFeatures } from '../src/cpu-trunk.js';
import { CLASS_NAMES_METADATA_KEY, PROBE_BLOCKS_METADATA_KEY, loadProbeFile } from '../src/probe-file.js';
import { attentiveProbe, averageBlocks } from '../src/probe.js';

const dir = mkdtempSync(join(tmpdir(), 'aim-web-own-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("reads eval:probe's format and matches the tfjs model's logits", async () => {
  await tf.setBackend('cpu');
  const model = createAim('aim-dev-tiny', {}, { seed: 3, pretrainHead: false });
  const probe = new AttentiveProbe({ width: 64, heads: 4, numClasses: 7, seed: 5 });
  const blocks = [0, 2];
  const b = 3;
  const patches = tf.randomNormal([b, 16, 192], 0, 1, 'float32', 11) as tf.Tensor3D;
  const features = model.probeFeatures(patches, blocks);
  tf.dispose(probe.forward(features, 'train')); // running statistics away from 0 and 1
  const want = await probe.forward(features, 'eval').data();
  const path = join(dir, 'probe.safetensors');
  await saveAimCheckpoint(path, { model, probe, metadata: { [PROBE_BLOCKS_METADATA_KEY]: JSON.stringify(blocks) } });
  const bytes = readFileSync(path);
  const loaded = loadProbeFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, 'probe.safetensors');
  expect(loaded.config.name).toBe('aim-dev-tiny');
  expect(loaded.blocks).toEqual(blocks);
  expect(loaded.probe.numClasses).toBe(7);
  const ours = cpuExtractFeatures(loaded.config, loaded.trunk, (await patches.data()) as Float32Array, b, loaded.blocks);
  const { logits } = attentiveProbe(loaded.probe, averageBlocks(ours), b, 16);
  const worst = Math.max(...Array.from(want, (w, i) => Math.abs(w - logits[i])));
  const scale = Math.max(...Array.from(want, Math.abs));
  expect(worst / scale).toBeLessThan(1e-5);
  tf.dispose([patches, features]);
  model.dispose();
  probe.dispose();
});

it('reads the class names eval:probe records, and rejects a list that does not fit the probe', async () => {
  await tf.setBackend('cpu');
  const model = createAim('aim-dev-nano', {}, { seed: 1, pretrainHead: false });
  const probe = new AttentiveProbe({ width: model.config.width, heads: model.config.heads, numClasses: 3, seed: 2 });
  const load = async (names: string) => {
    const path = join(dir, 'named.safetensors');
    await saveAimCheckpoint(path, { model, probe, metadata: { [CLASS_NAMES_METADATA_KEY]: names } });
    const bytes = readFileSync(path);
    return loadProbeFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, 'named.safetensors');
  };
  expect((await load('["cat","dog","bird"]')).classNames).toEqual(['cat', 'dog', 'bird']);
  await expect(load('["cat","dog"]')).rejects.toThrow("named.safetensors: metadata 'aim.class_names' must be a JSON list of 3 names");
  model.dispose();
  probe.dispose();
});
