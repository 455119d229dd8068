// One pretraining step as the trainer runs it: forward, backward, and an AdamW-like update of every parameter.
// References: Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (AdamW); docs/aim-spec.md recipe values.
import * as tf from '@tensorflow/tfjs-core';
import type { AimModel } from '../src/model.js';

const BETA1 = 0.9;
const BETA2 = 0.95;
const EPS = 1e-8;
const WEIGHT_DECAY = 0.05;

export interface BenchStep {
  /** Runs one step and returns the loss (a scalar the caller reads and disposes). */
  run(): tf.Scalar;
  dispose(): void;
}

/** A step over fixed inputs (patches [B, K, P], one prefix length per sample) with AdamW moments per parameter. */
export function makeStep(model: AimModel, patches: tf.Tensor3D, prefixLengths: Int32Array, lr = 1e-4): BenchStep {
  const params = model.parameters();
  const m = params.map((p) => tf.variable(tf.zerosLike(p.variable), false));
  const v = params.map((p) => tf.variable(tf.zerosLike(p.variable), false));
  let t = 0;
  return {
    run() {
      t++;
      const c1 = 1 - BETA1 ** t;
      const c2 = 1 - BETA2 ** t;
      return tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => model.pretrainLoss(patches, prefixLengths),
          params.map((p) => p.variable),
        );
        params.forEach((p, i) => {
          // One tidy per parameter: the update's temporaries die before the next parameter's are made.
          tf.tidy(() => {
            const g = grads[p.variable.name];
            const mi = tf.add(tf.mul(m[i], BETA1), tf.mul(g, 1 - BETA1));
            const vi = tf.add(tf.mul(v[i], BETA2), tf.mul(tf.square(g), 1 - BETA2));
            m[i].assign(mi);
            v[i].assign(vi);
            let update = tf.div(tf.div(mi, c1), tf.add(tf.sqrt(tf.div(vi, c2)), EPS));
            if (p.decay) update = tf.add(update, tf.mul(p.variable, WEIGHT_DECAY));
            p.variable.assign(tf.sub(p.variable, tf.mul(update, lr)));
          });
          tf.dispose(grads[p.variable.name]);
        });
        return value;
      });
    },
    dispose() {
      tf.dispose([...m, ...v]);
    },
  };
}
