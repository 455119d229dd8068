// Trains a probe head on cached frozen features with AdamW and a warm-up + cosine schedule, then scores a test set.
// References: El-Nouby et al. 2024 (AIM), attentive-probe evaluation; Loshchilov & Hutter (AdamW).
import { Mulberry32 } from '@aim/base/random';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, learningRateAt, type TrainableParameter } from '@aim/train';

/** A classifier over one sample's features; the probe heads of @aim/model are adapted to it. */
export interface ProbeHead {
  /** Trainable tensors with their weight-decay flags. */
  parameters(): readonly TrainableParameter[];
  /** [B, ...sampleShape] -> logits [B, C]. `training` switches BatchNorm to batch statistics. */
  forward(x: tf.Tensor, training: boolean): tf.Tensor2D;
  dispose(): void;
}

/** Features of N samples, each of shape `sampleShape`, flattened row-major. */
export interface ProbeData {
  readonly x: Float32Array;
  readonly sampleShape: readonly number[];
  readonly labels: Int32Array;
}

export interface ProbeRecipeOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly weightDecay: number;
  readonly warmupEpochs: number;
  readonly seed: number;
  readonly beta1?: number;
  readonly beta2?: number;
}

function sampleCount(name: string, d: ProbeData): number {
  const per = d.sampleShape.reduce((a, b) => a * b, 1);
  if (per === 0 || d.x.length % per !== 0) throw new Error(`${name}: ${d.x.length} values are not whole samples of shape [${d.sampleShape}]`);
  const n = d.x.length / per;
  if (n !== d.labels.length) throw new Error(`${name}: ${n} samples but ${d.labels.length} labels`);
  return n;
}

/** Seeded Fisher-Yates permutation (mulberry32 seeded with `seed` unmixed), so a probe run is reproducible. */
export function permutation(n: number, seed: number): Int32Array {
  const rng = Mulberry32.unmixed(seed);
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

function gatherBatch(d: ProbeData, idx: ArrayLike<number>): { x: Float32Array; y: Int32Array } {
  const per = d.sampleShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(idx.length * per);
  const y = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    x.set(d.x.subarray(idx[i] * per, (idx[i] + 1) * per), i * per);
    y[i] = d.labels[idx[i]];
  }
  return { x, y };
}

/** Mean softmax cross-entropy of logits [B, C] against integer labels [B]. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits); // [B, C]
    const onehot = tf.oneHot(labels, logits.shape[1]); // [B, C]
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), 1))) as tf.Scalar;
  });
}

export interface TrainProbeResult {
  /** Mean training loss of each epoch. */
  readonly epochLosses: number[];
  readonly steps: number;
}

/**
 * Trains `head` on `train` for `epochs` passes of shuffled mini-batches (the last partial batch is dropped so
 * BatchNorm never sees a batch of one). LR: linear warm-up from 1e-6 over `warmupEpochs`, cosine to 0.
 */
export async function trainProbe(head: ProbeHead, train: ProbeData, numClasses: number, r: ProbeRecipeOptions): Promise<TrainProbeResult> {
  const n = sampleCount('train', train);
  for (const y of train.labels) if (y < 0 || y >= numClasses) throw new Error(`train label ${y} is outside the classes 0..${numClasses - 1}`);
  const batch = Math.min(r.batchSize, n);
  if (batch < 2) throw new Error(`probe training needs at least 2 samples per batch, have ${n} samples`);
  const stepsPerEpoch = Math.floor(n / batch);
  const totalSteps = stepsPerEpoch * r.epochs;
  const schedule = {
    totalSteps,
    peakLr: r.lr,
    warmupFraction: r.warmupEpochs / r.epochs,
    warmupStartLr: 1e-6,
    finalLr: 0,
  };
  const params = head.parameters();
  const optimiser = new AdamW(params, { weightDecay: r.weightDecay, beta1: r.beta1 ?? 0.9, beta2: r.beta2 ?? 0.999 });
  const vars = params.map((p) => p.variable);
  const epochLosses: number[] = [];
  let step = 0;
  try {
    for (let epoch = 0; epoch < r.epochs; epoch++) {
      const order = permutation(n, r.seed * 1000003 + epoch);
      let lossSum = 0;
      for (let b = 0; b < stepsPerEpoch; b++) {
        const { x, y } = gatherBatch(train, order.subarray(b * batch, (b + 1) * batch));
        const lossTensor = tf.tidy(() => {
          const xt = tf.tensor(x, [batch, ...train.sampleShape]);
          const yt = tf.tensor1d(y, 'int32');
          const { value, grads } = tf.variableGrads(() => crossEntropy(head.forward(xt, true), yt), vars);
          const byName = new Map<string, tf.Tensor>();
          for (const p of params) byName.set(p.name, grads[p.variable.name]);
          optimiser.apply(byName, learningRateAt(step, schedule));
          return value;
        });
        // Async read: the webgpu backend cannot read synchronously in Node.
        const lossValue = (await lossTensor.data())[0];
        lossTensor.dispose();
        if (!Number.isFinite(lossValue)) throw new Error(`probe training diverged: loss ${lossValue} at epoch ${epoch}, step ${step}`);
        lossSum += lossValue;
        step++;
      }
      epochLosses.push(lossSum / stepsPerEpoch);
    }
  } finally {
    optimiser.dispose();
  }
  return { epochLosses, steps: step };
}

/** Logits [N, C] of `head` in eval mode, computed in batches. */
export async function predictScores(head: ProbeHead, data: ProbeData, batchSize = 256): Promise<{ scores: Float32Array; numClasses: number }> {
  const n = sampleCount('test', data);
  const per = data.sampleShape.reduce((a, b) => a * b, 1);
  const chunks: Float32Array[] = [];
  let C = 0;
  for (let i = 0; i < n; i += batchSize) {
    const m = Math.min(batchSize, n - i);
    const out = tf.tidy(() => head.forward(tf.tensor(data.x.subarray(i * per, (i + m) * per), [m, ...data.sampleShape]), false));
    C = out.shape[1];
    chunks.push((await out.data()) as Float32Array);
    out.dispose();
  }
  const scores = new Float32Array(n * C);
  let off = 0;
  for (const c of chunks) {
    scores.set(c, off);
    off += c.length;
  }
  return { scores, numClasses: C };
}
