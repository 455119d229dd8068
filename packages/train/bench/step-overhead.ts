// Compares @aim/train's trainStep with the model benchmark's bare step (same model, batch, backend, process).
// Usage: node --conditions=@aim/source --import tsx bench/step-overhead.ts [variant] [batch] [steps] [backend]
import * as tf from '@tensorflow/tfjs-core';
import { createAim, samplePrefixLengths, selectBackend } from '@aim/model';
// The model benchmark's own step, imported from its bench folder on purpose: this script measures against it.
import { makeStep } from '../../model/bench/step.js';
import { AdamW, trainStep } from '../src/index.js';

const [variant = 'aim-dev-tiny', batchText = '32', stepsText = '10', backend = 'wasm'] = process.argv.slice(2);
const batch = Number(batchText);
const steps = Number(stepsText);
await selectBackend(backend as 'wasm');
const model = createAim(variant, {}, { seed: 0 });
const { imageSize, patchSize } = model.config;
const K = (imageSize / patchSize) ** 2;
const P = patchSize * patchSize * 3;
const data = Float32Array.from({ length: batch * K * P }, (_, i) => Math.sin(i));
const x = tf.tensor3d(data, [batch, K, P]);
const prefix = samplePrefixLengths(batch, K, 1);

/** Seconds per step of `run` over `steps` steps. */
const time = (run: () => void): number => {
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) run();
  return (performance.now() - t0) / 1000 / steps;
};
const bare = makeStep(model, x, prefix);
const opt = new AdamW(model.parameters());
const options = { model, optimizer: opt, samplePrefixLengths, runSeed: 0, clipNorm: 1 };
let n = 0;
const runBare = (): void => bare.run().dispose();
const runTrain = (): void => {
  trainStep(options, n++, [{ patches: data, batchSize: batch, numPatches: K, patchDim: P }], 1e-4);
};
runBare();
runTrain(); // warm-up both
// Interleaved rounds, best of each: the machine is shared, so the minimum is the least disturbed measurement.
const rounds = 3;
let bestBare = Infinity;
let bestTrain = Infinity;
for (let r = 0; r < rounds; r++) {
  bestBare = Math.min(bestBare, time(runBare));
  bestTrain = Math.min(bestTrain, time(runTrain));
}
bare.dispose();
const line = (label: string, s: number): string => `${label.padEnd(28)} ${s.toFixed(3)} s/step  ${(batch / s).toFixed(1)} img/s`;
console.log(line('model bench step (bare)', bestBare));
console.log(line('@aim/train trainStep', bestTrain));
console.log(`${backend} ${variant} batch ${batch}, best of ${rounds} x ${steps} steps: trainStep rate / bare rate = ${(bestBare / bestTrain).toFixed(2)}`);
