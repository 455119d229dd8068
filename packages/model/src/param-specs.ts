// AIM's parameters described without allocating anything: state-dict names, reference shapes, the layout tfjs
// variables (and the WebGPU engine) hold them in, and which ones take weight decay. No tfjs: browser-safe.
// References: apple/ml-aim aim-v1 state-dict names; apple/ml-l3m configs/aimv1 (pretraining head).
import { type AimConfig, patchDim } from './config.js';

export const PRETRAIN_HEAD_PREFIX = 'pretrain_head.';

/** Receives the model's parameters in order; one walk serves allocation and shape-only descriptions. */
export interface ParameterSink {
  linear(name: string, inDim: number, outDim: number, bias: boolean): void;
  norm(name: string, dim: number): void;
  patchEmbed(name: string, patchDim: number, width: number): void;
}

/** Walks every parameter of an AIM model in state-dict order (trunk with apple/ml-aim names, then our head). */
export function describeAim(c: AimConfig, pretrainHead: boolean, sink: ParameterSink): void {
  const d = c.width;
  sink.patchEmbed('preprocessor.patchifier.proj', patchDim(c), d);
  sink.norm('preprocessor.patchifier.norm', d);
  for (let i = 0; i < c.depth; i++) {
    const p = `trunk.blocks.${i}`;
    sink.norm(`${p}.norm_1`, d);
    sink.linear(`${p}.attn.qkv`, d, 3 * d, false);
    sink.linear(`${p}.attn.proj`, d, d, false);
    sink.norm(`${p}.norm_2`, d);
    sink.linear(`${p}.mlp.fc1`, d, c.mlpDim, false);
    sink.linear(`${p}.mlp.fc2`, c.mlpDim, d, false);
  }
  sink.norm('trunk.post_trunk_norm', d);
  if (!pretrainHead) return;
  const w = c.headWidth;
  const h = PRETRAIN_HEAD_PREFIX;
  sink.linear(`${h}decoder_projection`, d, w, true);
  for (let i = 0; i < c.headDepth; i++) {
    const p = `${h}decoder_blocks.${i}`;
    sink.norm(`${p}.norm_1`, w);
    sink.norm(`${p}.norm_2`, w);
    sink.linear(`${p}.mlp.fc1`, w, c.headMlpDim, false);
    sink.linear(`${p}.mlp.fc2`, c.headMlpDim, w, false);
  }
  sink.norm(`${h}decoder_norm`, w);
  sink.linear(`${h}decoder_pred`, w, patchDim(c), true);
}

/** A state-dict tensor's name and reference (PyTorch-layout) shape. */
export interface StateSpec {
  name: string;
  shape: readonly number[];
}

/** The state-dict names and reference shapes of an AIM model, without allocating anything. */
export function aimStateSpecs(config: AimConfig, options: { pretrainHead: boolean }): StateSpec[] {
  const out: StateSpec[] = [];
  describeAim(config, options.pretrainHead, {
    linear: (name, inDim, outDim, bias) => {
      out.push({ name: `${name}.weight`, shape: [outDim, inDim] });
      if (bias) out.push({ name: `${name}.bias`, shape: [outDim] });
    },
    norm: (name, dim) => {
      out.push({ name: `${name}.weight`, shape: [dim] }, { name: `${name}.bias`, shape: [dim] });
    },
    patchEmbed: (name, pd, width) => {
      const p = Math.round(Math.sqrt(pd / 3));
      out.push({ name: `${name}.weight`, shape: [width, 3, p, p] }, { name: `${name}.bias`, shape: [width] });
    },
  });
  return out;
}

/**
 * How a parameter is held for computation: linear weights [in, out] (so y = x @ W), the patch embedding
 * [p*p*3, D] over (row, col, channel) patch vectors, everything else as in the state dict.
 */
export type StateLayout = 'plain' | 'linear' | 'patchEmbed';

/** One trainable parameter: its state-dict name, its compute-layout shape, its layout and weight-decay flag. */
export interface ParameterSpec {
  readonly name: string;
  /** Shape in the compute layout ([in, out] for linear weights). */
  readonly shape: readonly number[];
  readonly layout: StateLayout;
  /** False for biases and norm parameters (the paper's AdamW decay groups). */
  readonly decay: boolean;
}

/** Every trainable parameter of an AIM model in state-dict order, in the layout computation holds it. */
export function aimParameterSpecs(config: AimConfig, options: { pretrainHead: boolean }): ParameterSpec[] {
  const out: ParameterSpec[] = [];
  describeAim(config, options.pretrainHead, {
    linear: (name, inDim, outDim, bias) => {
      out.push({ name: `${name}.weight`, shape: [inDim, outDim], layout: 'linear', decay: true });
      if (bias) out.push({ name: `${name}.bias`, shape: [outDim], layout: 'plain', decay: false });
    },
    norm: (name, dim) => {
      out.push({ name: `${name}.weight`, shape: [dim], layout: 'plain', decay: false });
      out.push({ name: `${name}.bias`, shape: [dim], layout: 'plain', decay: false });
    },
    patchEmbed: (name, pd, width) => {
      out.push({ name: `${name}.weight`, shape: [pd, width], layout: 'patchEmbed', decay: true });
      out.push({ name: `${name}.bias`, shape: [width], layout: 'plain', decay: false });
    },
  });
  return out;
}
