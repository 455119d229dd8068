// The attentive probe's eval-mode forward in plain TypeScript (it is tiny next to the trunk), returning the attention
// weights too, for the heat map. Same arithmetic as @aim/model's AttentiveProbe.forward(features, 'eval').
// References: apple/ml-aim aim-v1 torch/layers.py AttentionPoolingClassifier.

/** BatchNorm eps of the probe (PROBE_BN_EPS in @aim/model). */
export const PROBE_BN_EPS = 1e-6;

export interface AttentiveProbeWeights {
  readonly width: number;
  readonly heads: number;
  readonly numClasses: number;
  /** The learned query (head.cls_token) [D]. */
  readonly query: Float32Array;
  /** [D, D] in compute layout (in, out). */
  readonly k: Float32Array;
  readonly v: Float32Array;
  /** [D, C] in compute layout. */
  readonly linear: Float32Array;
  readonly runningMean: Float32Array;
  readonly runningVar: Float32Array;
}

export interface ProbeOutput {
  /** [B, C] */
  readonly logits: Float32Array;
  /** Softmax attention of the query over the tokens, [B, H, N]. */
  readonly attention: Float32Array;
}

/** The element-wise mean of several blocks' outputs, each [B, N, D]. */
export function averageBlocks(blocks: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(blocks[0].length);
  for (const b of blocks) for (let i = 0; i < out.length; i++) out[i] += b[i];
  for (let i = 0; i < out.length; i++) out[i] /= blocks.length;
  return out;
}

/** features [B, N, D] (mean of the probe blocks' raw outputs) -> logits [B, C] and attention [B, H, N]. */
export function attentiveProbe(w: AttentiveProbeWeights, features: Float32Array, b: number, n: number): ProbeOutput {
  const d = w.width;
  const h = w.heads;
  const hd = d / h;
  const c = w.numClasses;
  if (features.length !== b * n * d) throw new Error(`attentiveProbe: features hold ${features.length} values, expected ${b}x${n}x${d}`);
  const logits = new Float32Array(b * c);
  const attention = new Float32Array(b * h * n);
  const x = new Float32Array(n * d);
  const k = new Float32Array(n * d);
  const v = new Float32Array(n * d);
  const scale = new Float32Array(d);
  for (let j = 0; j < d; j++) scale[j] = 1 / Math.sqrt(w.runningVar[j] + PROBE_BN_EPS);
  const matmul = (a: Float32Array, m: Float32Array, out: Float32Array): void => {
    out.fill(0);
    for (let t = 0; t < n; t++)
      for (let i = 0; i < d; i++) {
        const ai = a[t * d + i];
        if (ai === 0) continue;
        for (let j = 0; j < d; j++) out[t * d + j] += ai * m[i * d + j];
      }
  };
  for (let s = 0; s < b; s++) {
    for (let t = 0; t < n; t++) for (let j = 0; j < d; j++) x[t * d + j] = (features[(s * n + t) * d + j] - w.runningMean[j]) * scale[j];
    matmul(x, w.k, k);
    matmul(x, w.v, v);
    const pooled = new Float32Array(d);
    for (let head = 0; head < h; head++) {
      const att = attention.subarray((s * h + head) * n, (s * h + head + 1) * n);
      let max = -Infinity;
      for (let t = 0; t < n; t++) {
        let dot = 0;
        for (let e = 0; e < hd; e++) dot += k[t * d + head * hd + e] * w.query[head * hd + e];
        att[t] = dot / Math.sqrt(hd);
        max = Math.max(max, att[t]);
      }
      let sum = 0;
      for (let t = 0; t < n; t++) sum += att[t] = Math.exp(att[t] - max);
      for (let t = 0; t < n; t++) att[t] /= sum;
      for (let t = 0; t < n; t++) for (let e = 0; e < hd; e++) pooled[head * hd + e] += att[t] * v[t * d + head * hd + e];
    }
    for (let i = 0; i < d; i++) for (let j = 0; j < c; j++) logits[s * c + j] += pooled[i] * w.linear[i * c + j];
  }
  return { logits, attention };
}

/** Softmax over each row of logits [B, C] and the `count` best classes of row `row`. */
export function topK(logits: Float32Array, numClasses: number, row: number, count: number): { cls: number; prob: number }[] {
  const l = logits.subarray(row * numClasses, (row + 1) * numClasses);
  const max = Math.max(...l);
  const e = Array.from(l, (x) => Math.exp(x - max));
  const sum = e.reduce((a, x) => a + x, 0);
  return e
    .map((x, cls) => ({ cls, prob: x / sum }))
    .sort((a, z) => z.prob - a.prob)
    .slice(0, count);
}
