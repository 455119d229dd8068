// Experiment: CPU cost of the matmul shapes in an aim-dev-5M batch-32 step on wasm, and cheaper equivalents.
// Usage: node --conditions=@aim/source --import tsx bench/experiments/matmul-shapes.ts [--backend wasm]
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackendName } from '../../src/index.js';
import { stopwatch } from '../timing.js';

const i = process.argv.indexOf('--backend');
await selectBackend((i >= 0 ? process.argv[i + 1] : 'wasm') as BackendName);

async function gflops(name: string, flops: number, f: () => tf.Tensor, reps = 6): Promise<void> {
  const once = async () => {
    const t = tf.tidy(f);
    await t.data();
    t.dispose();
  };
  await once();
  const elapsed = stopwatch();
  for (let r = 0; r < reps; r++) await once();
  const cpu = elapsed().cpu / reps;
  console.log(`  ${name.padEnd(58)} ${(cpu * 1000).toFixed(1).padStart(7)} ms CPU ${(flops / cpu / 1e9).toFixed(1).padStart(6)} GFLOP/s`);
}

const [N, D, M] = [2048, 192, 768];
const x = tf.randomNormal([N, D], 0, 1, 'float32', 1);
const dy = tf.randomNormal([N, M], 0, 1, 'float32', 2);
const w = tf.randomNormal([D, M], 0, 1, 'float32', 3);
const f = 2 * N * D * M;
console.log(`linear ${D}->${M} over ${N} rows`);
await gflops('forward x @ w [2048,192]x[192,768]', f, () => tf.matMul(x, w));
await gflops('dX = dy @ transpose(w) [2048,768]x[768,192]', f, () => tf.matMul(dy, tf.transpose(w)));
await gflops('dW = transpose(x) @ dy [192,2048]x[2048,768]', f, () => tf.matMul(tf.transpose(x), dy));
await gflops('dW = transpose(transpose(dy) @ x) [768,2048]x[2048,192]', f, () => tf.transpose(tf.matMul(tf.transpose(dy), x)));
await gflops('dW with flag: matMul(x, dy, transposeA) (tfjs default grad)', f, () => tf.matMul(x, dy, true, false));

const [BH, K, hd] = [96, 64, 64];
const q = tf.randomNormal([BH, K, hd], 0, 1, 'float32', 4);
const k = tf.randomNormal([BH, K, hd], 0, 1, 'float32', 5);
const fa = 2 * BH * K * K * hd;
console.log(`attention products, ${BH} (batch x heads) of [${K}, ${hd}]`);
await gflops('batched q @ k^T (flag)', fa, () => tf.matMul(q, k, false, true));
await gflops('batched q @ transpose(k)', fa, () => tf.matMul(q, tf.transpose(k, [0, 2, 1])));
await gflops('per-item 2-D matmuls (split, matMul, stack)', fa, () => {
  const qs = tf.split(q, BH, 0).map((t) => tf.reshape(t, [K, hd]));
  const ks = tf.split(tf.transpose(k, [0, 2, 1]), BH, 0).map((t) => tf.reshape(t, [hd, K]));
  return tf.stack(qs.map((qi, j) => tf.matMul(qi as tf.Tensor2D, ks[j] as tf.Tensor2D)));
});
await gflops(
  'one 2-D matmul over all rows, then keep the diagonal blocks',
  fa * BH,
  () => {
    const all = tf.matMul(tf.reshape(q, [BH * K, hd]), tf.transpose(tf.reshape(k, [BH * K, hd]))); // [BH*K, BH*K]
    return tf.slice(all, [0, 0], [K, K]);
  },
  2,
);
