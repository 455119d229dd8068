// Fixed 2-D sin-cos position embeddings, computed in float32 steps like the reference so parity stays tight.
// References: apple/ml-aim aim-v1 torch/layers.py SinCosPosEmbed; MAE util/pos_embed.py.

/**
 * Position embedding for a gridH x gridW raster of tokens: [gridH * gridW, dim], row-major token order.
 * The first dim/2 channels encode the column index, the last dim/2 the row index; each half is
 * [sin(pos * w_i), cos(pos * w_i)] with w_i = 1 / 10000^(i / (dim/4)), i = 0 .. dim/4 - 1.
 */
export function sinCosPositionEmbedding2d(gridH: number, gridW: number, dim: number): Float32Array {
  if (dim % 4 !== 0) throw new Error(`sin-cos position embedding needs a width divisible by 4, got ${dim}`);
  const quarter = dim / 4;
  const half = dim / 2;
  const f = Math.fround;
  // Reference computes omega in float32: arange / (D/4), then 1 / 10000**omega.
  const omega = new Float64Array(quarter);
  for (let i = 0; i < quarter; i++) omega[i] = f(1 / f(10000 ** f(i / quarter)));
  const out = new Float32Array(gridH * gridW * dim);
  for (let row = 0; row < gridH; row++) {
    for (let col = 0; col < gridW; col++) {
      const base = (row * gridW + col) * dim;
      for (let i = 0; i < quarter; i++) {
        const colArg = f(col * omega[i]);
        const rowArg = f(row * omega[i]);
        out[base + i] = Math.sin(colArg);
        out[base + quarter + i] = Math.cos(colArg);
        out[base + half + i] = Math.sin(rowArg);
        out[base + half + quarter + i] = Math.cos(rowArg);
      }
    }
  }
  return out;
}
