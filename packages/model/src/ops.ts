// Functional building blocks on tfjs-core ops: linear, LayerNorm, exact GELU, multi-head attention, prefix masks.
// References: apple/ml-aim aim-v1 torch/layers.py (Attention, PrefixCausalAttention, MLP, Block).
import * as tf from '@tensorflow/tfjs-core';

/**
 * Sum over rows of a 2-D tensor as ones[1, N] @ x: one XNNPACK product on wasm, where a reduction over axis 0
 * walks memory with a stride (about 40x slower there). x [N, D] -> [D].
 */
function sumRows(x: tf.Tensor2D): tf.Tensor1D {
  const [n, d] = x.shape;
  return tf.reshape(tf.matMul(tf.ones([1, n]), x), [d]);
}

/**
 * x @ w for 2-D x [N, in] and w [in, out], with a backward pass written as plain (non-transposed) matMuls over
 * explicitly transposed operands. The wasm backend runs matMul with transposeA/transposeB flags through a slow
 * generic loop (about 10x slower than its XNNPACK path), and tfjs' built-in MatMul gradient uses those flags;
 * an explicit transpose is a memory copy by comparison. For the weight gradient the narrower of x and dy is
 * transposed: dW = x^T dy, or (dy^T x)^T when out < in.
 */
const matMulPlainGrad = tf.customGrad((x: tf.Tensor | tf.GradSaveFunc, w: tf.Tensor | tf.GradSaveFunc, save) => {
  const x2 = x as tf.Tensor2D;
  const w2 = w as tf.Tensor2D;
  (save as tf.GradSaveFunc)([x2, w2]);
  return {
    value: tf.matMul(x2, w2), // [N, out]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const dy2 = dy as tf.Tensor2D;
      const [inDim, outDim] = ws.shape;
      const dx = tf.matMul(dy2, tf.transpose(ws)); // [N, out] @ [out, in] -> [N, in]
      const dw =
        outDim < inDim
          ? tf.transpose(tf.matMul(tf.transpose(dy2), xs)) // ([out, N] @ [N, in])^T -> [in, out]
          : tf.matMul(tf.transpose(xs), dy2); // [in, N] @ [N, out] -> [in, out]
      return [dx, dw];
    },
  };
});

/** y [N, out] + b [out], whose bias gradient is a row sum done as a product (see `sumRows`). */
const addBias = tf.customGrad((y: tf.Tensor | tf.GradSaveFunc, b: tf.Tensor | tf.GradSaveFunc) => ({
  value: tf.add(y as tf.Tensor, b as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => [dy, sumRows(dy as tf.Tensor2D)],
})) as (y: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

/** Linear map on the last axis: x [..., in] @ w [in, out] (+ b [out]) -> [..., out]. */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor {
  const inDim = w.shape[0];
  const outDim = w.shape[1];
  if (x.shape[x.rank - 1] !== inDim) {
    throw new Error(`linear: input last dim ${x.shape[x.rank - 1]} does not match weight [${w.shape}]`);
  }
  const lead = x.shape.slice(0, -1);
  const rows = lead.reduce((a, b) => a * b, 1);
  let y = matMulPlainGrad(tf.reshape(x, [rows, inDim]), w) as tf.Tensor2D; // [N, out]
  if (b !== undefined) y = addBias(y, b);
  return tf.reshape(y, [...lead, outDim]);
}

/**
 * LayerNorm over the last axis with weight and bias (biased variance, like torch). x [..., D] -> [..., D].
 * The gradient is written out (about half the kernels of the traced one):
 * dx = rstd * (g*dy - mean(g*dy) - xhat * mean(g*dy * xhat)), dg = sum(dy * xhat), db = sum(dy).
 */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor {
  return layerNormOp(eps)(x, weight, bias);
}

const layerNormOps = new Map<number, (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor>();

function layerNormOp(eps: number): (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor {
  let op = layerNormOps.get(eps);
  if (op !== undefined) return op;
  op = tf.customGrad((x: tf.Tensor | tf.GradSaveFunc, w: tf.Tensor | tf.GradSaveFunc, b: tf.Tensor | tf.GradSaveFunc, save) => {
    const xt = x as tf.Tensor;
    const axis = xt.rank - 1;
    const mean = tf.mean(xt, axis, true); // [..., 1]
    const centered = tf.sub(xt, mean); // [..., D]
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), axis, true), eps)); // [..., 1]
    const xhat = tf.mul(centered, rstd); // [..., D]
    (save as tf.GradSaveFunc)([xhat, rstd, w as tf.Tensor]);
    return {
      value: tf.add(tf.mul(xhat, w as tf.Tensor), b as tf.Tensor),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, rs, weight] = saved;
        const d = weight.shape[0];
        const ax = dy.rank - 1;
        const g = tf.mul(dy, weight); // [..., D]
        const inner = tf.sub(tf.sub(g, tf.mean(g, ax, true)), tf.mul(xh, tf.mean(tf.mul(g, xh), ax, true)));
        const dx = tf.mul(rs, inner);
        const rows = tf.reshape(dy, [-1, d]) as tf.Tensor2D; // [N, D]
        const dw = sumRows(tf.mul(rows, tf.reshape(xh, [-1, d]))); // [D]
        const db = sumRows(rows); // [D]
        return [dx, dw, db];
      },
    };
  });
  layerNormOps.set(eps, op);
  return op;
}

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Exact (erf) GELU, x * Phi(x), as torch.nn.GELU(). A custom gradient keeps backward to a few elementwise kernels
 * and reuses the forward's Phi(x): d/dx = Phi(x) + x * phi(x).
 */
export const gelu = tf.customGrad((x: tf.Tensor | tf.GradSaveFunc, save) => {
  const xt = x as tf.Tensor;
  const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(xt, INV_SQRT2))));
  (save as tf.GradSaveFunc)([xt, cdf]);
  return {
    value: tf.mul(xt, cdf),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, cdfs] = saved as [tf.Tensor, tf.Tensor];
      const phi = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.square(xs))));
      return tf.mul(dy, tf.add(cdfs, tf.mul(xs, phi)));
    },
  };
});

/** Value added to blocked attention scores; exp() of it underflows to exactly 0 in float32. */
export const MASKED_SCORE = -1e9;

/**
 * Additive prefix-causal attention mask [B, 1, K, K]: 0 where query q may attend key k (k < S or k <= q),
 * MASKED_SCORE elsewhere. S is per sample. Built on the device from the B prefix lengths (uploading a
 * B x K x K mask would be 1 GiB at the paper's batch).
 */
export function prefixCausalMask(prefixLengths: Int32Array, numPatches: number): tf.Tensor4D {
  const b = prefixLengths.length;
  const k = numPatches;
  prefixLengths.forEach((prefix, s) => {
    if (!Number.isInteger(prefix) || prefix < 1 || prefix > k) {
      throw new Error(`prefixLengths[${s}] = ${prefix} is outside 1..${k}`);
    }
  });
  return tf.tidy(() => {
    const prefix = tf.tensor4d(prefixLengths, [b, 1, 1, 1], 'int32');
    const keys = tf.reshape(tf.range(0, k, 1, 'int32'), [1, 1, 1, k]);
    const queries = tf.reshape(tf.range(0, k, 1, 'int32'), [1, 1, k, 1]);
    const allowed = tf.logicalOr(tf.less(keys, prefix), tf.lessEqual(keys, queries)); // [B, 1, K, K]
    return tf.where(allowed, tf.zeros([b, 1, k, k]), tf.fill([b, 1, k, k], MASKED_SCORE)) as tf.Tensor4D;
  });
}

/** Parameters of one multi-head self-attention layer (weights [in, out]). */
export interface AttentionWeights {
  qkv: tf.Tensor2D; // [D, 3D], output columns ordered (3, heads, headDim)
  proj: tf.Tensor2D; // [D, D]
}

/**
 * Multi-head self-attention without biases. x [B, K, D] -> [B, K, D]. `mask` is additive, [B, 1, K, K], or null
 * for full bidirectional attention. Heads are folded into the batch ([B*H, K, hd]) so each product is one
 * batched matMul. Only rank-4 (0, 2, 1, 3) transposes are used: tfjs-wasm runs them as block copies, while a
 * rank-5 transpose takes its generic path (about 100x slower).
 */
export function selfAttention(x: tf.Tensor3D, w: AttentionWeights, heads: number, mask: tf.Tensor4D | null): tf.Tensor3D {
  const [b, k, d] = x.shape;
  const hd = d / heads;
  // q, k, v from column blocks of the [D, 3D] weight (columns ordered (3, heads, hd)): slicing the small weight
  // is cheap, while splitting the [B*K, 3D] activation would copy it whole per piece on wasm.
  const [q, key, v] = [0, 1, 2].map((i) => {
    const proj = linear(x, tf.slice(w.qkv, [0, i * d], [d, d])); // [B, K, D]
    const heads4 = tf.transpose(tf.reshape(proj, [b, k, heads, hd]), [0, 2, 1, 3]); // [B, H, K, hd]
    return tf.reshape(heads4, [b * heads, k, hd]);
  }) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D]; // each [B*H, K, hd]
  let scores = tf.matMul(tf.mul(q, 1 / Math.sqrt(hd)), key, false, true); // [B*H, K, K]
  if (mask !== null) scores = tf.reshape(tf.add(tf.reshape(scores, [b, heads, k, k]), mask), [b * heads, k, k]);
  const probs = tf.softmax(scores); // [B*H, K, K]
  const context = tf.matMul(probs, v); // [B*H, K, hd]
  const merged = tf.reshape(tf.transpose(tf.reshape(context, [b, heads, k, hd]), [0, 2, 1, 3]), [b, k, d]); // [B, K, D]
  return linear(merged, w.proj) as tf.Tensor3D;
}

/**
 * fn(...inputs) whose intermediates are not kept for the backward pass: the gradient recomputes fn and takes its
 * vector-Jacobian product (activation checkpointing). Every input must be a tensor that fn uses.
 */
export function recomputeInBackward(fn: (...inputs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args.slice(0, -1) as tf.Tensor[];
    save(xs);
    return {
      value: fn(...xs),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        // A gradient taken inside a backward pass: tfjs' engine.gradients() replaces the engine's active tape with
        // a fresh one and sets it to null when done, while the outer gradients() still needs its own tape to free
        // the tensors saved for backward afterwards. Keep the outer tape and put it back.
        const state = tf.engine().state;
        const outerTape = state.activeTape;
        try {
          return tf.grads((...ins: tf.Tensor[]) => fn(...ins))(saved, dy);
        } finally {
          state.activeTape = outerTape;
        }
      },
    };
  });
  return op(...inputs);
}

/** Parameters of a two-layer MLP without biases (weights [in, out]). */
export interface MlpWeights {
  fc1: tf.Tensor2D; // [D, M]
  fc2: tf.Tensor2D; // [M, D]
}

/** fc2(GELU(fc1(x))), no biases. x [..., D] -> [..., D]. */
export function mlp(x: tf.Tensor, w: MlpWeights): tf.Tensor {
  return linear(gelu(linear(x, w.fc1)), w.fc2);
}
