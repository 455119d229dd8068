// Golden parity outside vitest (for the GPU machine): reproduces every tensor of the reference fixtures per backend.
// Usage: node parity.mjs --golden <dir with aim-golden-small.*.safetensors> [--backends webgpu,wasm,cpu]
//   [--webgpu-software] (accept SwiftShader; by default webgpu must be a hardware adapter)
// Prints one row per (backend, tensor) with max|a-b|/max|b| and the elementwise relative error on entries with
// |b| >= 0.1 max|b|, and exits 1 when either exceeds the gates of packages/model/test/backends.ts.
import * as tf from '@tensorflow/tfjs-core';
import path from 'node:path';
import {
  type BackendName,
  loadAimCheckpoint,
  normalizePatchTargets,
  normalizedPixelLoss,
  prefixLengthsFromMask,
  readSafetensors,
  selectBackend,
} from '../../src/index.js';

/** The parity tests' gates (packages/model/test/backends.ts), the same for every float32 backend. */
const REL_TOL = 1e-6;
const ELEM_TOL = 5e-6;

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`parity: --${name} is required`);
  return v;
}

/** max|a - b| / max|b| and max |a_i - b_i| / |b_i| over entries with |b_i| >= 0.1 max|b|: the parity tests' measures. */
function parityError(actual: ArrayLike<number>, expected: ArrayLike<number>): { maxRel: number; elemRel: number } {
  if (actual.length !== expected.length) return { maxRel: Infinity, elemRel: Infinity };
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  let elemRel = 0;
  for (let i = 0; i < expected.length; i++) {
    const b = Math.abs(expected[i]);
    if (b === 0 || b < 0.1 * scale) continue;
    const e = Math.abs(actual[i] - expected[i]) / b;
    elemRel = Number.isNaN(e) ? Infinity : Math.max(elemRel, e);
  }
  return { maxRel: Number.isFinite(diff) ? diff / (scale || 1) : Infinity, elemRel };
}

async function take(t: tf.Tensor): Promise<Float32Array> {
  const data = (await t.data()) as Float32Array;
  t.dispose();
  return data;
}

async function main(): Promise<void> {
  const dir = arg('golden');
  const backends = arg('backends', 'webgpu,wasm,cpu').split(',') as BackendName[];
  const allowSoftware = process.argv.includes('--webgpu-software');
  const ioFile = await readSafetensors(path.join(dir, 'aim-golden-small.io.safetensors'));
  const io = new Map<string, { shape: number[]; data: Float32Array | Uint8Array }>();
  for (const [name, info] of ioFile.tensors) {
    const data = info.dtype === 'BOOL' ? ((await ioFile.read(name)) as Uint8Array) : await ioFile.readFloat32(name);
    io.set(name, { shape: [...info.shape], data });
  }
  await ioFile.close();
  const golden = (name: string) => io.get(name)! as { shape: number[]; data: Float32Array };

  let failures = 0;
  console.log(`| backend | tensor | rel error (<= ${REL_TOL}) | elementwise (<= ${ELEM_TOL}) | ok |\n|---|---|---|---|---|`);
  for (const backend of backends) {
    const started = performance.now();
    const selection = await selectBackend(backend, { softwareWebGpuFallback: allowSoftware });
    console.log(`# ${selection.reason}`);
    if (selection.adapter?.software && !allowSoftware) {
      throw new Error('webgpu runs on a software adapter here; pass --webgpu-software to accept that');
    }
    const { model, probe } = await loadAimCheckpoint(path.join(dir, 'aim-golden-small.weights.safetensors'));
    const input = golden('input');
    const images = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
    const patches = model.patchify(images);
    const mask = io.get('prefix_mask')!;
    const prefixLengths = prefixLengthsFromMask(mask.data, mask.shape[0], mask.shape[1]);
    const results: [string, Float32Array][] = [];
    results.push(['patches', (await patches.data()) as Float32Array]);
    results.push(['tokens', await take(model.embed(patches))]);
    const feats = model.extractFeatures(patches, { blocks: [0, 1, 2] });
    for (let i = 0; i < feats.length; i++) results.push([`features.${i}`, await take(feats[i])]);
    const [last] = model.extractFeatures(patches, { blocks: [2], prefixLengths });
    results.push(['prefix_causal.last', await take(last)]);
    results.push(['prefix_causal.post_norm', await take(model.encode(patches, { prefixLengths }))]);
    if (probe) {
      const logits = tf.tidy(() => probe.forward(model.probeFeatures(patches, model.config.probeBlocks.last), 'eval'));
      results.push(['logits', await take(logits)]);
    }
    results.push(['normalized_targets', await take(normalizePatchTargets(patches))]);
    const pred = golden('prediction');
    const loss = tf.tidy(() => normalizedPixelLoss(tf.tensor3d(pred.data, pred.shape as [number, number, number]), patches, prefixLengths));
    results.push(['loss', await take(loss)]);
    for (const [name, actual] of results) {
      const err = parityError(actual, golden(name).data);
      const ok = err.maxRel <= REL_TOL && err.elemRel <= ELEM_TOL;
      if (!ok) failures++;
      console.log(`| ${backend} | ${name} | ${err.maxRel.toExponential(2)} | ${err.elemRel.toExponential(2)} | ${ok ? 'yes' : 'NO'} |`);
    }
    tf.dispose([images, patches]);
    model.dispose();
    probe?.dispose();
    console.log(`# ${backend}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  console.log(failures === 0 ? 'PARITY OK' : `PARITY FAILED: ${failures} tensor(s) over tolerance`);
  process.exitCode = failures === 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error('parity failed to run:', err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 2;
});
