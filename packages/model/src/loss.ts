// Patchify (MAE layout) and AIM's normalised-pixel loss with the next-patch shift over non-prefix positions.
// References: AIM paper Sec. 3 (Eq. 2, normalised pixel targets); apple/ml-l3m loss/mae_loss.py RasterPixelLoss.
import * as tf from '@tensorflow/tfjs-core';

/** Standardisation epsilon of the normalised-pixel target: (t - mean) / sqrt(var + 1e-6). */
export const TARGET_NORM_EPS = 1e-6;

/**
 * Images [B, 3, H, W] -> patches [B, K, p*p*3], raster order over the grid; within a patch the layout is
 * (row-in-patch, col-in-patch, channel), as MAE's `patchify`.
 */
export function patchify(images: tf.Tensor4D, patchSize: number): tf.Tensor3D {
  const [b, c, h, w] = images.shape;
  if (c !== 3) throw new Error(`patchify: images must be [B, 3, H, W], got [${images.shape}]`);
  if (h % patchSize !== 0 || w % patchSize !== 0) {
    throw new Error(`patchify: image ${h}x${w} is not divisible by patch ${patchSize}`);
  }
  const gh = h / patchSize;
  const gw = w / patchSize;
  return tf.tidy(() => {
    const x = tf.reshape(images, [b, c, gh, patchSize, gw, patchSize]);
    const t = tf.transpose(x, [0, 2, 4, 3, 5, 1]); // [B, gh, gw, p, p, 3]
    return tf.reshape(t, [b, gh * gw, patchSize * patchSize * c]);
  });
}

/** Inverse of `patchify`: patches [B, K, p*p*3] -> images [B, 3, H, W] for a square grid. */
export function unpatchify(patches: tf.Tensor3D, patchSize: number): tf.Tensor4D {
  const [b, k, pd] = patches.shape;
  const grid = Math.round(Math.sqrt(k));
  if (grid * grid !== k || pd !== patchSize * patchSize * 3) {
    throw new Error(`unpatchify: patches [${patches.shape}] are not a square grid of ${patchSize}x${patchSize}x3 patches`);
  }
  return tf.tidy(() => {
    const x = tf.reshape(patches, [b, grid, grid, patchSize, patchSize, 3]);
    const t = tf.transpose(x, [0, 5, 1, 3, 2, 4]); // [B, 3, gh, p, gw, p]
    return tf.reshape(t, [b, 3, grid * patchSize, grid * patchSize]);
  });
}

/** Each patch standardised over its values with the unbiased variance: [B, K, P] -> [B, K, P]. */
export function normalizePatchTargets(patches: tf.Tensor3D): tf.Tensor3D {
  const n = patches.shape[2];
  return tf.tidy(() => {
    const mean = tf.mean(patches, 2, true); // [B, K, 1]
    const centered = tf.sub(patches, mean);
    const varUnbiased = tf.div(tf.sum(tf.square(centered), 2, true), n - 1); // [B, K, 1]
    return tf.mul(centered, tf.rsqrt(tf.add(varUnbiased, TARGET_NORM_EPS)));
  });
}

/** Prefix lengths from a [B, K] "not in prefix" mask (true where position >= S), validating its shape. */
export function prefixLengthsFromMask(mask: ArrayLike<boolean | number>, batch: number, numPatches: number): Int32Array {
  if (mask.length !== batch * numPatches) {
    throw new Error(`prefix mask has ${mask.length} values, expected ${batch} x ${numPatches}`);
  }
  const out = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    let s = numPatches;
    for (let i = 0; i < numPatches; i++) {
      if (mask[b * numPatches + i]) {
        s = i;
        break;
      }
    }
    for (let i = s; i < numPatches; i++) {
      if (!mask[b * numPatches + i]) throw new Error(`prefix mask row ${b} is not of the form [false x S, true x (K-S)]`);
    }
    out[b] = s;
  }
  return out;
}

/** Loss weights [B, K-1] of the shifted targets: 1 where target position i+1 >= S (not in the prefix). */
export function targetWeights(prefixLengths: Int32Array, numPatches: number): Float32Array {
  const k1 = numPatches - 1;
  const w = new Float32Array(prefixLengths.length * k1);
  for (let b = 0; b < prefixLengths.length; b++) {
    const s = prefixLengths[b];
    if (!Number.isInteger(s) || s < 1 || s > numPatches - 1) {
      throw new Error(`prefixLengths[${b}] = ${s} is outside 1..${numPatches - 1}`);
    }
    for (let i = 0; i < k1; i++) w[b * k1 + i] = i + 1 >= s ? 1 : 0;
  }
  return w;
}

/**
 * AIM's normalised-pixel loss. predictions [B, K, P] (prediction at i is for patch i+1), patches [B, K, P] raw
 * (already pixel-normalised) patches. Per-patch MSE between predictions[:, :-1] and normalised targets[:, 1:],
 * weighted by the non-prefix mask of the target position, summed and divided by the number of weighted positions.
 */
export function normalizedPixelLoss(predictions: tf.Tensor3D, patches: tf.Tensor3D, prefixLengths: Int32Array): tf.Scalar {
  const [b, k, p] = patches.shape;
  if (predictions.shape[0] !== b || predictions.shape[1] !== k || predictions.shape[2] !== p) {
    throw new Error(`loss: predictions [${predictions.shape}] and patches [${patches.shape}] differ in shape`);
  }
  if (prefixLengths.length !== b) throw new Error(`loss: ${prefixLengths.length} prefix lengths for batch ${b}`);
  const weights = targetWeights(prefixLengths, k);
  let count = 0;
  for (const x of weights) count += x;
  return tf.tidy(() => {
    const targets = normalizePatchTargets(patches);
    const shiftedPred = tf.slice(predictions, [0, 0, 0], [b, k - 1, p]); // [B, K-1, P]
    const shiftedTarget = tf.slice(targets, [0, 1, 0], [b, k - 1, p]); // [B, K-1, P]
    const perPatch = tf.mean(tf.squaredDifference(shiftedPred, shiftedTarget), 2); // [B, K-1]
    const w = tf.tensor2d(weights, [b, k - 1]);
    return tf.div(tf.sum(tf.mul(perPatch, w)), count) as tf.Scalar;
  });
}
