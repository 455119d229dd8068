// The exact GELU on its own, elementwise: selective recomputation keeps the MLP's pre-activation and recomputes its
// activation in the backward (the forward computes it in fc1's GEMM epilogue, with the same WGSL function).
import { type BufferDesc, type Dispatch, type ProgramBuilder, ceilDiv, grid1d } from '../program.js';
import { erfReference } from './gemm.js';
import { ERF_WGSL, ROW_OF_GRID, defineKernel } from './wgsl.js';

const WG = 256;

const geluKernel = defineKernel(
  'gelu',
  [
    ['n', 'u32'],
    ['gridX', 'u32'],
  ],
  [
    { name: 'X', kind: 'read' },
    { name: 'Out', kind: 'rw' },
  ],
  /* wgsl */ `
${ERF_WGSL}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let i = (${ROW_OF_GRID}) * ${WG}u + tid;
  if (i < p.n) { Out[i] = gelu_f32(X[i]); }
}
`,
);

/** out[i] = gelu(x[i]) for i < n (whole buffers). */
export function geluForward(pb: ProgramBuilder, a: { n: number; x: BufferDesc; out: BufferDesc }): Dispatch {
  const grid = grid1d(ceilDiv(a.n, WG));
  return pb.dispatch(geluKernel, [a.n, grid[0]], [a.x, a.out], grid);
}

/** x * Phi(x) in float64. */
export function geluReference(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => 0.5 * v * (1 + erfReference(v / Math.SQRT2)));
}
