// The end of a step on the GPU: global gradient norm, clipping scale, the non-finite gate, and AdamW over an arena
// chunk in one dispatch. Nothing is read back: the update reads the clip scale and the gate from the stats buffer.
// References: torch.nn.utils.clip_grad_norm_ (max_norm / (norm + 1e-6)); torch.optim.AdamW; Loshchilov & Hutter 2019.
import { type BufferDesc, type Dispatch, type ProgramBuilder, ceilDiv, grid1d } from '../program.js';
import { FINITE_WGSL, defineKernel, workgroupSumWgsl } from './wgsl.js';

/**
 * Slots of the statistics buffer (f32). 0-3 are reset every step; HALTED stays set once a step was non-finite.
 * Dynamic loss scaling keeps its state here: the scale the next step's backward runs at, the finite steps since it
 * last changed, and the updates applied (AdamW's bias correction counts those). Each step's finalisation writes
 * SKIPPED and the bias corrections AdamW uses.
 */
export const STAT = {
  loss: 0,
  gradNorm: 1,
  clipScale: 2,
  nonFinite: 3,
  halted: 4,
  evalLoss: 5,
  lossScale: 6,
  goodSteps: 7,
  updatesApplied: 8,
  skipped: 9,
  bc1: 10,
  bc2: 11,
} as const;
export const STATS_FLOATS = 12;

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
  // The gradients are the loss scale times the true ones: the norm, and through the clip scale the update, take them back.
  let dynamic = step.growthInterval > 0.0;
  let scaleNow = select(step.gradScale, Stats[${STAT.lossScale}], dynamic);
  let unscale = select(step.gradUnscale, 1.0 / scaleNow, dynamic);
  let norm = sqrt(wg_sum(s, tid)) * unscale;
  if (tid == 0u) {
    let lossBad = !is_finite_f32(Stats[${STAT.loss}]);
    let gradBad = !is_finite_f32(norm);
    // Dynamic scaling (PyTorch's GradScaler): gradients that overflowed at a finite loss skip the update and halve the
    // scale; growthInterval finite steps in a row double it. A non-finite loss, or an overflow at a scale of 1 or
    // less, halts as it does without scaling.
    let skip = dynamic && gradBad && !lossBad && scaleNow > 1.0;
    let bad = (lossBad || gradBad) && !skip;
    var updates = Stats[${STAT.updatesApplied}];
    if (!bad && !skip) { updates = updates + 1.0; }
    if (dynamic) {
      var good = Stats[${STAT.goodSteps}] + 1.0;
      var next = scaleNow;
      if (skip) { next = scaleNow * 0.5; good = 0.0; }
      if (good >= step.growthInterval) { next = scaleNow * 2.0; good = 0.0; }
      Stats[${STAT.lossScale}] = next;
      Stats[${STAT.goodSteps}] = good;
    }
    Stats[${STAT.updatesApplied}] = updates;
    // Bias corrections: the host's for the update number it counts, or with dynamic scaling the updates applied.
    Stats[${STAT.bc1}] = select(step.bc1, 1.0 - pow(step.beta1, updates), dynamic);
    Stats[${STAT.bc2}] = select(step.bc2, 1.0 - pow(step.beta2, updates), dynamic);
    var scale = 1.0;
    if (step.clip > 0.0 && norm > step.clip) { scale = step.clip / (norm + 1e-6); }
    Stats[${STAT.gradNorm}] = norm;
    Stats[${STAT.clipScale}] = scale * unscale;
    Stats[${STAT.nonFinite}] = select(0.0, 1.0, bad);
    Stats[${STAT.skipped}] = select(0.0, 1.0, skip);
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
  if (i >= p.n || Stats[${STAT.halted}] != 0.0 || Stats[${STAT.skipped}] != 0.0) { return; }
  let g = G[i] * Stats[${STAT.clipScale}];
  let m = M[i] * step.beta1 + g * step.oneMinusBeta1;
  let v = V[i] * step.beta2 + g * g * step.oneMinusBeta2;
  M[i] = m;
  V[i] = v;
  let update = (m / Stats[${STAT.bc1}]) / (sqrt(v / Stats[${STAT.bc2}]) + step.eps);
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
