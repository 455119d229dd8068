// Probe heads on frozen AIM features: the paper's attentive probe and a BatchNorm + linear probe.
// References: apple/ml-aim aim-v1 torch/layers.py AttentionPoolingClassifier; MAE main_linprobe.py (BN + linear).
import * as tf from '@tensorflow/tfjs-core';
import { type NamedParameter, ParameterSet, sameShape } from './parameters.js';
import { Mulberry32 } from '@aim/base/random';
import { normalValues, uniformValues } from './init.js';
import { linear } from './ops.js';

/** BatchNorm1d(affine=False, eps=1e-6), PyTorch defaults otherwise (momentum 0.1, unbiased running variance). */
export const PROBE_BN_EPS = 1e-6;
export const PROBE_BN_MOMENTUM = 0.1;

/** A state-dict entry of a probe: float tensors plus the int64 batch counter. */
export interface ProbeStateSpec {
  name: string;
  shape: readonly number[];
  dtype: 'float32' | 'int64';
}

/** Which statistics BatchNorm uses: the batch's (training, and the running stats are updated) or the running ones. */
export type ProbeMode = 'train' | 'eval';

/** Affine-free BatchNorm over the channel (last) axis of x [..., C], with running statistics. */
class RunningBatchNorm {
  batchesTracked = 0;

  constructor(
    private readonly params: ParameterSet,
    readonly prefix: string,
    readonly channels: number,
  ) {
    params.add(`${prefix}.running_mean`, new Float32Array(channels), [channels], { decay: false, trainable: false });
    params.add(`${prefix}.running_var`, new Float32Array(channels).fill(1), [channels], {
      decay: false,
      trainable: false,
    });
  }

  apply(x: tf.Tensor, mode: ProbeMode): tf.Tensor {
    const runningMean = this.params.get(`${this.prefix}.running_mean`);
    const runningVar = this.params.get(`${this.prefix}.running_var`);
    if (mode === 'eval') {
      return tf.mul(tf.sub(x, runningMean), tf.rsqrt(tf.add(runningVar, PROBE_BN_EPS)));
    }
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
    const count = x.size / this.channels;
    if (count < 2) throw new Error('BatchNorm in train mode needs more than one value per channel');
    const mean = tf.mean(x, axes); // [C]
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axes); // [C], biased: used to normalise
    // Running statistics follow torch: unbiased variance, exponential average. The
    // update is off the loss path, so no gradient flows through it.
    tf.tidy(() => {
      runningMean.assign(tf.add(tf.mul(runningMean, 1 - PROBE_BN_MOMENTUM), tf.mul(mean, PROBE_BN_MOMENTUM)));
      const unbiased = tf.mul(variance, count / (count - 1));
      runningVar.assign(tf.add(tf.mul(runningVar, 1 - PROBE_BN_MOMENTUM), tf.mul(unbiased, PROBE_BN_MOMENTUM)));
    });
    this.batchesTracked += 1;
    return tf.mul(centered, tf.rsqrt(tf.add(variance, PROBE_BN_EPS)));
  }
}

function checkFeatures(features: tf.Tensor, width: number, who: string): asserts features is tf.Tensor3D {
  if (features.rank !== 3 || features.shape[2] !== width) {
    throw new Error(`${who}: features must be [B, N, ${width}], got [${features.shape}]`);
  }
}

/** Shared state handling of the two probes. */
abstract class ProbeBase {
  protected readonly params = new ParameterSet();
  protected abstract readonly bn: RunningBatchNorm;

  /** Trainable parameters (BatchNorm running statistics are not parameters). */
  parameters(): NamedParameter[] {
    return this.params.list();
  }

  stateSpecs(): ProbeStateSpec[] {
    return [
      ...this.params.stateSpecs().map((s) => ({ ...s, dtype: 'float32' as const })),
      { name: `${this.bn.prefix}.num_batches_tracked`, shape: [], dtype: 'int64' },
    ];
  }

  /** One state tensor in the reference layout (num_batches_tracked as an int32 scalar); the caller disposes it. */
  stateTensor(name: string): tf.Tensor {
    if (name === `${this.bn.prefix}.num_batches_tracked`) return tf.scalar(this.bn.batchesTracked, 'int32');
    return this.params.stateTensor(name);
  }

  stateDict(): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    for (const { name } of this.stateSpecs()) out[name] = this.stateTensor(name);
    return out;
  }

  /**
   * Loads every probe tensor (all are required); errors name the offending tensor and nothing is assigned then.
   * The caller keeps `tensors`. Async because the batch counter is read back (WebGPU has no synchronous reads).
   */
  async loadStateDict(tensors: tf.NamedTensorMap): Promise<void> {
    const specs = this.stateSpecs();
    for (const name of Object.keys(tensors)) {
      if (!specs.some((s) => s.name === name)) throw new Error(`unexpected tensor '${name}' for this probe`);
    }
    for (const spec of specs) {
      const t = tensors[spec.name];
      if (t === undefined) throw new Error(`missing tensor '${spec.name}'`);
      if (!sameShape(t.shape, spec.shape)) {
        throw new Error(`tensor '${spec.name}' has shape [${t.shape}], expected [${spec.shape}]`);
      }
      const wantDtype = spec.dtype === 'int64' ? 'int32' : 'float32';
      if (t.dtype !== wantDtype) throw new Error(`tensor '${spec.name}' has dtype ${t.dtype}, expected ${wantDtype}`);
    }
    for (const spec of specs) {
      const t = tensors[spec.name];
      if (spec.dtype === 'int64') {
        this.bn.batchesTracked = Number((await t.data())[0]);
      } else {
        this.params.assignState(spec.name, t);
      }
    }
  }

  dispose(): void {
    this.params.dispose();
  }
}

export interface AttentiveProbeOptions {
  /** Trunk width D. */
  width: number;
  /** The trunk's number of heads. */
  heads: number;
  numClasses: number;
  seed?: number;
}

/**
 * The paper's attentive probe: BatchNorm (affine-free) -> one learned query (no q projection) attending over
 * k = Wk x, v = Wv x (no biases) with the trunk's heads -> concatenated heads -> Linear(D, classes, no bias).
 * State names follow apple/ml-aim (`head.*`).
 */
export class AttentiveProbe extends ProbeBase {
  readonly width: number;
  readonly heads: number;
  readonly numClasses: number;
  protected readonly bn: RunningBatchNorm;

  constructor(options: AttentiveProbeOptions) {
    super();
    const { width, heads, numClasses } = options;
    if (!Number.isInteger(width) || !Number.isInteger(heads) || heads <= 0 || width % heads !== 0) {
      throw new Error(`AttentiveProbe: width ${width} must be a positive multiple of heads ${heads}`);
    }
    if (!Number.isInteger(numClasses) || numClasses <= 0) {
      throw new Error(`AttentiveProbe: numClasses must be a positive integer, got ${numClasses}`);
    }
    this.width = width;
    this.heads = heads;
    this.numClasses = numClasses;
    const rng = new Mulberry32(options.seed ?? 0);
    this.params.add('head.cls_token', normalValues(rng, width, 0.02), [1, 1, width], { decay: false });
    // k, v and the classifier use PyTorch's default nn.Linear init, U(-1/sqrt(in), 1/sqrt(in)).
    const bound = 1 / Math.sqrt(width);
    this.params.add('head.k.weight', uniformValues(rng, width * width, bound), [width, width], {
      decay: true,
      layout: 'linear',
    });
    this.params.add('head.v.weight', uniformValues(rng, width * width, bound), [width, width], {
      decay: true,
      layout: 'linear',
    });
    this.params.add('head.linear.weight', uniformValues(rng, width * numClasses, bound), [width, numClasses], {
      decay: true,
      layout: 'linear',
    });
    this.bn = new RunningBatchNorm(this.params, 'head.bn', width);
  }

  /** features [B, N, D] (mean of the probe blocks' raw outputs) -> logits [B, classes]. 'train' updates BN stats. */
  forward(features: tf.Tensor3D, mode: ProbeMode): tf.Tensor2D {
    checkFeatures(features, this.width, 'AttentiveProbe');
    const [b, n, d] = features.shape;
    const h = this.heads;
    const hd = d / h;
    return tf.tidy(() => {
      const x = this.bn.apply(features, mode); // [B, N, D]
      const k = tf.reshape(linear(x, this.params.get('head.k.weight') as tf.Tensor2D), [b, n, h, hd]);
      const v = tf.transpose(tf.reshape(linear(x, this.params.get('head.v.weight') as tf.Tensor2D), [b, n, h, hd]), [0, 2, 1, 3]); // [B, H, N, hd]
      const q = tf.reshape(this.params.get('head.cls_token'), [1, 1, h, hd]);
      const scores = tf.transpose(tf.sum(tf.mul(k, tf.mul(q, 1 / Math.sqrt(hd))), 3), [0, 2, 1]); // [B, H, N]
      const probs = tf.reshape(tf.softmax(scores), [b, h, 1, n]);
      const pooled = tf.reshape(tf.matMul(probs, v), [b, d]); // [B, D], heads concatenated
      return linear(pooled, this.params.get('head.linear.weight') as tf.Tensor2D) as tf.Tensor2D;
    });
  }
}

export interface LinearProbeOptions {
  width: number;
  numClasses: number;
  seed?: number;
}

/** Linear probe: mean over tokens -> BatchNorm (affine-free) -> Linear(D, classes, with bias). Names `linear_probe.*`. */
export class LinearProbe extends ProbeBase {
  readonly width: number;
  readonly numClasses: number;
  protected readonly bn: RunningBatchNorm;

  constructor(options: LinearProbeOptions) {
    super();
    const { width, numClasses } = options;
    if (!Number.isInteger(width) || width <= 0) throw new Error(`LinearProbe: width must be a positive integer, got ${width}`);
    if (!Number.isInteger(numClasses) || numClasses <= 0) {
      throw new Error(`LinearProbe: numClasses must be a positive integer, got ${numClasses}`);
    }
    this.width = width;
    this.numClasses = numClasses;
    const rng = new Mulberry32(options.seed ?? 0);
    const bound = 1 / Math.sqrt(width);
    this.params.add('linear_probe.linear.weight', uniformValues(rng, width * numClasses, bound), [width, numClasses], {
      decay: true,
      layout: 'linear',
    });
    this.params.add('linear_probe.linear.bias', new Float32Array(numClasses), [numClasses], { decay: false });
    this.bn = new RunningBatchNorm(this.params, 'linear_probe.bn', width);
  }

  /** features [B, N, D] -> logits [B, classes]. 'train' updates BN stats. */
  forward(features: tf.Tensor3D, mode: ProbeMode): tf.Tensor2D {
    checkFeatures(features, this.width, 'LinearProbe');
    return tf.tidy(() => {
      const pooled = this.bn.apply(tf.mean(features, 1), mode); // [B, D]
      return linear(
        pooled,
        this.params.get('linear_probe.linear.weight') as tf.Tensor2D,
        this.params.get('linear_probe.linear.bias') as tf.Tensor1D,
      ) as tf.Tensor2D;
    });
  }
}
