// Engine parity on the GPU machine (outside vitest: the device has no node_modules). For aim-dev-nano and aim-dev-tiny,
// the engine's loss and every gradient against the tfjs model on cpu (the reference) and between the activation modes
// (what the backward keeps); the golden fixture's features (apple/ml-aim) from the engine's trunk (the bench's sweep
// checks each GEMM tile it times: src/tile-check.ts); on a device without Dawn's bounds checks, as the trainer runs it.
// Prints one row per check; exits 1 when any exceeds its tolerance.
// Usage: node parity.mjs --golden <dir with aim-golden-small.*.safetensors> [--software]
import * as tf from '@tensorflow/tfjs-core';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  createAim,
  describeAdapter,
  loadAimCheckpoint,
  prefixLengthsFromMask,
  probeWebGpu,
  readSafetensors,
  selectBackend,
  vettedWebGpuAdapter,
} from '@aim/model';
import { ACTIVATION_MODES, type ActivationMode, AimEngine, boundsCheck, engineDawnFlags, requestEngineDevice } from '../../src/index.js';

const { values: flags } = parseArgs({ options: { golden: { type: 'string' }, software: { type: 'boolean', default: false } } });

function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return a.length === b.length && Number.isFinite(diff) ? diff / (scale || 1) : Infinity;
}

function noise(n: number, seed: number): Float32Array {
  let s = seed;
  return new Float32Array(n).map(() => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1);
}

let failures = 0;
const row = (check: string, err: number, tol: number): void => {
  const ok = err <= tol;
  if (!ok) failures++;
  console.log(`| ${check} | ${err.toExponential(2)} | ${tol} | ${ok ? 'ok' : 'FAIL'} |`);
};

async function main(): Promise<void> {
  await selectBackend('cpu');
  const probe = await probeWebGpu({ softwareFallback: flags.software, dawnFlags: engineDawnFlags() });
  const adapter = vettedWebGpuAdapter();
  if (!probe.adapter || !adapter) throw new Error(`parity: no WebGPU adapter: ${probe.why}`);
  if (probe.adapter.software && !flags.software) throw new Error(`parity: only a software adapter (${describeAdapter(probe.adapter)})`);
  const device = await requestEngineDevice(adapter);
  console.log(`adapter: ${describeAdapter(probe.adapter)}; Dawn's bounds checks off: a read past a binding was ${await boundsCheck(device)}`);
  console.log(`\n| check | rel error | tolerance | ok |\n|---|---|---|---|`);

  for (const variant of ['aim-dev-nano', 'aim-dev-tiny']) {
    const model = createAim(variant, {}, { seed: 3 });
    model.parameters().forEach((p, i) => {
      const v = p.variable.dataSync() as Float32Array;
      const n = noise(v.length, 1000 + i);
      p.variable.assign(
        tf.tensor(
          v.map((x, j) => x + 0.05 * n[j]),
          p.variable.shape,
        ),
      );
    });
    const k = (model.config.imageSize / model.config.patchSize) ** 2;
    const pd = model.config.patchSize ** 2 * 3;
    const patches = noise(3 * k * pd, 11);
    const prefix = Int32Array.from([1, k - 1, k >> 1]);
    const x = tf.tensor3d(patches, [3, k, pd]);
    const { value, grads } = tf.variableGrads(
      () => model.pretrainLoss(x, prefix),
      model.parameters().map((p) => p.variable),
    );
    const byMode = new Map<ActivationMode, { loss: number; grads: Map<string, Float32Array> }>();
    for (const activations of ACTIVATION_MODES) {
      const engine = await AimEngine.create(device, model.config, { batch: 4, activations });
      engine.setParameters(new Map(model.parameters().map((p) => [p.name, p.variable.dataSync() as Float32Array])));
      const stats = await engine.step([{ patches, prefixLengths: prefix }], {
        lr: 0,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weightDecay: 0,
        clipNorm: 0,
      });
      byMode.set(activations, { loss: stats.loss, grads: await engine.readGradients() });
      await engine.destroy();
    }
    const { loss, grads: got } = byMode.get('recompute')!;
    row(`${variant} loss`, relError([loss], value.dataSync()), 1e-4);
    let worst = 0;
    for (const p of model.parameters()) worst = Math.max(worst, relError(got.get(p.name)!, grads[p.variable.name].dataSync()));
    row(`${variant} every gradient (worst)`, worst, 1e-4);
    // What the backward keeps changes no result: on SwiftShader the same bits (the tests); here, how close.
    const keep = byMode.get('keep')!;
    for (const mode of ['recompute', 'selective'] as const) {
      const other = byMode.get(mode)!;
      let diff = relError([other.loss], [keep.loss]);
      for (const [name, g] of keep.grads) diff = Math.max(diff, relError(other.grads.get(name)!, g));
      row(`${variant} activations '${mode}' vs 'keep': loss and every gradient`, diff, 1e-6);
    }
    model.dispose();
  }

  if (flags.golden) {
    const io = await readSafetensors(path.join(flags.golden, 'aim-golden-small.io.safetensors'));
    const { model, probe: head } = await loadAimCheckpoint(path.join(flags.golden, 'aim-golden-small.weights.safetensors'));
    head?.dispose();
    const patches = await io.readFloat32('patches');
    const info = io.tensors.get('patches')!;
    const [b, k] = info.shape;
    const engine = await AimEngine.create(device, model.config, { batch: b, pretrainHead: false });
    engine.setParameters(new Map(model.parameters().map((p) => [p.name, p.variable.dataSync() as Float32Array])));
    const blocks = Array.from({ length: model.config.depth }, (_, i) => i);
    const feats = await engine.extractFeatures(patches, { blocks });
    for (const i of blocks) row(`golden features.${i}`, relError(feats[i], await io.readFloat32(`features.${i}`)), 1e-5);
    const mask = (await io.read('prefix_mask')) as Uint8Array;
    const [last] = await engine.extractFeatures(patches, {
      blocks: [model.config.depth - 1],
      prefixLengths: prefixLengthsFromMask(mask, b, k),
    });
    row('golden prefix_causal.last', relError(last, await io.readFloat32('prefix_causal.last')), 1e-5);
    await engine.destroy();
    await io.close();
    model.dispose();
  }
  device.destroy();
  process.exitCode = failures > 0 ? 1 : 0;
}

await main();
