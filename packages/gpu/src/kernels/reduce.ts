// Reductions: column sums into a gradient (bias gradients, LayerNorm partial sums) and the sum of a vector into one
// slot of the statistics buffer (the loss).
import { type BufferDesc, type Dispatch, type ProgramBuilder, ceilDiv } from '../program.js';
import { defineKernel, workgroupSumWgsl } from './wgsl.js';

const COLS = 64;
const LANES = 4;

const colsumKernel = defineKernel(
  'colsum_accumulate',
  [
    ['rows', 'u32'],
    ['cols', 'u32'],
    ['ld', 'u32'],
    ['offSrc', 'u32'],
    ['offDst', 'u32'],
  ],
  [
    { name: 'Src', kind: 'read' },
    { name: 'Dst', kind: 'rw' },
  ],
  /* wgsl */ `
var<workgroup> part: array<f32, ${COLS * LANES}>;
@compute @workgroup_size(${COLS * LANES})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let col = wg.x * ${COLS}u + tid % ${COLS}u;
  let lane = tid / ${COLS}u;
  var s = 0.0;
  if (col < p.cols) {
    for (var r = lane; r < p.rows; r = r + ${LANES}u) { s = s + Src[p.offSrc + r * p.ld + col]; }
  }
  part[tid] = s;
  workgroupBarrier();
  if (lane == 0u && col < p.cols) {
    var t = 0.0;
    for (var l = 0u; l < ${LANES}u; l = l + 1u) { t = t + part[l * ${COLS}u + tid]; }
    Dst[p.offDst + col] = Dst[p.offDst + col] + t;
  }
}
`,
);

/** dst[offDst + c] += sum over r < rows of src[offSrc + r * ld + c], for c < cols. */
export function colsum(
  pb: ProgramBuilder,
  a: { rows: number; cols: number; ld?: number; src: BufferDesc; offSrc?: number; dst: BufferDesc; offDst: number },
): Dispatch {
  return pb.dispatch(colsumKernel, [a.rows, a.cols, a.ld ?? a.cols, a.offSrc ?? 0, a.offDst], [a.src, a.dst], [ceilDiv(a.cols, COLS)]);
}

const SUM_WG = 256;
const sumKernel = defineKernel(
  'sum_into_slot',
  [
    ['n', 'u32'],
    ['slot', 'u32'],
  ],
  [
    { name: 'Src', kind: 'read' },
    { name: 'Stats', kind: 'rw' },
  ],
  /* wgsl */ `
${workgroupSumWgsl(SUM_WG)}
@compute @workgroup_size(${SUM_WG})
fn main(@builtin(local_invocation_index) tid: u32) {
  var s = 0.0;
  for (var i = tid; i < p.n; i = i + ${SUM_WG}u) { s = s + Src[i]; }
  let t = wg_sum(s, tid);
  if (tid == 0u) { Stats[p.slot] = Stats[p.slot] + t; }
}
`,
);

/** stats[slot] += sum of src[0 .. n). One workgroup: for vectors of up to a few hundred thousand values. */
export function sumIntoSlot(pb: ProgramBuilder, a: { n: number; src: BufferDesc; stats: BufferDesc; slot: number }): Dispatch {
  return pb.dispatch(sumKernel, [a.n, a.slot], [a.src, a.stats], [1]);
}
