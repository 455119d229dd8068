// AIM's normalised-pixel loss and its gradient in one pass: per prediction row i (for patch i+1), standardise target
// patch i+1 (unbiased variance, eps 1e-6), weight by "target not in the prefix", write the row's share of the loss and
// overwrite the prediction with d loss / d prediction. The loss scale (1 / weighted positions of the whole step) comes
// from the per-step uniform, so accumulated micro-batches add up to the loss of the global batch.
// References: AIM paper Eq. 2 and Sec. 3; apple/ml-l3m loss/mae_loss.py (RasterPixelLoss).
import { type BufferDesc, type Dispatch, type ProgramBuilder, ceilDiv, grid1d } from '../program.js';
import { STAT } from './optimizer.js';
import { ROW_OF_GRID, defineKernel, workgroupSumWgsl } from './wgsl.js';

const WG = 64;
export const TARGET_EPS = 1e-6;

function lossKernel(k: number, pd: number) {
  const c = ceilDiv(pd, WG);
  return defineKernel(
    'pixel_loss',
    [
      ['rows', 'u32'],
      ['gridX', 'u32'],
    ],
    [
      { name: 'Pred', kind: 'rw' },
      { name: 'Patches', kind: 'read' },
      { name: 'prefix', kind: 'read', element: 'u32' },
      { name: 'step', kind: 'step' },
      { name: 'LossRows', kind: 'rw' },
      { name: 'Stats', kind: 'read' },
    ],
    /* wgsl */ `
const KK = ${k}u;
const PD = ${pd}u;
${workgroupSumWgsl(WG)}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let row = ${ROW_OF_GRID};
  if (row >= p.rows) { return; }
  let i = row % KK;
  let base = row * PD;
  if (i == KK - 1u) {
    // The last position predicts nothing.
    for (var j = 0u; j < ${c}u; j = j + 1u) { let col = tid + j * ${WG}u; if (col < PD) { Pred[base + col] = 0.0; } }
    if (tid == 0u) { LossRows[row] = 0.0; }
    return;
  }
  var t: array<f32, ${c}>;
  var s = 0.0;
  for (var j = 0u; j < ${c}u; j = j + 1u) {
    let col = tid + j * ${WG}u;
    if (col < PD) { t[j] = Patches[base + PD + col]; s = s + t[j]; }
  }
  let mean = wg_sum(s, tid) / f32(PD);
  var q = 0.0;
  for (var j = 0u; j < ${c}u; j = j + 1u) {
    let col = tid + j * ${WG}u;
    if (col < PD) { t[j] = t[j] - mean; q = q + t[j] * t[j]; }
  }
  let rstd = inverseSqrt(wg_sum(q, tid) / f32(PD - 1u) + ${TARGET_EPS});
  var w = 0.0;
  if (i + 1u >= prefix[row / KK]) { w = 1.0; }
  var e = 0.0;
  // The backward's seed is scaled: by the step's gradScale, or with dynamic loss scaling by the scale in Stats.
  let g = w * 2.0 / f32(PD) * step.lossScale * select(step.gradScale, Stats[${STAT.lossScale}], step.growthInterval > 0.0);
  for (var j = 0u; j < ${c}u; j = j + 1u) {
    let col = tid + j * ${WG}u;
    if (col < PD) {
      let diff = Pred[base + col] - t[j] * rstd;
      e = e + diff * diff;
      Pred[base + col] = g * diff;
    }
  }
  let sq = wg_sum(e, tid);
  if (tid == 0u) { LossRows[row] = w * (sq / f32(PD)) * step.lossScale; }
}
`,
  );
}

const cache = new Map<string, ReturnType<typeof defineKernel>>();

/** pred [B*K, P] -> d loss / d pred (in place); lossRows [B*K] <- each row's scaled share of the loss. */
export function pixelLoss(
  pb: ProgramBuilder,
  a: { batch: number; k: number; patchDim: number; pred: BufferDesc; patches: BufferDesc; prefix: BufferDesc; lossRows: BufferDesc; stats: BufferDesc },
): Dispatch {
  const key = `${a.k}/${a.patchDim}`;
  let kernel = cache.get(key);
  if (!kernel) cache.set(key, (kernel = lossKernel(a.k, a.patchDim)));
  const rows = a.batch * a.k;
  const grid = grid1d(rows);
  return pb.dispatch(kernel, [rows, grid[0]], [a.pred, a.patches, a.prefix, null, a.lossRows, a.stats], grid);
}

/**
 * Reference in float64: the loss over one micro-batch scaled by `lossScale`, and d(scaled loss) / d pred.
 * patches, pred: [B, K, P]; prefix: [B].
 */
export function pixelLossReference(
  pred: Float32Array,
  patches: Float32Array,
  prefix: ArrayLike<number>,
  k: number,
  pd: number,
  lossScale: number,
): { loss: number; grad: Float32Array } {
  const grad = new Float32Array(pred.length);
  let loss = 0;
  for (let b = 0; b < prefix.length; b++) {
    for (let i = 0; i < k - 1; i++) {
      const w = i + 1 >= prefix[b] ? 1 : 0;
      const t = patches.subarray((b * k + i + 1) * pd, (b * k + i + 2) * pd);
      const mean = t.reduce((x, y) => x + y, 0) / pd;
      const v = t.reduce((x, y) => x + (y - mean) ** 2, 0) / (pd - 1);
      const rstd = 1 / Math.sqrt(v + TARGET_EPS);
      let e = 0;
      for (let c = 0; c < pd; c++) {
        const diff = pred[(b * k + i) * pd + c] - (t[c] - mean) * rstd;
        e += diff * diff;
        grad[(b * k + i) * pd + c] = ((w * 2) / pd) * lossScale * diff;
      }
      loss += ((w * e) / pd) * lossScale;
    }
  }
  return { loss, grad };
}
