// Attention's masked softmax over full K x K score tiles, in place, and its backward.
// Prefix-causal mask per sample: query q may attend key k iff k < S or k <= q (S = K gives full attention).
// References: AIM paper Sec. 3 (prefix attention); apple/ml-aim aim-v1 torch/layers.py (PrefixCausalAttention).
import { type BufferDesc, type Dispatch, type ProgramBuilder, ceilDiv, grid1d } from '../program.js';
import { ROW_OF_GRID, defineKernel, workgroupMaxWgsl, workgroupSumWgsl } from './wgsl.js';

const WG = 64;

function forwardKernel(k: number) {
  const c = ceilDiv(k, WG);
  return defineKernel(
    'softmax_prefix',
    [
      ['rows', 'u32'],
      ['gridX', 'u32'],
      ['heads', 'u32'],
    ],
    [
      { name: 'S', kind: 'rw' },
      { name: 'prefix', kind: 'read', element: 'u32' },
    ],
    /* wgsl */ `
const KK = ${k}u;
${workgroupSumWgsl(WG)}
${workgroupMaxWgsl(WG)}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let row = ${ROW_OF_GRID};
  if (row >= p.rows) { return; }
  let q = row % KK;
  let prefixLen = prefix[(row / KK) / p.heads];
  let base = row * KK;
  var v: array<f32, ${c}>;
  var mx = -3.0e38;
  for (var j = 0u; j < ${c}u; j = j + 1u) {
    let key = tid + j * ${WG}u;
    if (key < KK && (key < prefixLen || key <= q)) { v[j] = S[base + key]; mx = max(mx, v[j]); }
  }
  mx = wg_max(mx, tid);
  var s = 0.0;
  for (var j = 0u; j < ${c}u; j = j + 1u) {
    let key = tid + j * ${WG}u;
    if (key < KK && (key < prefixLen || key <= q)) { v[j] = exp(v[j] - mx); s = s + v[j]; } else { v[j] = 0.0; }
  }
  let inv = 1.0 / wg_sum(s, tid);
  for (var j = 0u; j < ${c}u; j = j + 1u) {
    let key = tid + j * ${WG}u;
    if (key < KK) { S[base + key] = v[j] * inv; }
  }
}
`,
  );
}

function backwardKernel(k: number) {
  const c = ceilDiv(k, WG);
  return defineKernel(
    'softmax_backward',
    [
      ['rows', 'u32'],
      ['gridX', 'u32'],
      ['scale', 'f32'],
    ],
    [
      { name: 'P', kind: 'read' },
      { name: 'dP', kind: 'rw' },
    ],
    /* wgsl */ `
const KK = ${k}u;
${workgroupSumWgsl(WG)}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let row = ${ROW_OF_GRID};
  if (row >= p.rows) { return; }
  let base = row * KK;
  var pv: array<f32, ${c}>;
  var dv: array<f32, ${c}>;
  var s = 0.0;
  for (var j = 0u; j < ${c}u; j = j + 1u) {
    let key = tid + j * ${WG}u;
    if (key < KK) { pv[j] = P[base + key]; dv[j] = dP[base + key]; s = s + pv[j] * dv[j]; }
  }
  let t = wg_sum(s, tid);
  for (var j = 0u; j < ${c}u; j = j + 1u) {
    let key = tid + j * ${WG}u;
    if (key < KK) { dP[base + key] = p.scale * pv[j] * (dv[j] - t); }
  }
}
`,
  );
}

const cache = new Map<string, ReturnType<typeof defineKernel>>();
function cached(key: string, make: () => ReturnType<typeof defineKernel>): ReturnType<typeof defineKernel> {
  let k = cache.get(key);
  if (!k) cache.set(key, (k = make()));
  return k;
}

/** In place on scores [B * heads, K, K] (already scaled): masked softmax per row with per-sample prefix lengths. */
export function softmaxForward(pb: ProgramBuilder, a: { batch: number; heads: number; k: number; scores: BufferDesc; prefix: BufferDesc }): Dispatch {
  const rows = a.batch * a.heads * a.k;
  const grid = grid1d(rows);
  return pb.dispatch(
    cached(`f${a.k}`, () => forwardKernel(a.k)),
    [rows, grid[0], a.heads],
    [a.scores, a.prefix],
    grid,
  );
}

/** dScores = scale * P * (dP - rowsum(P * dP)), in place on dP: the gradient w.r.t. the unscaled scores. */
export function softmaxBackward(pb: ProgramBuilder, a: { rows: number; k: number; scale: number; probs: BufferDesc; dProbs: BufferDesc }): Dispatch {
  const grid = grid1d(a.rows);
  return pb.dispatch(
    cached(`b${a.k}`, () => backwardKernel(a.k)),
    [a.rows, grid[0], a.scale],
    [a.probs, a.dProbs],
    grid,
  );
}

/** Reference: masked softmax of one [K, K] score tile for prefix length s. */
export function softmaxReference(scores: Float32Array, k: number, s: number): Float32Array {
  const out = new Float32Array(k * k);
  for (let q = 0; q < k; q++) {
    let mx = -Infinity;
    for (let key = 0; key < k; key++) if (key < s || key <= q) mx = Math.max(mx, scores[q * k + key]);
    let sum = 0;
    for (let key = 0; key < k; key++) if (key < s || key <= q) sum += Math.exp(scores[q * k + key] - mx);
    for (let key = 0; key < k; key++) {
      out[q * k + key] = key < s || key <= q ? Math.exp(scores[q * k + key] - mx) / sum : 0;
    }
  }
  return out;
}
