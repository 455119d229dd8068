// Frozen-feature tables held as plain Float32Arrays: token features, block means, mean pooling.

/** Token features of N samples: data[(n * tokens + t) * dim + d]. */
export interface TokenFeatures {
  readonly data: Float32Array;
  readonly n: number;
  readonly tokens: number;
  readonly dim: number;
}

/**
 * A block set's mean, built one block at a time so that no more than one block's output need be held: `addBlock` each
 * block's output into a zeroed table in the set's order, then `finishMean`. Float32 arithmetic in that fixed order, so
 * every way of building a set's mean (one trunk pass, or cached single blocks) gives the same bits.
 */
export function addBlock(sum: Float32Array, block: Float32Array): void {
  for (let i = 0; i < sum.length; i++) sum[i] += block[i];
}

/** Divides a sum of `count` blocks by `count` (one block stays as it is). */
export function finishMean(sum: Float32Array, count: number): void {
  if (count === 1) return;
  const inv = 1 / count;
  for (let i = 0; i < sum.length; i++) sum[i] *= inv;
}

/** Mean over tokens: [N, T, D] -> [N, D] (the input of the linear probe and kNN). */
export function meanPool(f: TokenFeatures): Float32Array {
  const out = new Float32Array(f.n * f.dim);
  const inv = 1 / f.tokens;
  for (let s = 0; s < f.n; s++) {
    for (let t = 0; t < f.tokens; t++) {
      const src = (s * f.tokens + t) * f.dim;
      for (let d = 0; d < f.dim; d++) out[s * f.dim + d] += f.data[src + d];
    }
    for (let d = 0; d < f.dim; d++) out[s * f.dim + d] *= inv;
  }
  return out;
}
