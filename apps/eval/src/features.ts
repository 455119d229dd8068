// Frozen-feature tables held as plain Float32Arrays: per-block token features, block averaging, mean pooling.

/** Token features of N samples: data[(n * tokens + t) * dim + d]. */
export interface TokenFeatures {
  readonly data: Float32Array;
  readonly n: number;
  readonly tokens: number;
  readonly dim: number;
}

/** Element-wise mean of several blocks' token features (the paper averages the chosen blocks' raw outputs). */
export function averageBlocks(blocks: readonly TokenFeatures[]): TokenFeatures {
  if (blocks.length === 0) throw new Error('averageBlocks: no blocks given');
  const { n, tokens, dim } = blocks[0];
  for (const b of blocks) {
    if (b.n !== n || b.tokens !== tokens || b.dim !== dim) {
      throw new Error(`averageBlocks: shapes differ ([${n}, ${tokens}, ${dim}] vs [${b.n}, ${b.tokens}, ${b.dim}])`);
    }
  }
  if (blocks.length === 1) return blocks[0];
  const out = new Float32Array(blocks[0].data.length);
  for (const b of blocks) for (let i = 0; i < out.length; i++) out[i] += b.data[i];
  const inv = 1 / blocks.length;
  for (let i = 0; i < out.length; i++) out[i] *= inv;
  return { data: out, n, tokens, dim };
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
