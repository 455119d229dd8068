// Frozen-feature tables held as plain Float32Arrays: token features and mean pooling.

/** Token features of N samples: data[(n * tokens + t) * dim + d]. */
export interface TokenFeatures {
  readonly data: Float32Array;
  readonly n: number;
  readonly tokens: number;
  readonly dim: number;
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
