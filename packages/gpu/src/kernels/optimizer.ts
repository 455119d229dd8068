// The end of a step on the GPU: global gradient norm, clipping scale, the non-finite gate, and AdamW over an arena
// chunk in one dispatch. Nothing is read back: the update reads the clip scale and the gate from the stats buffer.
// References: torch.nn.utils.clip_grad_norm_ (max_norm / (norm + 1e-6)); torch.optim.AdamW; Loshchilov & Hutter 2019.
import { type BufferDesc, type Dispatch, type ProgramBuilder, ceilDiv, grid1d } from '../program.js';
import { FINITE_WGSL, defineKernel, workgroupSumWgsl } from './wgsl.js';

/** Slots of the statistics buffer (f32). 0-3 are reset every step; HALTED stays set once a step was non-finite. */
export const STAT = { loss: 0, gradNorm: 1, clipScale: 2, nonFinite: 3, halted: 4, evalLoss: 5 } as const;
export const STATS_FLOATS = 8;

const WG = 256;
/** Workgroups of a sum-of-squares pass per chunk (each thread strides over the chunk). */
export const SUMSQ_GROUPS = 256;

const sumsqKernel = defineKernel(
  'sum_of_squares',
  [
    ['n', 'u32'],
    ['offPart', 'u32'],
  ],
  [
    { name: 'G', kind: 'read' },
    { name: 'Part', kind: 'rw' },
  ],
  /* wgsl */ `
${workgroupSumWgsl(WG)}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  var s = 0.0;
  for (var i = wg.x * ${WG}u + tid; i < p.n; i = i + ${SUMSQ_GROUPS * WG}u) { let g = G[i]; s = s + g * g; }
  let t = wg_sum(s, tid);
  if (tid == 0u) { Part[p.offPart + wg.x] = t; }
}
`,
);

const finalizeKernel = defineKernel(
  'norm_clip_gate',
  [['parts', 'u32']],
  [
    { name: 'Part', kind: 'read' },
    { name: 'Stats', kind: 'rw' },
    { name: 'step', kind: 'step' },
  ],
  /* wgsl */ `
${FINITE_WGSL}
${workgroupSumWgsl(WG)}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) tid: u32) {
  var s = 0.0;
  for (var i = tid; i < p.parts; i = i + ${WG}u) { s = s + Part[i]; }
  // The gradients are gradScale times the true ones: the norm, and through the clip scale the update, take them back.
  let norm = sqrt(wg_sum(s, tid)) * step.gradUnscale;
  if (tid == 0u) {
    let bad = !is_finite_f32(norm) || !is_finite_f32(Stats[${STAT.loss}]);
    var scale = 1.0;
    if (step.clip > 0.0 && norm > step.clip) { scale = step.clip / (norm + 1e-6); }
    Stats[${STAT.gradNorm}] = norm;
    Stats[${STAT.clipScale}] = scale * step.gradUnscale;
    Stats[${STAT.nonFinite}] = select(0.0, 1.0, bad);
    if (bad) { Stats[${STAT.halted}] = 1.0; }
  }
}
`,
);

const adamwKernel = defineKernel(
  'adamw',
  [
    ['n', 'u32'],
    ['decayEnd', 'u32'],
    ['gridX', 'u32'],
  ],
  [
    { name: 'Param', kind: 'rw' },
    { name: 'G', kind: 'read' },
    { name: 'M', kind: 'rw' },
    { name: 'V', kind: 'rw' },
    { name: 'Stats', kind: 'read' },
    { name: 'step', kind: 'step' },
  ],
  /* wgsl */ `
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let i = (wg.x + wg.y * p.gridX) * ${WG}u + tid;
  if (i >= p.n || Stats[${STAT.halted}] != 0.0) { return; }
  let g = G[i] * Stats[${STAT.clipScale}];
  let m = M[i] * step.beta1 + g * step.oneMinusBeta1;
  let v = V[i] * step.beta2 + g * g * step.oneMinusBeta2;
  M[i] = m;
  V[i] = v;
  let update = (m / step.bc1) / (sqrt(v / step.bc2) + step.eps);
  var w = Param[i];
  if (i < p.decayEnd) { w = w * step.decayFactor; }
  Param[i] = w - update * step.lr;
}
`,
);

/** Partial sums of squares of one gradient chunk into part[offPart .. offPart + SUMSQ_GROUPS). */
export function sumOfSquares(pb: ProgramBuilder, a: { n: number; grads: BufferDesc; partials: BufferDesc; offPart: number }): Dispatch {
  return pb.dispatch(sumsqKernel, [a.n, a.offPart], [a.grads, a.partials], [SUMSQ_GROUPS]);
}

/** Global norm from `parts` partial sums, the clip scale, and the non-finite gate, into the stats buffer. */
export function normClipGate(pb: ProgramBuilder, a: { parts: number; partials: BufferDesc; stats: BufferDesc }): Dispatch {
  return pb.dispatch(finalizeKernel, [a.parts], [a.partials, a.stats, null], [1]);
}

/** AdamW over one arena chunk: elements [0, decayEnd) take weight decay, the rest do not. */
export function adamw(
  pb: ProgramBuilder,
  a: { n: number; decayEnd: number; params: BufferDesc; grads: BufferDesc; m: BufferDesc; v: BufferDesc; stats: BufferDesc },
): Dispatch {
  const grid = grid1d(ceilDiv(a.n, WG));
  return pb.dispatch(adamwKernel, [a.n, a.decayEnd, grid[0]], [a.params, a.grads, a.m, a.v, a.stats, null], grid);
}
