// Device-independent description of what the engine allocates and runs: buffers, kernels, dispatches.
// The engine first describes everything (which is also how `planMemory` counts bytes without a device), then
// materialises the description once: one GPUBuffer per buffer, one pipeline per kernel source, one bind group per
// dispatch, every dispatch's constant parameters in one uniform slab.

/** Uniform fields of a kernel, in declaration order; every field is 4 bytes. */
export type FieldType = 'u32' | 'f32';

/** A compute kernel: WGSL source (entry `main`), its parameter struct, and its bindings after the parameters. */
export interface Kernel {
  /** Short name for counts and errors. */
  readonly name: string;
  readonly code: string;
  /** Parameter fields, bound as a uniform struct `P` at binding 0. */
  readonly fields: readonly (readonly [string, FieldType])[];
  /** Bindings 1..n: storage buffers read-only or read-write, or the per-step uniform. */
  readonly bindings: readonly BindingKind[];
  /** Device features the WGSL enables (f16 subgroup-matrix GEMMs); none for most kernels. */
  readonly features?: readonly GPUFeatureName[];
}

export type BindingKind = 'read' | 'rw' | 'step';

export type BufferRole = 'parameters' | 'activations' | 'scratch' | 'io' | 'uniform' | 'readback';

export interface BufferDesc {
  readonly id: number;
  readonly label: string;
  readonly bytes: number;
  readonly role: BufferRole;
}

export interface Dispatch {
  readonly kind: 'dispatch';
  readonly kernel: Kernel;
  /** Values of `kernel.fields`, in order. */
  readonly params: readonly number[];
  /** Buffers for bindings 1..n ('step' bindings take the step uniform and are listed as null). */
  readonly buffers: readonly (BufferDesc | null)[];
  readonly workgroups: readonly [number, number, number];
}

export interface ClearOp {
  readonly kind: 'clear';
  readonly buffer: BufferDesc;
  /** Byte range (default: the whole buffer). */
  readonly offset?: number;
  readonly bytes?: number;
}

export interface CopyOp {
  readonly kind: 'copy';
  readonly src: BufferDesc;
  readonly srcOffset: number;
  readonly dst: BufferDesc;
  readonly dstOffset: number;
  readonly bytes: number;
}

export type Op = Dispatch | ClearOp | CopyOp;

/** Bytes of the per-dispatch parameter slot: WebGPU's minUniformBufferOffsetAlignment. */
export const PARAM_SLOT_BYTES = 256;
/** Bytes of the per-step uniform (learning rate, bias corrections, clip, loss scale, ...). */
export const STEP_UNIFORM_BYTES = 64;
/** Largest workgroup count per grid dimension WebGPU guarantees. */
export const MAX_GRID = 65535;

/** Collects buffers and operations; nothing here touches a device. */
export class ProgramBuilder {
  readonly buffers: BufferDesc[] = [];
  /** Dispatches across every program, in creation order; each owns one parameter slot. */
  readonly dispatches: Dispatch[] = [];

  buffer(label: string, floats: number, role: BufferRole): BufferDesc {
    if (!Number.isInteger(floats) || floats <= 0) throw new Error(`buffer '${label}': ${floats} elements`);
    const desc = { id: this.buffers.length, label, bytes: floats * 4, role };
    this.buffers.push(desc);
    return desc;
  }

  dispatch(kernel: Kernel, params: readonly number[], buffers: readonly (BufferDesc | null)[], workgroups: readonly number[]): Dispatch {
    if (params.length !== kernel.fields.length) {
      throw new Error(`kernel ${kernel.name}: ${params.length} parameters for ${kernel.fields.length} fields`);
    }
    if (buffers.length !== kernel.bindings.length) {
      throw new Error(`kernel ${kernel.name}: ${buffers.length} buffers for ${kernel.bindings.length} bindings`);
    }
    kernel.bindings.forEach((kind, i) => {
      if ((kind === 'step') !== (buffers[i] === null)) throw new Error(`kernel ${kernel.name}: binding ${i + 1} is ${kind}`);
    });
    const [x, y = 1, z = 1] = workgroups;
    for (const n of [x, y, z]) {
      if (!Number.isInteger(n) || n < 1 || n > MAX_GRID) throw new Error(`kernel ${kernel.name}: grid [${workgroups}] is out of range`);
    }
    const d: Dispatch = { kind: 'dispatch', kernel, params, buffers, workgroups: [x, y, z] };
    this.dispatches.push(d);
    return d;
  }

  /** Bytes of every buffer the materialised program holds, parameter slab included. */
  totalBytes(): number {
    return this.buffers.reduce((n, b) => n + b.bytes, 0) + paramSlabBytes(this.dispatches.length) + STEP_UNIFORM_BYTES;
  }
}

/** The uniform slab holding every dispatch's parameters (one slot each; at least one slot). */
export const paramSlabBytes = (dispatches: number): number => Math.max(1, dispatches) * PARAM_SLOT_BYTES;

/** A 2-D grid covering `n` workgroups (x * y >= n); kernels recover the index as wg.x + wg.y * gridX. */
export function grid1d(n: number): [number, number] {
  if (n <= MAX_GRID) return [Math.max(1, n), 1];
  const x = 32768;
  return [x, Math.ceil(n / x)];
}

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
