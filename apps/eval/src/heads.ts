// Adapts @aim/model's probe heads (AttentiveProbe, LinearProbe) to the probe trainer's ProbeHead interface.
import * as tf from '@tensorflow/tfjs-core';
import { AttentiveProbe, LinearProbe } from '@aim/model';
import type { HeadFactories } from './probes.js';
import type { ProbeHead } from './train-probe.js';

function adapt(probe: AttentiveProbe | LinearProbe, reshape: (x: tf.Tensor) => tf.Tensor3D): ProbeHead & { probe: AttentiveProbe | LinearProbe } {
  return {
    probe,
    parameters: () => probe.parameters(),
    forward: (x, training) => probe.forward(reshape(x), training ? 'train' : 'eval'),
    dispose: () => probe.dispose(),
  };
}

/** The @aim/model attentive probe inside a head built by `modelHeads`, or null for any other head. */
export function attentiveProbeOf(head: ProbeHead): AttentiveProbe | null {
  const probe = (head as { probe?: unknown }).probe;
  return probe instanceof AttentiveProbe ? probe : null;
}

/**
 * Heads for a trunk with `heads` attention heads. The attentive probe reads token features [B, K, D]; the linear
 * probe reads already mean-pooled vectors [B, D], fed as one token [B, 1, D] (its own token mean is then a no-op).
 */
export function modelHeads(heads: number): HeadFactories {
  return {
    attentive: (width, numClasses, seed) => adapt(new AttentiveProbe({ width, heads, numClasses, seed }), (x) => x as tf.Tensor3D),
    linear: (width, numClasses, seed) => adapt(new LinearProbe({ width, numClasses, seed }), (x) => tf.reshape(x, [x.shape[0], 1, width]) as tf.Tensor3D),
  };
}
