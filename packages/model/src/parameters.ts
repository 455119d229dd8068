// Named trainable tensors on tf.Variable, with their weight-decay flag and the layout mapping to reference state dicts.
// References: apple/ml-aim aim-v1 state-dict names; PyTorch Linear/Conv2d weight layouts.
import * as tf from '@tensorflow/tfjs-core';
import type { StateLayout } from './param-specs.js';

/** A named model parameter. `decay` is false for biases, norm parameters and position/query embeddings. */
export interface NamedParameter {
  readonly name: string;
  readonly variable: tf.Variable;
  readonly decay: boolean;
}

interface Entry extends NamedParameter {
  readonly layout: StateLayout;
  readonly stateShape: readonly number[];
}

/** An ordered set of named variables that can be exported to and loaded from reference-layout tensors. */
export class ParameterSet {
  private readonly entries = new Map<string, Entry>();

  /** Registers a variable built from `values` (its own shape); the set owns and later disposes it. */
  add(name: string, values: Float32Array, shape: number[], options: { decay: boolean; layout?: StateLayout; trainable?: boolean }): tf.Variable {
    if (this.entries.has(name)) throw new Error(`duplicate parameter name '${name}'`);
    const layout = options.layout ?? 'plain';
    const variable = tf.tidy(() => tf.variable(tf.tensor(values, shape), options.trainable ?? true));
    this.entries.set(name, { name, variable, decay: options.decay, layout, stateShape: stateShapeOf(shape, layout) });
    return variable;
  }

  get(name: string): tf.Variable {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new Error(`no parameter named '${name}'`);
    return entry.variable;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Trainable parameters in registration order. */
  list(): NamedParameter[] {
    return [...this.entries.values()].filter((e) => e.variable.trainable).map(({ name, variable, decay }) => ({ name, variable, decay }));
  }

  /** Every entry (trainable or not) with its reference state shape. */
  stateSpecs(): { name: string; shape: readonly number[] }[] {
    return [...this.entries.values()].map((e) => ({ name: e.name, shape: e.stateShape }));
  }

  /** The reference-layout tensor of one entry (a new tensor the caller disposes). */
  stateTensor(name: string): tf.Tensor {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new Error(`no parameter named '${name}'`);
    return tf.tidy(() => toState(entry.variable, entry.layout, entry.stateShape));
  }

  /** Assigns one entry from a reference-layout tensor, checking its shape; the caller keeps `value`. */
  assignState(name: string, value: tf.Tensor): void {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new Error(`unexpected tensor '${name}': the model has no such parameter`);
    if (!sameShape(value.shape, entry.stateShape)) {
      throw new Error(`tensor '${name}' has shape [${value.shape}], expected [${entry.stateShape}]`);
    }
    if (value.dtype !== 'float32') throw new Error(`tensor '${name}' has dtype ${value.dtype}, expected float32`);
    const next = tf.tidy(() => fromState(value, entry.layout, entry.variable.shape));
    entry.variable.assign(next);
    next.dispose();
  }

  dispose(): void {
    for (const e of this.entries.values()) e.variable.dispose();
    this.entries.clear();
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function stateShapeOf(shape: number[], layout: StateLayout): number[] {
  if (layout === 'plain') return [...shape];
  if (layout === 'linear') return [shape[1], shape[0]];
  const [patchDim, d] = shape;
  const p = Math.round(Math.sqrt(patchDim / 3));
  return [d, 3, p, p];
}

function toState(v: tf.Tensor, layout: StateLayout, stateShape: readonly number[]): tf.Tensor {
  if (layout === 'plain') return tf.clone(v);
  if (layout === 'linear') return tf.transpose(v);
  const [d, c, p] = stateShape;
  // [p*p*3, D] rows ordered (row, col, channel) -> [p, p, 3, D] -> [D, 3, p, p]
  return tf.transpose(tf.reshape(v, [p, p, c, d]), [3, 2, 0, 1]);
}

function fromState(s: tf.Tensor, layout: StateLayout, varShape: readonly number[]): tf.Tensor {
  if (layout === 'plain') return tf.clone(s);
  if (layout === 'linear') return tf.transpose(s);
  // [D, 3, p, p] -> [p, p, 3, D] -> [p*p*3, D]
  return tf.reshape(tf.transpose(s, [2, 3, 1, 0]), [...varShape]);
}
