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

  /**
   * The reference-layout values of one entry, converted on the host: what checkpoints write. No tensor op runs, so it
   * costs the same on every backend (tfjs-cpu's transpose moves ~120 MB/s, a minute per aim-600M checkpoint).
   */
  async stateData(name: string): Promise<Float32Array> {
    const entry = this.entry(name);
    return toStateValues((await entry.variable.data()) as Float32Array, entry.layout, entry.variable.shape);
  }

  /** Assigns one entry from reference-layout values of shape `shape` (checked), converted on the host. */
  assignStateData(name: string, values: Float32Array, shape: readonly number[]): void {
    const entry = this.entryOfShape(name, shape);
    if (values.length !== entry.variable.size) throw new Error(`tensor '${name}': ${values.length} values for shape [${shape}]`);
    const next = tf.tensor(fromStateValues(values, entry.layout, entry.variable.shape), entry.variable.shape, 'float32');
    entry.variable.assign(next);
    next.dispose();
  }

  private entry(name: string): Entry {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new Error(`unexpected tensor '${name}': the model has no such parameter`);
    return entry;
  }

  /** The entry `name`, whose reference shape must be `shape`. */
  private entryOfShape(name: string, shape: readonly number[]): Entry {
    const entry = this.entry(name);
    if (!sameShape(shape, entry.stateShape)) throw new Error(`tensor '${name}' has shape [${shape}], expected [${entry.stateShape}]`);
    return entry;
  }

  /** Assigns one entry from a reference-layout tensor, checking its shape; the caller keeps `value`. */
  assignState(name: string, value: tf.Tensor): void {
    const entry = this.entryOfShape(name, value.shape);
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

/**
 * A row-major rows x cols matrix transposed, in 64 x 64 blocks (both sides stay in cache), each output row written
 * contiguously (1.5x the rate of contiguous reads in V8, ~1 GB/s).
 */
function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  const B = 64;
  for (let c0 = 0; c0 < cols; c0 += B) {
    const c1 = Math.min(c0 + B, cols);
    for (let r0 = 0; r0 < rows; r0 += B) {
      const r1 = Math.min(r0 + B, rows);
      for (let c = c0; c < c1; c++) {
        const base = c * rows;
        for (let r = r0; r < r1; r++) out[base + r] = a[r * cols + c];
      }
    }
  }
  return out;
}

/**
 * The patch embedding between its variable layout [p*p*3, D] (rows ordered row, col, channel) and the reference conv
 * kernel [D, 3, p, p], either way.
 */
function patchEmbedLayout(values: Float32Array, varShape: readonly number[], toState: boolean): Float32Array {
  const [rows, cols] = varShape;
  const p = Math.round(Math.sqrt(rows / 3));
  const out = new Float32Array(values.length);
  for (let y = 0; y < p; y++) {
    for (let x = 0; x < p; x++) {
      for (let c = 0; c < 3; c++) {
        for (let d = 0; d < cols; d++) {
          const v = ((y * p + x) * 3 + c) * cols + d;
          const k = ((d * 3 + c) * p + y) * p + x;
          if (toState) out[k] = values[v];
          else out[v] = values[k];
        }
      }
    }
  }
  return out;
}

/** Host version of toState: variable values (shape `varShape`) -> reference layout. */
function toStateValues(values: Float32Array, layout: StateLayout, varShape: readonly number[]): Float32Array {
  if (layout === 'plain') return values;
  if (layout === 'linear') return transpose2d(values, varShape[0], varShape[1]);
  return patchEmbedLayout(values, varShape, true);
}

/** Host version of fromState: reference-layout values -> the variable's layout (shape `varShape`). */
function fromStateValues(values: Float32Array, layout: StateLayout, varShape: readonly number[]): Float32Array {
  if (layout === 'plain') return values;
  if (layout === 'linear') return transpose2d(values, varShape[1], varShape[0]);
  return patchEmbedLayout(values, varShape, false);
}

function fromState(s: tf.Tensor, layout: StateLayout, varShape: readonly number[]): tf.Tensor {
  if (layout === 'plain') return tf.clone(s);
  if (layout === 'linear') return tf.transpose(s);
  // [D, 3, p, p] -> [p, p, 3, D] -> [p*p*3, D]
  return tf.reshape(tf.transpose(s, [2, 3, 1, 0]), [...varShape]);
}
