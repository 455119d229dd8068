// Analytic FLOP counts for one AIM pretraining step, from the config alone (nothing allocated).
//
// Step FLOPs = 6 * matmulParams * tokens + 12 * B * K^2 * D * depth, where tokens = B * K:
// - every weight matrix costs 2 FLOPs per parameter per token forward, 4 backward (input and weight gradients);
// - attention: QK^T and PV are 2*B*K^2*D each forward, so 4*B*K^2*D forward and 12*B*K^2*D with backward, per block.
// Elementwise work (norms, GELU, softmax, the optimiser) is not counted: it is the overhead this ratio exposes.
// (The patch embedding needs no input gradient, so 6x slightly overcounts it; with P*D params it is < 1%.)
import { type AimConfig, numPatches, patchDim } from './config.js';

/** Parameters in the weight matrices the step multiplies by (trunk and pretraining head). */
export function matmulParams(c: AimConfig): number {
  const d = c.width;
  const trunk = patchDim(c) * d + c.depth * (3 * d * d + d * d + 2 * d * c.mlpDim);
  const w = c.headWidth;
  const head = d * w + c.headDepth * 2 * w * c.headMlpDim + w * patchDim(c);
  return trunk + head;
}

export function stepFlops(c: AimConfig, batch: number): { matmul: number; attention: number; total: number } {
  const k = numPatches(c);
  const matmul = 6 * matmulParams(c) * batch * k;
  const attention = 12 * batch * k * k * c.width * c.depth;
  return { matmul, attention, total: matmul + attention };
}

/** FLOPs of one forward pass (2 per weight per token, 4*B*K^2*D per block). */
export function forwardFlops(c: AimConfig, batch: number): number {
  const k = numPatches(c);
  return 2 * matmulParams(c) * batch * k + 4 * batch * k * k * c.width * c.depth;
}
