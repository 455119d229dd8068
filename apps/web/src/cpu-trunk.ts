// The trunk's bidirectional forward in plain TypeScript, for browsers without WebGPU: slow (one core, no SIMD) but
// exact; fine for the dev variants the demo probes (aim-dev-tiny: 16 patches, width 64). Same arithmetic as
// @aim/model's extractFeatures: patch embedding, LayerNorm (eps 1e-6), sin-cos positions, pre-norm blocks with
// exact erf GELU, raw block outputs.
// References: apple/ml-aim aim-v1 torch (Block, Attention, Mlp); docs/aim-spec.md.
import { type AimConfig, numPatches, patchDim, sinCosPositionEmbedding2d } from '@aim/model/spec';

const LN_EPS = 1e-6;

/** erf in float64 to ~1e-15: Maclaurin series below 2.5, erfc's continued fraction above. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x);
  // erfc(ax) = exp(-ax^2)/sqrt(pi) * 1/(ax + 1/2/(ax + 1/(ax + 3/2/(ax + ...))))
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

function layerNorm(x: Float32Array, rows: number, d: number, w: Float32Array, b: Float32Array, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let j = 0; j < d; j++) mean += x[r * d + j];
    mean /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x[r * d + j] - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / d + LN_EPS);
    for (let j = 0; j < d; j++) out[r * d + j] = (x[r * d + j] - mean) * rstd * w[j] + b[j];
  }
}

/** out [rows, m] = a [rows, n] @ w [n, m] (+= when accumulate). */
function matmul(a: Float32Array, w: Float32Array, rows: number, n: number, m: number, out: Float32Array, accumulate = false): void {
  const acc = new Float64Array(m);
  for (let r = 0; r < rows; r++) {
    acc.fill(0);
    for (let i = 0; i < n; i++) {
      const ai = a[r * n + i];
      if (ai === 0) continue;
      const row = i * m;
      for (let j = 0; j < m; j++) acc[j] += ai * w[row + j];
    }
    for (let j = 0; j < m; j++) out[r * m + j] = accumulate ? out[r * m + j] + acc[j] : acc[j];
  }
}

/**
 * Raw outputs of `blocks` (before the post-trunk norm), bidirectional attention.
 * params: compute layout (linear [in, out], patch embedding [p*p*3, D]); patches [b, K, p*p*3] -> one [b, K, D] per block.
 */
export function cpuExtractFeatures(
  config: AimConfig,
  params: ReadonlyMap<string, Float32Array>,
  patches: Float32Array,
  b: number,
  blocks: readonly number[],
): Float32Array[] {
  const get = (name: string): Float32Array => {
    const v = params.get(name);
    if (!v) throw new Error(`cpu trunk: missing parameter '${name}'`);
    return v;
  };
  const k = numPatches(config);
  const pd = patchDim(config);
  const d = config.width;
  const h = config.heads;
  const hd = d / h;
  const mlp = config.mlpDim;
  const grid = config.imageSize / config.patchSize;
  const pos = sinCosPositionEmbedding2d(grid, grid, d);
  const last = Math.max(...blocks);
  const outputs = new Map<number, Float32Array>();
  for (const i of blocks) outputs.set(i, new Float32Array(b * k * d));
  const x = new Float32Array(k * d);
  const t = new Float32Array(k * d);
  const qkv = new Float32Array(k * 3 * d);
  const att = new Float32Array(k * d);
  const hidden = new Float32Array(k * mlp);
  const scores = new Float64Array(k);
  for (let s = 0; s < b; s++) {
    matmul(patches.subarray(s * k * pd, (s + 1) * k * pd), get('preprocessor.patchifier.proj.weight'), k, pd, d, t);
    const bias = get('preprocessor.patchifier.proj.bias');
    for (let r = 0; r < k; r++) for (let j = 0; j < d; j++) t[r * d + j] += bias[j];
    layerNorm(t, k, d, get('preprocessor.patchifier.norm.weight'), get('preprocessor.patchifier.norm.bias'), x);
    for (let i = 0; i < k * d; i++) x[i] += pos[i];
    for (let blk = 0; blk <= last; blk++) {
      const p = `trunk.blocks.${blk}`;
      layerNorm(x, k, d, get(`${p}.norm_1.weight`), get(`${p}.norm_1.bias`), t);
      matmul(t, get(`${p}.attn.qkv.weight`), k, d, 3 * d, qkv); // columns (3, heads, hd)
      for (let head = 0; head < h; head++) {
        const qo = head * hd;
        const ko = d + head * hd;
        const vo = 2 * d + head * hd;
        for (let q = 0; q < k; q++) {
          let max = -Infinity;
          for (let j = 0; j < k; j++) {
            let dot = 0;
            for (let e = 0; e < hd; e++) dot += qkv[q * 3 * d + qo + e] * qkv[j * 3 * d + ko + e];
            scores[j] = dot / Math.sqrt(hd);
            max = Math.max(max, scores[j]);
          }
          let sum = 0;
          for (let j = 0; j < k; j++) sum += scores[j] = Math.exp(scores[j] - max);
          for (let e = 0; e < hd; e++) {
            let v = 0;
            for (let j = 0; j < k; j++) v += scores[j] * qkv[j * 3 * d + vo + e];
            att[q * d + qo + e] = v / sum;
          }
        }
      }
      matmul(att, get(`${p}.attn.proj.weight`), k, d, d, x, true);
      layerNorm(x, k, d, get(`${p}.norm_2.weight`), get(`${p}.norm_2.bias`), t);
      matmul(t, get(`${p}.mlp.fc1.weight`), k, d, mlp, hidden);
      for (let i = 0; i < hidden.length; i++) hidden[i] = 0.5 * hidden[i] * (1 + erf(hidden[i] / Math.SQRT2));
      matmul(hidden, get(`${p}.mlp.fc2.weight`), k, mlp, d, x, true);
      outputs.get(blk)?.set(x, s * k * d);
    }
  }
  return blocks.map((i) => outputs.get(i)!);
}
