// Tiled GEMM in WGSL, strided and batched, with fused epilogues: C (+)= epi(alpha * op(A) op(B)).
// op(A) is A or A^T, op(B) is B or B^T (NN, NT, TN for the forward and backward of x @ W and of attention), read
// through leading dimensions and two-level batch strides, so q/k/v heads are read in place from the qkv activation.
// References: siboehm, "How to optimize a CUDA matmul kernel" (block tiling, 2-D register tiling);
// AnswerDotAI/gpu.cpp examples/matmul (WGSL tiles, transposed A in workgroup memory); llm.c matmul_forward.
import { type BufferDesc, type Dispatch, type ProgramBuilder, ceilDiv } from '../program.js';
import { gemmMatrixBody, matrixWorkgroupBytes } from './gemm-matrix.js';
import { type BindingSpec, ERF_WGSL, defineKernel } from './wgsl.js';

/**
 * Block tile BM x BN, depth BK; each of (BM/TM)*(BN/TN) threads computes TM x TN outputs. With `prefetch`, the next
 * K-slice is loaded into registers while the current one is multiplied (global latency hidden behind the FMAs).
 */
export interface GemmTile {
  readonly bm: number;
  readonly bn: number;
  readonly bk: number;
  readonly tm: number;
  readonly tn: number;
  readonly prefetch?: boolean;
  /**
   * Each thread's TM x TN outputs as one contiguous block, its operands read from workgroup memory as vec4 (a
   * quarter of the load instructions per FMA; TM, TN multiples of 4). Without it, a thread's rows and columns are
   * interleaved across the tile (scalar reads, no bank conflicts).
   */
  readonly vec4?: boolean;
  /**
   * Two workgroup-memory stages for A and B: slice k+1 goes from its registers into the stage not being read while
   * slice k is multiplied, so one workgroupBarrier per K-slice suffices instead of two (the barrier that kept the next
   * stash from overwriting a tile still being read is gone). Stages through registers, so it requires `prefetch`;
   * twice the workgroup memory (`gemmWorkgroupBytes`).
   */
  readonly doubleBuffer?: boolean;
  /**
   * Operands read from global memory four floats at a time (A and B bound as vec4 arrays: a quarter of the load
   * instructions and of their bounds checks). Only where both operands allow it: their contiguous extents, leading
   * dimensions, offsets and batch strides multiples of 4 (`vec4LoadsFit`); any other call of the tile reads scalars.
   * Needs BM*BK and BK*BN to be multiples of 4 x the thread count (each thread loads whole vec4s).
   */
  readonly vec4Loads?: boolean;
  /**
   * Multiply with the GPU's matrix units (tensor cores) through WGSL subgroup matrices: operands rounded to f16 as they
   * are staged in workgroup memory, products accumulated in f32, the epilogue in f32. Each of (BM/TM)*(BN/TN)
   * subgroups computes a TM x TN block as (TM/m) x (TN/n) result matrices. Needs a device created with
   * `requestEngineDevice(adapter, { subgroupMatrix: true })`; see `f16MatrixShapes`.
   */
  readonly matrix?: SubgroupMatrixShape;
}

/** One f16 x f16 -> f32 subgroup-matrix configuration of the adapter, and the subgroup size the kernel assumes. */
export interface SubgroupMatrixShape {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly subgroupSize: number;
}

export const GEMM_TILES = {
  large: { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, prefetch: true },
  medium: { bm: 64, bn: 64, bk: 8, tm: 4, tn: 4, prefetch: true },
  small: { bm: 32, bn: 32, bk: 8, tm: 2, tn: 2 },
} as const satisfies Record<string, GemmTile>;

/**
 * The epilogue, applied per output in this order: + bias[n]; + aux[m, n] ('add'); aux[m, n] = v ('storePre', the
 * pre-activation kept for the backward); gelu(v) ('gelu'); v * gelu'(aux[m, n]) ('geluGrad'); then C = v or C += v.
 */
export interface GemmEpilogue {
  readonly bias?: boolean;
  readonly aux?: 'add' | 'storePre' | 'geluGrad';
  readonly gelu?: boolean;
  readonly accumulate?: boolean;
}

export interface GemmVariant extends GemmEpilogue {
  readonly transA: boolean;
  readonly transB: boolean;
  readonly tile: GemmTile;
}

const FIELDS = [
  ['M', 'u32'],
  ['N', 'u32'],
  ['K', 'u32'],
  ['lda', 'u32'],
  ['ldb', 'u32'],
  ['ldc', 'u32'],
  ['offA', 'u32'],
  ['offB', 'u32'],
  ['offC', 'u32'],
  ['offBias', 'u32'],
  ['offAux', 'u32'],
  ['ldAux', 'u32'],
  ['auxRows', 'u32'],
  ['batchInner', 'u32'],
  ['sAo', 'u32'],
  ['sAi', 'u32'],
  ['sBo', 'u32'],
  ['sBi', 'u32'],
  ['sCo', 'u32'],
  ['sCi', 'u32'],
  ['alpha', 'f32'],
] as const;

/** Threads of a workgroup running tile `t`: one per TM x TN block, or one subgroup per block with `matrix`. */
export const gemmThreads = (t: GemmTile): number => (t.bm / t.tm) * (t.bn / t.tn) * (t.matrix?.subgroupSize ?? 1);

/** Throws unless `t` is a tile the kernel can be built with (whole blocks, threads <= 256, loads that divide evenly). */
export function checkGemmTile(t: GemmTile): void {
  const threads = gemmThreads(t);
  const mx = t.matrix;
  const ok =
    (!mx || (t.tm % mx.m === 0 && t.tn % mx.n === 0 && t.bk % mx.k === 0 && !t.vec4 && !t.doubleBuffer)) &&
    Number.isInteger(t.bm / t.tm) &&
    Number.isInteger(t.bn / t.tn) &&
    threads <= 256 &&
    (t.bm * t.bk) % threads === 0 &&
    (t.bk * t.bn) % threads === 0 &&
    (!t.vec4 || (t.tm % 4 === 0 && t.tn % 4 === 0)) &&
    (!t.vec4Loads || (!mx && (t.bm * t.bk) % (4 * threads) === 0 && (t.bk * t.bn) % (4 * threads) === 0)) &&
    (!t.doubleBuffer || t.prefetch === true);
  if (!ok) throw new Error(`GEMM tile ${JSON.stringify(t)} is not valid (threads ${threads})`);
}

/** Bytes of workgroup memory `t` uses: A's rows padded by 4, plus B; twice that with doubleBuffer. */
export function gemmWorkgroupBytes(t: GemmTile): number {
  if (t.matrix) return matrixWorkgroupBytes(t, t.matrix);
  return (t.doubleBuffer ? 2 : 1) * t.bk * (t.bm + 4 + t.bn) * 4;
}

const kernelCache = new Map<string, ReturnType<typeof defineKernel>>();

/** The WGSL kernel of one variant (cached: equal variants share a pipeline). */
export function gemmKernel(v: GemmVariant): ReturnType<typeof defineKernel> {
  const key = JSON.stringify(v);
  const hit = kernelCache.get(key);
  if (hit) return hit;
  const { bm, bn, bk, tm, tn } = v.tile;
  checkGemmTile(v.tile);
  const tx = bn / tn;
  const ty = bm / tm;
  const threads = gemmThreads(v.tile);
  const bmp = bm + 4; // padded rows of the transposed A tile: stores of consecutive k do not share a bank
  const vec = v.tile.vec4 === true;
  const db = v.tile.doubleBuffer === true;
  // Elements of As / Bs per stage (vec4 elements with vec4); stage 1 starts right after stage 0.
  const stageA = vec ? (bk * bmp) / 4 : bk * bmp;
  const stageB = vec ? (bk * bn) / 4 : bk * bn;
  // With doubleBuffer, reads and stashes add the stage's offset (sa / sb for the stage being multiplied).
  const [inA, inB] = db ? ['sa + ', 'sb + '] : ['', ''];
  // With vec4Loads, A and B are read as vec4 arrays and each prefetch register holds four floats.
  const vl = v.tile.vec4Loads === true;
  const operand = vl ? 'vec4<f32>' : 'f32';
  const bindings: BindingSpec[] = [
    { name: 'A', kind: 'read', element: operand },
    { name: 'B', kind: 'read', element: operand },
    { name: 'C', kind: 'rw' },
  ];
  if (v.bias) bindings.push({ name: 'bias', kind: 'read' });
  if (v.aux) bindings.push({ name: 'aux', kind: v.aux === 'storePre' ? 'rw' : 'read' });
  if (v.aux === 'storePre' && !v.gelu) throw new Error('GEMM: storePre keeps a pre-activation, so it needs gelu');

  // Which tile element thread-slot f loads: consecutive threads read consecutive addresses of the operand's layout.
  // With vec4Loads, slot f is four elements along the operand's contiguous dimension, (mm, kk) / (kk, nn) the first.
  const whereA = vl
    ? v.transA
      ? `let kk = f / ${bm / 4}u; let mm = (f % ${bm / 4}u) * 4u;`
      : `let mm = f / ${bk / 4}u; let kk = (f % ${bk / 4}u) * 4u;`
    : v.transA
      ? `let kk = f / ${bm}u; let mm = f % ${bm}u;`
      : `let mm = f / ${bk}u; let kk = f % ${bk}u;`;
  const whereB = vl
    ? v.transB
      ? `let nn = f / ${bk / 4}u; let kk = (f % ${bk / 4}u) * 4u;`
      : `let kk = f / ${bn / 4}u; let nn = (f % ${bn / 4}u) * 4u;`
    : v.transB
      ? `let nn = f / ${bk}u; let kk = f % ${bk}u;`
      : `let kk = f / ${bn}u; let nn = f % ${bn}u;`;
  const giA = v.transA ? 'baseA + (k0 + kk) * p.lda + m0 + mm' : 'baseA + (m0 + mm) * p.lda + k0 + kk';
  const giB = v.transB ? 'baseB + (n0 + nn) * p.ldb + k0 + kk' : 'baseB + (k0 + kk) * p.ldb + n0 + nn';
  // An element index of an aligned operand is a multiple of 4 (vec4LoadsFit), so /4 is its vec4's index.
  const [atA, atB] = vl ? [`(${giA}) / 4u`, `(${giB}) / 4u`] : [giA, giB];
  const zero = vl ? 'vec4<f32>(0.0)' : '0.0';
  const ra = (bm * bk) / threads / (vl ? 4 : 1);
  const rb = (bn * bk) / threads / (vl ? 4 : 1);
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  // fetch: global -> register; stash: register -> workgroup memory (both unrolled over the thread's slots).
  const fetch = (k0: string): string =>
    [
      ...range(ra).map((r) => `pa${r} = fetch_a(${k0}, tid + ${r * threads}u, m0, baseA);`),
      ...range(rb).map((r) => `pb${r} = fetch_b(${k0}, tid + ${r * threads}u, n0, baseB);`),
    ].join(' ');
  const stash = (sa = '', sb = ''): string =>
    [
      ...range(ra).map((r) => `stash_a(tid + ${r * threads}u, pa${r}${sa && `, ${sa}`});`),
      ...range(rb).map((r) => `stash_b(tid + ${r * threads}u, pb${r}${sb && `, ${sb}`});`),
    ].join(' ');
  // Shared by both kernels: zero-padded operand loads, the epilogue, each workgroup's operand and output bases.
  const fetchFns = /* wgsl */ `${v.gelu || v.aux === 'geluGrad' ? ERF_WGSL : ''}
fn fetch_a(k0: u32, f: u32, m0: u32, baseA: u32) -> ${operand} {
  ${whereA}
  if (m0 + mm < p.M && k0 + kk < p.K) { return A[${atA}]; }
  return ${zero};
}
fn fetch_b(k0: u32, f: u32, n0: u32, baseB: u32) -> ${operand} {
  ${whereB}
  if (n0 + nn < p.N && k0 + kk < p.K) { return B[${atB}]; }
  return ${zero};
}`;
  const storeFn = /* wgsl */ `fn store(m: u32, n: u32, acc: f32, baseC: u32) {
  if (m >= p.M || n >= p.N) { return; }
  var v = p.alpha * acc;
  ${v.bias ? 'v = v + bias[p.offBias + n];' : ''}
  ${v.aux ? 'let ai = p.offAux + (m % p.auxRows) * p.ldAux + n;' : ''}
  ${v.aux === 'add' ? 'v = v + aux[ai];' : ''}
  ${v.aux === 'storePre' ? 'aux[ai] = v;' : ''}
  ${v.gelu ? 'v = gelu_f32(v);' : ''}
  ${v.aux === 'geluGrad' ? 'v = v * gelu_grad_f32(aux[ai]);' : ''}
  let ci = baseC + m * p.ldc + n;
  ${v.accumulate ? 'C[ci] = C[ci] + v;' : 'C[ci] = v;'}
}`;
  const bases = /* wgsl */ `let zo = wg.z / p.batchInner;
  let zi = wg.z % p.batchInner;
  let baseA = p.offA + zo * p.sAo + zi * p.sAi;
  let baseB = p.offB + zo * p.sBo + zi * p.sBi;
  let baseC = p.offC + zo * p.sCo + zi * p.sCi;
  let m0 = wg.y * ${bm}u;
  let n0 = wg.x * ${bn}u;
  ${[...range(ra).map((r) => `var pa${r} = ${zero};`), ...range(rb).map((r) => `var pb${r} = ${zero};`)].join(' ')}`;
  const name = `gemm${v.transA ? 'T' : 'N'}${v.transB ? 'T' : 'N'}`;
  if (v.tile.matrix) {
    const m = gemmMatrixBody(v, v.tile.matrix, { fetchFns, storeFn, bases, whereA, whereB, fetch, stash });
    const kernel = defineKernel(`${name}-f16mx`, FIELDS, bindings, m.body, m.header);
    kernelCache.set(key, kernel);
    return kernel;
  }

  const acc: string[] = [];
  const inner: string[] = [];
  const epi: string[] = [];
  if (vec) {
    // A thread's outputs are TM/4 x TN/4 blocks of 4 x 4, spread as the scalar tile spreads its rows and columns: its
    // q-th vec4 of B is vec4 tx + q * (BN/TN) of the row, so the threads of a warp read consecutive vec4s (no two in
    // one bank), where adjacent vec4s per thread would put two threads in each bank. Likewise along M.
    // Accumulators c{i}_{q}: row i of the thread's rows, its q-th vec4 of columns.
    for (let i = 0; i < tm; i++) for (let q = 0; q < tn / 4; q++) acc.push(`c${i}_${q}`);
    for (let k = 0; k < bk; k++) {
      for (let q = 0; q < tm / 4; q++) inner.push(`let a${q} = As[${inA}${(k * bmp) / 4}u + ty + ${q * ty}u];`);
      for (let q = 0; q < tn / 4; q++) inner.push(`let b${q} = Bs[${inB}${(k * bn) / 4}u + tx + ${q * tx}u];`);
      for (let i = 0; i < tm; i++) {
        for (let q = 0; q < tn / 4; q++) inner.push(`c${i}_${q} = fma(vec4<f32>(a${i >> 2}[${i & 3}]), b${q}, c${i}_${q});`);
      }
      inner.push('}{');
    }
    for (let i = 0; i < tm; i++) {
      const row = `m0 + (ty + ${(i >> 2) * ty}u) * 4u + ${i & 3}u`;
      for (let q = 0; q < tn / 4; q++) {
        for (let c = 0; c < 4; c++) epi.push(`store(${row}, n0 + (tx + ${q * tx}u) * 4u + ${c}u, c${i}_${q}[${c}], baseC);`);
      }
    }
  } else {
    for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) acc.push(`c${i}_${j}`);
    for (let k = 0; k < bk; k++) {
      for (let i = 0; i < tm; i++) inner.push(`let a${i} = As[${inA}${k * bmp}u + ty + ${i * ty}u];`);
      for (let j = 0; j < tn; j++) inner.push(`let b${j} = Bs[${inB}${k * bn}u + tx + ${j * tx}u];`);
      for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) inner.push(`c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
      inner.push('}{'); // scope per k so the a/b names can repeat
    }
    for (let i = 0; i < tm; i++) {
      for (let j = 0; j < tn; j++) epi.push(`store(m0 + ty + ${i * ty}u, n0 + tx + ${j * tx}u, c${i}_${j}, baseC);`);
    }
  }
  // Slice 0 is staged before the loop. Iteration i multiplies stage st while slice i+1 travels global -> registers
  // -> stage 1-st; the one barrier at its end both publishes stage 1-st for iteration i+1 and tells every thread that
  // stage st is no longer read, so iteration i+1 may overwrite it with slice i+2.
  const loop = db
    ? `  ${fetch('0u')}
  ${stash('0u', '0u')}
  workgroupBarrier();
  var st = 0u;
  for (var k0 = 0u; k0 < p.K; k0 = k0 + ${bk}u) {
    let more = k0 + ${bk}u < p.K;
    if (more) { ${fetch(`k0 + ${bk}u`)} }
    let sa = st * ${stageA}u;
    let sb = st * ${stageB}u;
    {
${inner.join('\n')}
    }
    if (more) { ${stash(`${stageA}u - sa`, `${stageB}u - sb`)} }
    st = 1u - st;
    workgroupBarrier();
  }`
    : `  ${v.tile.prefetch ? fetch('0u') : ''}
  for (var k0 = 0u; k0 < p.K; k0 = k0 + ${bk}u) {
    ${v.tile.prefetch ? '' : fetch('k0')}
    ${stash()}
    workgroupBarrier();
    ${v.tile.prefetch ? `if (k0 + ${bk}u < p.K) { ${fetch(`k0 + ${bk}u`)} }` : ''}
    {
${inner.join('\n')}
    }
    workgroupBarrier();
  }`;
  const [sArg, sIn] = db ? [', s: u32', 's + '] : ['', ''];
  // Workgroup memory holds A transposed (As[k][m], rows padded to BMP) and B as is (Bs[k][n]), as vec4 with `vec4`.
  const atAs = (kk: string, mm: string): string => (vec ? `As[${sIn}${kk} * ${bmp / 4}u + ${mm} / 4u][${mm} % 4u]` : `As[${sIn}${kk} * ${bmp}u + ${mm}]`);
  const atBs = (kk: string, nn: string): string => (vec ? `Bs[${sIn}${kk} * ${bn / 4}u + ${nn} / 4u][${nn} % 4u]` : `Bs[${sIn}${kk} * ${bn}u + ${nn}]`);
  const c4 = [0, 1, 2, 3];
  // A vec4 load along the dimension workgroup memory stores contiguously (A's M, B's N) is one vec4 store with `vec4`.
  const stashA = !vl
    ? `${atAs('kk', 'mm')} = x;`
    : v.transA
      ? vec
        ? `As[${sIn}kk * ${bmp / 4}u + mm / 4u] = x;`
        : c4.map((c) => `${atAs('kk', `(mm + ${c}u)`)} = x[${c}];`).join(' ')
      : c4.map((c) => `${atAs(`(kk + ${c}u)`, 'mm')} = x[${c}];`).join(' ');
  const stashB = !vl
    ? `${atBs('kk', 'nn')} = x;`
    : v.transB
      ? c4.map((c) => `${atBs(`(kk + ${c}u)`, 'nn')} = x[${c}];`).join(' ')
      : vec
        ? `Bs[${sIn}kk * ${bn / 4}u + nn / 4u] = x;`
        : c4.map((c) => `${atBs('kk', `(nn + ${c}u)`)} = x[${c}];`).join(' ');
  const body = /* wgsl */ `
var<workgroup> As: array<${vec ? 'vec4<f32>' : 'f32'}, ${(db ? 2 : 1) * stageA}>;
var<workgroup> Bs: array<${vec ? 'vec4<f32>' : 'f32'}, ${(db ? 2 : 1) * stageB}>;

${fetchFns}
fn stash_a(f: u32, x: ${operand}${sArg}) { ${whereA} ${stashA} }
fn stash_b(f: u32, x: ${operand}${sArg}) { ${whereB} ${stashB} }

${storeFn}

@compute @workgroup_size(${threads})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  ${bases}
  let tx = tid % ${tx}u;
  let ty = tid / ${tx}u;
  ${acc.map((a) => `var ${a} = ${vec ? 'vec4<f32>(0.0)' : '0.0'};`).join(' ')}
${loop}
  ${epi.join('\n  ')}
}
`;
  const kernel = defineKernel(name, FIELDS, bindings, body);
  kernelCache.set(key, kernel);
  return kernel;
}

/** A matrix operand: element offset, leading dimension, and strides of the two batch levels (outer, inner). */
export interface MatRef {
  readonly buf: BufferDesc;
  readonly offset?: number;
  readonly ld: number;
  readonly sOuter?: number;
  readonly sInner?: number;
}

export interface GemmCall extends GemmEpilogue {
  /** op(A) is M x K, op(B) is K x N, C is M x N. */
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA?: boolean;
  readonly transB?: boolean;
  readonly a: MatRef;
  readonly b: MatRef;
  readonly c: MatRef;
  readonly biasRef?: { readonly buf: BufferDesc; readonly offset: number };
  /** aux[(m % rows) * ld + n]: rows defaults to M (a periodic aux adds position embeddings per token). */
  readonly auxRef?: { readonly buf: BufferDesc; readonly offset?: number; readonly ld: number; readonly rows?: number };
  readonly alpha?: number;
  /** Batch = outer x inner matrices (attention: samples x heads). */
  readonly batch?: { readonly outer: number; readonly inner: number };
  readonly tile?: GemmTile;
}

/**
 * The dimensions of an unbatched GEMM that do not grow with the batch (the weight's): NN and NT multiply tokens by a
 * weight (N x K fixed), TN forms a weight gradient (M x N fixed). Tiles tuned on one batch apply at another by this key.
 */
export function gemmTileKey(shape: {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA?: boolean;
  readonly transB?: boolean;
}): string {
  const layout = `${shape.transA ? 'T' : 'N'}${shape.transB ? 'T' : 'N'}`;
  if (layout === 'TN') return `TN m${shape.m} n${shape.n}`;
  if (layout === 'TT') return `TT m${shape.m} n${shape.n} k${shape.k}`;
  return `${layout} n${shape.n} k${shape.k}`;
}

/** Picks the tile: the large one only when the output has enough tiles of it to fill a GPU. */
export function defaultTile(m: number, n: number, batch: number, large: GemmTile = GEMM_TILES.large): GemmTile {
  const tiles = (t: GemmTile): number => ceilDiv(m, t.bm) * ceilDiv(n, t.bn) * batch;
  if (tiles(large) >= 128) return large;
  if (tiles(GEMM_TILES.medium) >= 64 || Math.min(m, n) >= 64) return GEMM_TILES.medium;
  return GEMM_TILES.small;
}

/**
 * Whether both operands of `call` can be read as vec4s: every vec4 of a row lies inside the row (the contiguous extent
 * a multiple of 4) and starts at a multiple of 4 floats (offsets, leading dimensions, batch strides).
 */
export function vec4LoadsFit(call: Pick<GemmCall, 'm' | 'n' | 'k' | 'transA' | 'transB' | 'a' | 'b'>): boolean {
  const alongA = call.transA ? call.m : call.k;
  const alongB = call.transB ? call.k : call.n;
  const { a, b } = call;
  return [alongA, alongB, a.ld, b.ld, a.offset ?? 0, b.offset ?? 0, a.sOuter ?? 0, a.sInner ?? 0, b.sOuter ?? 0, b.sInner ?? 0].every((x) => x % 4 === 0);
}

/** Adds one GEMM dispatch to `pb`. */
export function gemm(pb: ProgramBuilder, call: GemmCall, largeTile?: GemmTile): Dispatch {
  const outer = call.batch?.outer ?? 1;
  const inner = call.batch?.inner ?? 1;
  const chosen = call.tile ?? defaultTile(call.m, call.n, outer * inner, largeTile);
  const { vec4Loads: _, ...scalarLoads } = chosen;
  const tile = chosen.vec4Loads && !vec4LoadsFit(call) ? scalarLoads : chosen;
  const variant: GemmVariant = {
    transA: call.transA ?? false,
    transB: call.transB ?? false,
    tile,
    bias: call.bias ?? call.biasRef !== undefined,
    aux: call.aux,
    gelu: call.gelu,
    accumulate: call.accumulate,
  };
  if (variant.bias !== (call.biasRef !== undefined)) throw new Error('GEMM: bias needs biasRef');
  if ((variant.aux !== undefined) !== (call.auxRef !== undefined)) throw new Error('GEMM: aux needs auxRef');
  const kernel = gemmKernel(variant);
  const params = [
    call.m,
    call.n,
    call.k,
    call.a.ld,
    call.b.ld,
    call.c.ld,
    call.a.offset ?? 0,
    call.b.offset ?? 0,
    call.c.offset ?? 0,
    call.biasRef?.offset ?? 0,
    call.auxRef?.offset ?? 0,
    call.auxRef?.ld ?? 0,
    call.auxRef?.rows ?? call.m,
    inner,
    call.a.sOuter ?? 0,
    call.a.sInner ?? 0,
    call.b.sOuter ?? 0,
    call.b.sInner ?? 0,
    call.c.sOuter ?? 0,
    call.c.sInner ?? 0,
    call.alpha ?? 1,
  ];
  const buffers: BufferDesc[] = [call.a.buf, call.b.buf, call.c.buf];
  if (call.biasRef) buffers.push(call.biasRef.buf);
  if (call.auxRef) buffers.push(call.auxRef.buf);
  return pb.dispatch(kernel, params, buffers, [ceilDiv(call.n, tile.bn), ceilDiv(call.m, tile.bm), outer * inner]);
}

/** Plain TypeScript reference of one (unbatched) GEMM call on Float32Arrays, in float64 accumulation. */
export function gemmReference(
  call: Omit<GemmCall, 'a' | 'b' | 'c' | 'biasRef' | 'auxRef' | 'batch' | 'tile'> & {
    a: Float32Array;
    lda: number;
    b: Float32Array;
    ldb: number;
    c: Float32Array;
    ldc: number;
    biasValues?: Float32Array;
    auxValues?: Float32Array;
    ldAux?: number;
    auxRows?: number;
  },
): void {
  const { m, n, k, a, b, c, lda, ldb, ldc } = call;
  const alpha = call.alpha ?? 1;
  const phi = (x: number): number => 0.5 * (1 + erfReference(x / Math.SQRT2));
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) {
        const av = call.transA ? a[q * lda + i] : a[i * lda + q];
        const bv = call.transB ? b[j * ldb + q] : b[q * ldb + j];
        s += av * bv;
      }
      let v = alpha * s;
      if (call.bias) v += call.biasValues![j];
      const ai = (i % (call.auxRows ?? m)) * (call.ldAux ?? 0) + j;
      if (call.aux === 'add') v += call.auxValues![ai];
      if (call.aux === 'storePre') call.auxValues![ai] = v;
      if (call.gelu) v = v * phi(v);
      if (call.aux === 'geluGrad') {
        const x = call.auxValues![ai];
        v *= phi(x) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
      }
      const ci = i * ldc + j;
      c[ci] = call.accumulate ? c[ci] + v : v;
    }
  }
}

/** erf in float64: its Maclaurin series for |x| < 3, the continued fraction of erfc beyond (both converge there). */
export function erfReference(x: number): number {
  const t = Math.abs(x);
  if (t < 3) {
    let sum = 0;
    let term = t;
    for (let i = 0; i < 100; i++) {
      sum += term / (2 * i + 1);
      term *= (-t * t) / (i + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let cf = t;
  for (let n = 60; n >= 1; n--) cf = t + n / 2 / cf;
  return Math.sign(x) * (1 - Math.exp(-t * t) / (Math.sqrt(Math.PI) * cf));
}
