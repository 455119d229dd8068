// Gradient clipping by global L2 norm, as torch.nn.utils.clip_grad_norm_ does it.
import * as tf from '@tensorflow/tfjs-core';

export interface ClippedGradients {
  /** New tensors (the caller disposes them), scaled by min(1, maxNorm / (norm + 1e-6)). */
  readonly grads: Map<string, tf.Tensor>;
  /** Global L2 norm of the gradients before clipping. */
  readonly norm: number;
}

/** Clips `grads` to global L2 norm `maxNorm` (Infinity or 0 disables clipping but still reports the norm). */
export function clipByGlobalNorm(grads: ReadonlyMap<string, tf.Tensor>, maxNorm: number): ClippedGradients {
  if (!(maxNorm >= 0)) throw new Error(`clipByGlobalNorm: maxNorm must be >= 0, got ${maxNorm}`);
  const normTensor = tf.tidy(() => {
    const squares = [...grads.values()].map((g) => tf.sum(tf.square(g)));
    return tf.sqrt(squares.length === 0 ? tf.scalar(0) : tf.addN(squares));
  });
  const norm = normTensor.dataSync()[0];
  normTensor.dispose();
  const clipping = maxNorm > 0 && Number.isFinite(maxNorm) && norm > maxNorm;
  const scale = clipping ? maxNorm / (norm + 1e-6) : 1;
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) out.set(name, scale === 1 ? tf.clone(g) : tf.tidy(() => tf.mul(g, scale)));
  return { grads: out, norm };
}
