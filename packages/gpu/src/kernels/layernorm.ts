// LayerNorm over rows of width D: forward (keeping each row's mean and 1/std for the backward) and backward (input
// gradient, plus per-workgroup partial sums of the weight and bias gradients that `colsum` finishes).
// Forward variants fold in what follows a norm in AIM: + position embedding (patch embedding) or x + LN(x) (the
// pretraining head's identity-attention blocks).
// References: torch.nn.LayerNorm (biased variance); llm.c layernorm_forward/backward.
import { type BufferDesc, type Dispatch, type ProgramBuilder, ceilDiv, grid1d } from '../program.js';
import { ROW_OF_GRID, defineKernel, workgroupSumWgsl } from './wgsl.js';

export type LayerNormForwardMode = 'plain' | 'addPos' | 'residual';
/** 'set': dx = LN'; 'accumulate': dx += LN'; 'dyIsOut': the gradient arrives in dx and leaves as dy + LN'(dy). */
export type LayerNormBackwardMode = 'set' | 'accumulate' | 'dyIsOut';

/** Rows each backward workgroup walks (its partial sums cover these rows). */
export const LN_BACKWARD_ROWS = 16;

const threadsFor = (d: number): number => (d >= 256 ? 256 : 64);

function forwardKernel(d: number, eps: number, mode: LayerNormForwardMode) {
  const wg = threadsFor(d);
  const c = ceilDiv(d, wg);
  const out = mode === 'addPos' ? 'y = y + pos[p.offPos + (row % p.posRows) * D + col];' : mode === 'residual' ? 'y = y + xs[j];' : '';
  return defineKernel(
    `layernorm_${mode}`,
    [
      ['rows', 'u32'],
      ['gridX', 'u32'],
      ['offX', 'u32'],
      ['offOut', 'u32'],
      ['offW', 'u32'],
      ['offStats', 'u32'],
      ['offPos', 'u32'],
      ['posRows', 'u32'],
    ],
    [
      { name: 'X', kind: 'read' },
      { name: 'Wt', kind: 'read' },
      { name: 'Out', kind: 'rw' },
      { name: 'Stats', kind: 'rw' },
      ...(mode === 'addPos' ? [{ name: 'pos', kind: 'read' as const }] : []),
    ],
    /* wgsl */ `
const D = ${d}u;
${workgroupSumWgsl(wg)}
@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let row = ${ROW_OF_GRID};
  if (row >= p.rows) { return; }  // uniform per workgroup: barriers below stay in uniform control flow
  let base = p.offX + row * D;
  var xs: array<f32, ${c}>;
  var s = 0.0;
  for (var j = 0u; j < ${c}u; j = j + 1u) {
    let col = tid + j * ${wg}u;
    var x = 0.0;
    if (col < D) { x = X[base + col]; }
    xs[j] = x;
    s = s + x;
  }
  let mean = wg_sum(s, tid) / f32(D);
  var q = 0.0;
  for (var j = 0u; j < ${c}u; j = j + 1u) {
    let col = tid + j * ${wg}u;
    if (col < D) { let c = xs[j] - mean; q = q + c * c; }
  }
  let rstd = inverseSqrt(wg_sum(q, tid) / f32(D) + ${eps});
  for (var j = 0u; j < ${c}u; j = j + 1u) {
    let col = tid + j * ${wg}u;
    if (col < D) {
      var y = (xs[j] - mean) * rstd * Wt[p.offW + col] + Wt[p.offW + D + col];
      ${out}
      Out[p.offOut + row * D + col] = y;
    }
  }
  if (tid == 0u) {
    Stats[p.offStats + row] = mean;
    Stats[p.offStats + p.rows + row] = rstd;
  }
}
`,
  );
}

function backwardKernel(d: number, mode: LayerNormBackwardMode) {
  const wg = threadsFor(d);
  const c = ceilDiv(d, wg);
  const readDy = mode === 'dyIsOut' ? 'Dx' : 'Dy';
  const write = mode === 'set' ? 'Dx[oi] = dx;' : mode === 'accumulate' ? 'Dx[oi] = Dx[oi] + dx;' : 'Dx[oi] = dys[j] + dx;';
  return defineKernel(
    `layernorm_backward_${mode}`,
    [
      ['rows', 'u32'],
      ['offX', 'u32'],
      ['offDy', 'u32'],
      ['offDx', 'u32'],
      ['offW', 'u32'],
      ['offStats', 'u32'],
      ['offPart', 'u32'],
    ],
    [
      { name: 'X', kind: 'read' },
      ...(mode === 'dyIsOut' ? [] : [{ name: 'Dy', kind: 'read' as const }]),
      { name: 'Wt', kind: 'read' },
      { name: 'Dx', kind: 'rw' },
      { name: 'Stats', kind: 'read' },
      { name: 'Part', kind: 'rw' },
    ],
    /* wgsl */ `
const D = ${d}u;
${workgroupSumWgsl(wg, 'vec2<f32>')}
@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  var pg: array<f32, ${c}>;
  var pb: array<f32, ${c}>;
  var dys: array<f32, ${c}>;
  var xh: array<f32, ${c}>;
  let first = wg.x * ${LN_BACKWARD_ROWS}u;
  let last = min(first + ${LN_BACKWARD_ROWS}u, p.rows);
  for (var row = first; row < last; row = row + 1u) {
    let mean = Stats[p.offStats + row];
    let rstd = Stats[p.offStats + p.rows + row];
    var s = vec2<f32>(0.0, 0.0);
    for (var j = 0u; j < ${c}u; j = j + 1u) {
      let col = tid + j * ${wg}u;
      if (col < D) {
        let dy = ${readDy}[p.offDy + row * D + col];
        let xhat = (X[p.offX + row * D + col] - mean) * rstd;
        dys[j] = dy;
        xh[j] = xhat;
        let g = dy * Wt[p.offW + col];
        s = s + vec2<f32>(g, g * xhat);
        pg[j] = pg[j] + dy * xhat;
        pb[j] = pb[j] + dy;
      }
    }
    let t = wg_sum(s, tid) / f32(D);
    for (var j = 0u; j < ${c}u; j = j + 1u) {
      let col = tid + j * ${wg}u;
      if (col < D) {
        let dx = rstd * (dys[j] * Wt[p.offW + col] - t.x - xh[j] * t.y);
        let oi = p.offDx + row * D + col;
        ${write}
      }
    }
  }
  for (var j = 0u; j < ${c}u; j = j + 1u) {
    let col = tid + j * ${wg}u;
    if (col < D) {
      Part[p.offPart + wg.x * 2u * D + col] = pg[j];
      Part[p.offPart + wg.x * 2u * D + D + col] = pb[j];
    }
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

export interface LayerNormForward {
  rows: number;
  width: number;
  eps: number;
  mode: LayerNormForwardMode;
  x: BufferDesc;
  offX?: number;
  /** The parameter chunk holding weight then bias, adjacent. */
  weights: BufferDesc;
  offW: number;
  out: BufferDesc;
  offOut?: number;
  /** Receives mean (rows values) then 1/std (rows values) from offStats. */
  stats: BufferDesc;
  offStats?: number;
  pos?: BufferDesc;
  posRows?: number;
}

export function layerNormForward(pb: ProgramBuilder, a: LayerNormForward): Dispatch {
  const kernel = cached(`f${a.width}/${a.eps}/${a.mode}`, () => forwardKernel(a.width, a.eps, a.mode));
  if ((a.mode === 'addPos') !== (a.pos !== undefined)) throw new Error('layerNormForward: addPos needs pos');
  const grid = grid1d(a.rows);
  const buffers = [a.x, a.weights, a.out, a.stats, ...(a.pos ? [a.pos] : [])];
  return pb.dispatch(kernel, [a.rows, grid[0], a.offX ?? 0, a.offOut ?? 0, a.offW, a.offStats ?? 0, 0, a.posRows ?? 1], buffers, grid);
}

export interface LayerNormBackward {
  rows: number;
  width: number;
  mode: LayerNormBackwardMode;
  /** The forward's input. */
  x: BufferDesc;
  offX?: number;
  /** Gradient of the forward's output (not used in 'dyIsOut' mode: it is read from dx). */
  dy?: BufferDesc;
  offDy?: number;
  weights: BufferDesc;
  offW: number;
  dx: BufferDesc;
  offDx?: number;
  stats: BufferDesc;
  offStats?: number;
  /** [ceil(rows / LN_BACKWARD_ROWS), 2 * width]: per-workgroup weight-gradient then bias-gradient sums. */
  partials: BufferDesc;
}

/** Workgroups (= partial-sum rows) of a backward over `rows`. */
export const layerNormPartialRows = (rows: number): number => ceilDiv(rows, LN_BACKWARD_ROWS);

export function layerNormBackward(pb: ProgramBuilder, a: LayerNormBackward): Dispatch {
  const kernel = cached(`b${a.width}/${a.mode}`, () => backwardKernel(a.width, a.mode));
  if ((a.mode === 'dyIsOut') !== (a.dy === undefined)) throw new Error('layerNormBackward: dy is read from dx only in dyIsOut mode');
  const buffers = [a.x, ...(a.dy ? [a.dy] : []), a.weights, a.dx, a.stats, a.partials];
  const offDy = a.mode === 'dyIsOut' ? (a.offDx ?? 0) : (a.offDy ?? 0);
  return pb.dispatch(kernel, [a.rows, a.offX ?? 0, offDy, a.offDx ?? 0, a.offW, a.offStats ?? 0, 0], buffers, [layerNormPartialRows(a.rows)]);
}

/** Reference forward: returns y (with the mode's addition), mean and 1/std per row. */
export function layerNormForwardReference(
  x: Float32Array,
  rows: number,
  d: number,
  w: Float32Array,
  b: Float32Array,
  eps: number,
  extra?: { mode: 'addPos'; pos: Float32Array; posRows: number } | { mode: 'residual' },
): { y: Float32Array; mean: Float32Array; rstd: Float32Array } {
  const y = new Float32Array(rows * d);
  const mean = new Float32Array(rows);
  const rstd = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += x[r * d + c];
    const m = s / d;
    let q = 0;
    for (let c = 0; c < d; c++) q += (x[r * d + c] - m) ** 2;
    const rs = 1 / Math.sqrt(q / d + eps);
    mean[r] = m;
    rstd[r] = rs;
    for (let c = 0; c < d; c++) {
      let v = (x[r * d + c] - m) * rs * w[c] + b[c];
      if (extra?.mode === 'addPos') v += extra.pos[(r % extra.posRows) * d + c];
      if (extra?.mode === 'residual') v += x[r * d + c];
      y[r * d + c] = v;
    }
  }
  return { y, mean, rstd };
}

/** Reference backward of y = LN(x): dx, dweight, dbias. */
export function layerNormBackwardReference(
  x: Float32Array,
  dy: Float32Array,
  rows: number,
  d: number,
  w: Float32Array,
  eps: number,
): { dx: Float32Array; dw: Float32Array; db: Float32Array } {
  const dx = new Float32Array(rows * d);
  const dw = new Float32Array(d);
  const db = new Float32Array(d);
  const { mean, rstd } = layerNormForwardReference(x, rows, d, w, new Float32Array(d), eps);
  for (let r = 0; r < rows; r++) {
    let s1 = 0;
    let s2 = 0;
    for (let c = 0; c < d; c++) {
      const xh = (x[r * d + c] - mean[r]) * rstd[r];
      const g = dy[r * d + c] * w[c];
      s1 += g;
      s2 += g * xh;
      dw[c] += dy[r * d + c] * xh;
      db[c] += dy[r * d + c];
    }
    for (let c = 0; c < d; c++) {
      const xh = (x[r * d + c] - mean[r]) * rstd[r];
      dx[r * d + c] = rstd[r] * (dy[r * d + c] * w[c] - s1 / d - (xh * s2) / d);
    }
  }
  return { dx, dw, db };
}
