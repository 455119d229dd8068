// Engine parity on the GPU machine (outside vitest: the device has no node_modules). For aim-dev-nano and aim-dev-tiny,
// the engine's loss and every gradient against the tfjs model on cpu (the reference), and the golden fixture's
// features (apple/ml-aim) from the engine's trunk; every GEMM tile of the bench's sweep against gemmReference (the
// sweep's winner runs the bench's steps). Prints one row per check; exits 1 when any exceeds its tolerance.
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
import { AimEngine, requestEngineDevice } from '../../src/index.js';
import { GEMM_TILES, type GemmTile, gemmReference, gemmWorkgroupBytes } from '../../src/kernels/gemm.js';
import { runBatchedGemm } from '../batched-gemm.js';
import { TILE_CANDIDATES, tileName } from '../tiles.js';

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

/**
 * Every sweep tile that fits the device, NN / NT / TN, on a batch of two odd-sized matrices (edge tiles, many K-slices)
 * against gemmReference: on a GPU the workgroup's threads really run concurrently, so a missing barrier shows here,
 * where SwiftShader may hide it. K odd, then K a multiple of 4 (rows of whole vec4s: where vec4-loading tiles read
 * vec4s). With --software (a rehearsal; vitest covers the tiles there), one tile, smaller.
 */
async function gemmTiles(device: GPUDevice, software: boolean): Promise<void> {
  const fits = (t: GemmTile): boolean => gemmWorkgroupBytes(t) <= device.limits.maxComputeWorkgroupStorageSize;
  const tiles = (software ? [{ ...GEMM_TILES.large, doubleBuffer: true, vec4: true, vec4Loads: true }] : TILE_CANDIDATES).filter(fits);
  for (const [m, n, k, batch] of software
    ? [
        [72, 60, 41, 2],
        [72, 60, 44, 2],
      ]
    : [
        [300, 260, 203, 2],
        [300, 260, 204, 2],
      ]) {
    await gemmShape(device, tiles, m, n, k, batch);
  }
}

async function gemmShape(device: GPUDevice, tiles: GemmTile[], m: number, n: number, k: number, batch: number): Promise<void> {
  const a = noise(batch * m * k, 21);
  const b = noise(batch * k * n, 22);
  for (const [transA, transB] of [
    [false, false],
    [false, true],
    [true, false],
  ]) {
    const [lda, ldb] = [transA ? m : k, transB ? k : n];
    const want = new Float32Array(batch * m * n);
    for (let z = 0; z < batch; z++) {
      const [az, bz, cz] = [a.subarray(z * m * k), b.subarray(z * k * n), want.subarray(z * m * n)];
      gemmReference({ m, n, k, transA, transB, a: az, lda, b: bz, ldb, c: cz, ldc: n });
    }
    let worst = { err: 0, tile: '-' };
    for (const tile of tiles) {
      // A tile that fails counts as failed, and the remaining tiles and checks still run.
      const err = await runBatchedGemm(device, tile, { m, n, k, batch, transA, transB, a, b }).then(
        (got) => relError(got, want),
        () => Infinity,
      );
      if (err > worst.err) worst = { err, tile: tileName(tile) };
    }
    const layout = `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;
    row(`GEMM ${layout}, tiles: ${tiles.length}, ${batch} x ${m}x${n}x${k} (worst ${worst.tile})`, worst.err, 1e-5);
  }
}

async function main(): Promise<void> {
  await selectBackend('cpu');
  const probe = await probeWebGpu({ softwareFallback: flags.software });
  const adapter = vettedWebGpuAdapter();
  if (!probe.adapter || !adapter) throw new Error(`parity: no WebGPU adapter: ${probe.why}`);
  if (probe.adapter.software && !flags.software) throw new Error(`parity: only a software adapter (${describeAdapter(probe.adapter)})`);
  const device = await requestEngineDevice(adapter);
  console.log(`adapter: ${describeAdapter(probe.adapter)}\n\n| check | rel error | tolerance | ok |\n|---|---|---|---|`);

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
    const engine = await AimEngine.create(device, model.config, { batch: 4 });
    engine.setParameters(new Map(model.parameters().map((p) => [p.name, p.variable.dataSync() as Float32Array])));
    const stats = await engine.step([{ patches, prefixLengths: prefix }], {
      lr: 0,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0,
      clipNorm: 0,
    });
    row(`${variant} loss`, relError([stats.loss], value.dataSync()), 1e-4);
    const got = await engine.readGradients();
    let worst = 0;
    for (const p of model.parameters()) worst = Math.max(worst, relError(got.get(p.name)!, grads[p.variable.name].dataSync()));
    row(`${variant} every gradient (worst)`, worst, 1e-4);
    await engine.destroy();
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
  // Last, being the longest part (every tile in every layout): a run cut by its time limit still has the checks above.
  await gemmTiles(device, flags.software);
  device.destroy();
  process.exitCode = failures > 0 ? 1 : 0;
}

await main();
