// Experiment: how to turn the qkv projection into per-head q, k, v on wasm, and whether GELU should keep its CDF.
// Measures forward + backward CPU seconds (this process; wasm computes on this thread) at aim-dev-5M batch-32 shapes.
// Usage: node --conditions=@aim/source --import tsx bench/experiments/attention-layout.ts [--backend wasm] [--reps 5]
import * as tf from '@tensorflow/tfjs-core';
import { gelu, linear, selectBackend, type BackendName } from '../../src/index.js';
import { stopwatch } from '../timing.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const backend = arg('backend', 'wasm') as BackendName;
const reps = Number(arg('reps', '5'));
const [B, K, D, H] = [32, 64, 192, 3];
const hd = D / H;

type ToHeads = (x2: tf.Tensor2D, wqkv: tf.Tensor2D) => [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];

/** The layout ops.ts used before this experiment: one projection, reshape to [B, K, 3H, hd], rank-4 transpose, split. */
const splitAfterTranspose: ToHeads = (x2, w) => {
  const qkv = linear(x2, w); // [B*K, 3D]
  const perHead = tf.transpose(tf.reshape(qkv, [B, K, 3 * H, hd]), [0, 2, 1, 3]); // [B, 3H, K, hd]
  return tf.split(perHead, 3, 1).map((t) => tf.reshape(t, [B * H, K, hd])) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
};

/** Three projections on column slices of the weight (tiny slices), each transposed to heads: what ops.ts does now. */
const sliceWeights: ToHeads = (x2, w) =>
  [0, 1, 2].map((i) => {
    const wi = tf.slice(w, [0, i * D], [D, D]) as tf.Tensor2D; // [D, D]
    const y = linear(x2, wi); // [B*K, D]
    return tf.reshape(tf.transpose(tf.reshape(y, [B, K, H, hd]), [0, 2, 1, 3]), [B * H, K, hd]);
  }) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];

/** One projection, split the 2-D output on its last axis, then per-tensor head transposes. */
const splitColumns: ToHeads = (x2, w) =>
  tf.split(linear(x2, w), 3, 1).map((y) => tf.reshape(tf.transpose(tf.reshape(y, [B, K, H, hd]), [0, 2, 1, 3]), [B * H, K, hd])) as [
    tf.Tensor3D,
    tf.Tensor3D,
    tf.Tensor3D,
  ];

function attention(toHeads: ToHeads, x2: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor {
  const [q, k, v] = toHeads(x2, w);
  const probs = tf.softmax(tf.matMul(tf.mul(q, 1 / Math.sqrt(hd)), k, false, true)); // [B*H, K, K]
  const ctx = tf.matMul(probs, v); // [B*H, K, hd]
  return tf.reshape(tf.transpose(tf.reshape(ctx, [B, H, K, hd]), [0, 2, 1, 3]), [B * K, D]); // [B*K, D]
}

/** The alternative to ops.ts's GELU: save only x and recompute the CDF (a second erf) in the backward pass. */
const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const geluRecomputed = tf.customGrad((x: tf.Tensor | tf.GradSaveFunc, save) => {
  const xt = x as tf.Tensor;
  (save as tf.GradSaveFunc)([xt]);
  const cdf = (t: tf.Tensor) => tf.mul(0.5, tf.add(1, tf.erf(tf.mul(t, INV_SQRT2))));
  return {
    value: tf.mul(xt, cdf(xt)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs] = saved;
      const pdf = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.square(xs))));
      return tf.mul(dy, tf.add(cdf(xs), tf.mul(xs, pdf)));
    },
  };
});

async function cpuSecondsPerRep(f: () => tf.Tensor[]): Promise<number> {
  const once = async () => {
    const outs = f();
    for (const o of outs) await o.data();
    tf.dispose(outs);
  };
  await once();
  const elapsed = stopwatch();
  for (let i = 0; i < reps; i++) await once();
  return elapsed().cpu / reps;
}

await selectBackend(backend);
const x = tf.randomNormal([B * K, D], 0, 1, 'float32', 1) as tf.Tensor2D;
const w = tf.randomNormal([D, 3 * D], 0, 0.05, 'float32', 2) as tf.Tensor2D;
const r = tf.randomNormal([B * K, D], 0, 1, 'float32', 3);
const grad = (toHeads: ToHeads) => () =>
  tf.tidy(() => {
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(attention(toHeads, xx as tf.Tensor2D, ww as tf.Tensor2D), r)));
    return g([x, w]);
  });

// Same function: all three layouts give the same gradients.
const ref = grad(splitAfterTranspose)();
for (const alt of [sliceWeights, splitColumns]) {
  const got = grad(alt)();
  for (let i = 0; i < 2; i++) {
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got[i], ref[i]))).dataSync()[0]);
    if (diff > 1e-4) throw new Error(`layout mismatch: gradient ${i} differs by ${diff}`);
  }
  tf.dispose(got);
}
tf.dispose(ref);

console.log(`backend ${backend}, B=${B} K=${K} D=${D} H=${H}, ${reps} reps, CPU seconds per forward+backward`);
for (const [name, f] of [
  ['split after transpose (the first layout)', splitAfterTranspose],
  ['slice weights, 3 linears', sliceWeights],
  ['split 2-D columns, then transpose', splitColumns],
] as const) {
  console.log(`  attention qkv: ${name.padEnd(36)} ${(await cpuSecondsPerRep(grad(f))).toFixed(4)} s`);
}
const hidden = tf.randomNormal([B * K, 4 * D], 0, 1, 'float32', 4);
for (const [name, g] of [
  ['keeps the forward CDF (ops.ts now)', gelu],
  ['recomputes erf in backward', geluRecomputed],
] as const) {
  const s = await cpuSecondsPerRep(() => tf.tidy(() => [tf.grad((t: tf.Tensor) => tf.sum(g(t) as tf.Tensor))(hidden)]));
  console.log(`  gelu [${B * K}, ${4 * D}]: ${name.padEnd(40)} ${s.toFixed(4)} s`);
}
