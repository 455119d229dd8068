// Gradient clipping by global L2 norm, as torch.nn.utils.clip_grad_norm_ does it: the norm, and the scale to apply.
import * as tf from '@tensorflow/tfjs-core';

/** Global L2 norm of all gradients together. */
export function globalNorm(grads: Iterable<tf.Tensor>): number {
  const normTensor = tf.tidy(() => {
    const squares = [...grads].map((g) => tf.sum(tf.square(g)));
    return tf.sqrt(squares.length === 0 ? tf.scalar(0) : tf.addN(squares));
  });
  const norm = normTensor.dataSync()[0];
  normTensor.dispose();
  return norm;
}

/**
 * Factor that brings gradients of global norm `norm` to at most `maxNorm`: min(1, maxNorm / (norm + 1e-6)) as torch
 * computes it; 1 when clipping is off (`maxNorm` 0 or Infinity). Apply it with AdamW.apply's `gradScale`.
 */
export function clipScale(norm: number, maxNorm: number): number {
  if (!(maxNorm >= 0)) throw new Error(`clipScale: maxNorm must be >= 0, got ${maxNorm}`);
  if (maxNorm === 0 || !Number.isFinite(maxNorm) || !(norm > maxNorm)) return 1;
  return maxNorm / (norm + 1e-6);
}
