// The GEMM's main loop on the GPU's matrix units (tensor cores on NVIDIA) through WGSL subgroup matrices
// (Dawn's `chromium_experimental_subgroup_matrix`): f16 operands, f32 accumulation, the f32 epilogue of gemm.ts.
// The engine's buffers stay f32; operands are rounded to f16 as they are staged in workgroup memory, so a tile of
// this kind drops in wherever an f32 tile runs (tuned per shape, like the f32 tiles).
// References: Dawn docs/dawn/features/subgroup_matrix.md (types, load/store layouts, the workgroup-size rule);
// ONNX Runtime's WebGPU subgroup_matrix_gemm (one subgroup per block of result matrices).
import type { GemmTile, GemmVariant, SubgroupMatrixShape } from './gemm.js';
import type { KernelHeader } from './wgsl.js';

/** Halves of padding per staged row: consecutive rows start on different memory banks, and loads stay 16-byte aligned. */
const PAD = 8;

const HEADER: KernelHeader = {
  extensions: [
    { enable: 'f16', feature: 'shader-f16' },
    { enable: 'chromium_experimental_subgroup_matrix', feature: 'chromium-experimental-subgroup-matrix' as GPUFeatureName },
  ],
  // Each subgroup's matrix offsets derive from its index, tid / subgroupSize: the same in every invocation of that
  // subgroup, but the uniformity analysis only knows that the built-in tid varies.
  diagnosticsOff: ['chromium.subgroup_matrix_uniformity'],
};

/** Workgroup bytes of a matrix tile: the staged f16 operands plus one f32 result matrix per subgroup. */
export function matrixWorkgroupBytes(t: GemmTile, mx: SubgroupMatrixShape): number {
  const subgroups = (t.bm / t.tm) * (t.bn / t.tn);
  return (t.bm * (t.bk + PAD) + t.bk * (t.bn + PAD)) * 2 + subgroups * mx.m * mx.n * 4;
}

/** WGSL pieces gemm.ts shares with this kernel (the same operand loads, epilogue and workgroup bases). */
export interface GemmShared {
  /** fetch_a / fetch_b (global -> f32, zero outside M, N, K) and the GELU helpers the epilogue needs. */
  readonly fetchFns: string;
  /** store(m, n, acc, baseC): the epilogue of one output. */
  readonly storeFn: string;
  /** The start of main: batch bases, m0, n0 and the prefetch registers pa*, pb*. */
  readonly bases: string;
  /** Which tile element (mm, kk) / (kk, nn) thread slot f holds. */
  readonly whereA: string;
  readonly whereB: string;
  /** Unrolled calls: every slot of this thread from global memory into registers, and into workgroup memory. */
  readonly fetch: (k0: string) => string;
  readonly stash: () => string;
}

/**
 * Main loop: per K-slice, the workgroup stages A (BM x BK, row-major) and B (BK x BN, row-major) as f16 (the next
 * slice's loads already in flight when `prefetch`), then each subgroup multiplies its (TM/m) x (TN/n) result
 * matrices. The epilogue goes through workgroup memory one result matrix at a time, so that every output gets
 * gemm.ts's bounds-checked store with bias, GELU, residual and accumulation.
 */
export function gemmMatrixBody(v: GemmVariant, mx: SubgroupMatrixShape, shared: GemmShared): { body: string; header: KernelHeader } {
  const { bm, bn, bk, tm, tn } = v.tile;
  const sn = bn / tn; // subgroups along N
  const subgroups = (bm / tm) * sn;
  const threads = subgroups * mx.subgroupSize;
  const fm = tm / mx.m;
  const fn = tn / mx.n; // result matrices per subgroup along N (fm along M)
  const lda = bk + PAD;
  const ldb = bn + PAD;
  const cells = mx.m * mx.n;
  const left = `subgroup_matrix_left<f16, ${mx.k}, ${mx.m}>`;
  const right = `subgroup_matrix_right<f16, ${mx.n}, ${mx.k}>`;
  const result = `subgroup_matrix_result<f32, ${mx.n}, ${mx.m}>`;
  const frags: [number, number][] = [];
  for (let i = 0; i < fm; i++) for (let j = 0; j < fn; j++) frags.push([i, j]);

  const multiply: string[] = [];
  for (let kk = 0; kk < bk; kk += mx.k) {
    multiply.push('{');
    for (let i = 0; i < fm; i++) multiply.push(`let a${i} = subgroupMatrixLoad<${left}, row_major>(&As, (wm + ${i * mx.m}u) * ${lda}u + ${kk}u, ${lda}u);`);
    for (let j = 0; j < fn; j++) multiply.push(`let b${j} = subgroupMatrixLoad<${right}, row_major>(&Bs, ${kk * ldb}u + wn + ${j * mx.n}u, ${ldb}u);`);
    for (const [i, j] of frags) multiply.push(`c${i}_${j} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, c${i}_${j});`);
    multiply.push('}');
  }
  // Every subgroup runs the same number of these, so the barriers are reached in uniform control flow.
  const epilogue = frags.map(
    ([i, j]) => `subgroupMatrixStore<row_major>(&Cs, cs, c${i}_${j}, ${mx.n}u);
  workgroupBarrier();
  for (var e = lane; e < ${cells}u; e = e + ${mx.subgroupSize}u) {
    store(m0 + wm + ${i * mx.m}u + e / ${mx.n}u, n0 + wn + ${j * mx.n}u + e % ${mx.n}u, Cs[cs + e], baseC);
  }
  workgroupBarrier();`,
  );
  const prefetch = v.tile.prefetch === true;
  const body = /* wgsl */ `
var<workgroup> As: array<f16, ${bm * lda}>;
var<workgroup> Bs: array<f16, ${bk * ldb}>;
var<workgroup> Cs: array<f32, ${subgroups * cells}>;

${shared.fetchFns}
fn stash_a(f: u32, x: f32) { ${shared.whereA} As[mm * ${lda}u + kk] = f16(x); }
fn stash_b(f: u32, x: f32) { ${shared.whereB} Bs[kk * ${ldb}u + nn] = f16(x); }

${shared.storeFn}

@compute @workgroup_size(${threads})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  ${shared.bases}
  // Subgroups are consecutive runs of ${mx.subgroupSize} invocations of this 1-D workgroup.
  let sg = tid / ${mx.subgroupSize}u;
  let lane = tid % ${mx.subgroupSize}u;
  let wm = (sg / ${sn}u) * ${tm}u;
  let wn = (sg % ${sn}u) * ${tn}u;
  let cs = sg * ${cells}u;
  ${frags.map(([i, j]) => `var c${i}_${j} = ${result}();`).join(' ')}
  ${prefetch ? shared.fetch('0u') : ''}
  for (var k0 = 0u; k0 < p.K; k0 = k0 + ${bk}u) {
    ${prefetch ? '' : shared.fetch('k0')}
    ${shared.stash()}
    workgroupBarrier();
    ${prefetch ? `if (k0 + ${bk}u < p.K) { ${shared.fetch(`k0 + ${bk}u`)} }` : ''}
${multiply.join('\n')}
    workgroupBarrier();
  }
  ${epilogue.join('\n  ')}
}
`;
  return { body, header: HEADER };
}
