// WGSL scaffolding shared by the kernels: the parameter struct, bindings, the per-step uniform, exact GELU.
import type { BindingKind, FieldType, Kernel } from '../program.js';

export interface BindingSpec {
  readonly name: string;
  readonly kind: BindingKind;
  /** WGSL element type of a storage binding (default f32). */
  readonly element?: 'f32' | 'u32' | 'vec4<f32>';
}

/**
 * Fields of the per-step uniform, in order (each f32). 1 - beta and 1 - lr * wd are computed on the host in float64,
 * as @aim/train's AdamW does, so both round the same way. lossScale weights a micro-batch's loss and gradient;
 * gradScale multiplies only the gradient that seeds the backward (loss scaling: with f16 GEMM operands, small
 * gradients stay representable), and gradUnscale = 1 / gradScale brings the norm and the update back. growthInterval > 0
 * turns on dynamic loss scaling: the scale then lives in the statistics buffer (see STAT) and gradScale is unused.
 */
export const STEP_FIELDS = [
  'lr',
  'bc1',
  'bc2',
  'beta1',
  'oneMinusBeta1',
  'beta2',
  'oneMinusBeta2',
  'eps',
  'decayFactor',
  'clip',
  'lossScale',
  'gradScale',
  'gradUnscale',
  'growthInterval',
] as const;
export type StepValues = Record<(typeof STEP_FIELDS)[number], number>;

/** Step values that update nothing (evaluation): lr 0, no clipping, loss scale 1. */
export const NEUTRAL_STEP: StepValues = Object.freeze({
  lr: 0,
  bc1: 1,
  bc2: 1,
  beta1: 0,
  oneMinusBeta1: 1,
  beta2: 0,
  oneMinusBeta2: 1,
  eps: 1,
  decayFactor: 1,
  clip: 0,
  lossScale: 1,
  gradScale: 1,
  gradUnscale: 1,
  growthInterval: 0,
});

/** A WGSL extension a kernel enables, and the device feature that allows it. */
export interface WgslExtension {
  readonly enable: string;
  readonly feature: GPUFeatureName;
}

/** What goes before a kernel's declarations: extensions it enables, diagnostics it turns off (each with a reason). */
export interface KernelHeader {
  readonly extensions?: readonly WgslExtension[];
  readonly diagnosticsOff?: readonly string[];
}

/**
 * Builds a kernel: its header directives, `struct P` from `fields` at binding 0, then `bindings` in order, then
 * `body` (defines main).
 */
export function defineKernel(
  name: string,
  fields: readonly (readonly [string, FieldType])[],
  bindings: readonly BindingSpec[],
  body: string,
  header: KernelHeader = {},
): Kernel {
  const extensions = header.extensions ?? [];
  const lines: string[] = [...extensions.map((e) => `enable ${e.enable};`), ...(header.diagnosticsOff ?? []).map((d) => `diagnostic(off, ${d});`)];
  lines.push(`struct Params {\n${fields.map(([f, t]) => `  ${f}: ${t},`).join('\n')}\n}`);
  lines.push('@group(0) @binding(0) var<uniform> p: Params;');
  bindings.forEach((b, i) => {
    if (b.kind === 'step') {
      lines.push(`struct Step {\n${STEP_FIELDS.map((f) => `  ${f}: f32,`).join('\n')}\n}`);
      lines.push(`@group(0) @binding(${i + 1}) var<uniform> ${b.name}: Step;`);
    } else {
      const access = b.kind === 'read' ? 'read' : 'read_write';
      lines.push(`@group(0) @binding(${i + 1}) var<storage, ${access}> ${b.name}: array<${b.element ?? 'f32'}>;`);
    }
  });
  lines.push(body);
  const kernel = { name, code: lines.join('\n'), fields, bindings: bindings.map((b) => b.kind) };
  return extensions.length > 0 ? { ...kernel, features: extensions.map((e) => e.feature) } : kernel;
}

/**
 * erf(x) for float32, as a clamped rational polynomial (Eigen's generic_fast_erf_float, accurate to a few ulp):
 * WGSL has no erf, and the model's GELU is the exact one.
 */
export const ERF_WGSL = /* wgsl */ `
fn erf_f32(a: f32) -> f32 {
  let x = clamp(a, -4.0, 4.0);
  let x2 = x * x;
  var p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08;
  p = x2 * p + -2.10102402082508e-06;
  p = x2 * p + -5.69250639462346e-05;
  p = x2 * p + -7.34990630326855e-04;
  p = x2 * p + -2.95459980854025e-03;
  p = x2 * p + -1.60960333262415e-02;
  p = x * p;
  var q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04;
  q = x2 * q + -1.68282697438203e-03;
  q = x2 * q + -7.37332916720468e-03;
  q = x2 * q + -1.42647390514189e-02;
  return p / q;
}
fn gelu_f32(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_f32(x * 0.7071067811865476)); }
// d/dx x * Phi(x) = Phi(x) + x * phi(x)
fn gelu_grad_f32(x: f32) -> f32 {
  return 0.5 * (1.0 + erf_f32(x * 0.7071067811865476)) + x * 0.3989422804014327 * exp(-0.5 * x * x);
}
`;

/** A float's exponent bits all set: infinity or NaN (WGSL has no isFinite, and compilers may fold x != x). */
export const FINITE_WGSL = /* wgsl */ `
fn is_finite_f32(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
`;

/** Sum over a workgroup of `size` threads (a power of two) through workgroup memory; every thread gets the sum. */
export function workgroupSumWgsl(size: number, type: 'f32' | 'vec2<f32>' = 'f32'): string {
  return /* wgsl */ `
var<workgroup> red: array<${type}, ${size}>;
fn wg_sum(v: ${type}, tid: u32) -> ${type} {
  red[tid] = v;
  workgroupBarrier();
  for (var s = ${size / 2}u; s > 0u; s = s >> 1u) {
    if (tid < s) { red[tid] = red[tid] + red[tid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
`;
}

/** Same as wg_sum but for the maximum. */
export function workgroupMaxWgsl(size: number): string {
  return /* wgsl */ `
var<workgroup> redmax: array<f32, ${size}>;
fn wg_max(v: f32, tid: u32) -> f32 {
  redmax[tid] = v;
  workgroupBarrier();
  for (var s = ${size / 2}u; s > 0u; s = s >> 1u) {
    if (tid < s) { redmax[tid] = max(redmax[tid], redmax[tid + s]); }
    workgroupBarrier();
  }
  let r = redmax[0];
  workgroupBarrier();
  return r;
}
`;
}

/** Row index of a 1-D launch spread over a 2-D grid (see `grid1d`). */
export const ROW_OF_GRID = 'wg.x + wg.y * p.gridX';
