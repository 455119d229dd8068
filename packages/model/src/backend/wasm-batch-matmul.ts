// A BatchMatMul kernel for the wasm backend that keeps every product on XNNPACK's fast path.
//
// tfjs-backend-wasm sends only a plain 2-D product (batch 1, no transpose flags) to XNNPACK; transposed operands and
// batches > 1 go to a generic loop ~10x slower (bench/FINDINGS.md). This kernel transposes operands explicitly (a
// cheap copy) and runs a batch as one XNNPACK call per item on views into the batched buffers (no copies): measured
// on attention's [96,64,64] x [96,64,64], 23.3 ms -> 5.9 ms CPU. Anything it does not cover goes to the stock kernel.
import * as tf from '@tensorflow/tfjs-core';

interface WasmBackendInternals {
  wasm: {
    cwrap: (name: string, ret: null, args: string[]) => (...args: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
  };
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } | undefined };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

type RawBatchMatMul = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: boolean,
  transposeB: boolean,
  outId: number,
) => void;

const shapeBytes = (shape: number[]): Uint8Array => new Uint8Array(new Int32Array(shape).buffer);
const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

let raw: RawBatchMatMul | undefined;

/** Swaps the last two axes of x through the wasm Transpose kernel; the caller disposes the result. */
function transposeLastTwo(x: tf.TensorInfo, backend: WasmBackendInternals): tf.TensorInfo {
  const transpose = tf.getKernel('Transpose', 'wasm')!;
  const rank = x.shape.length;
  const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
  return transpose.kernelFunc({ inputs: { x }, backend: backend as never, attrs: { perm } }) as tf.TensorInfo;
}

/**
 * out[i] = a[i] @ b[i] for a [n, m, k] and b [n or 1, k, p] (row-major, not transposed), one XNNPACK call per item
 * on tensor ids registered over slices of the inputs' and output's wasm memory.
 */
function productsOnViews(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  n: number,
  m: number,
  k: number,
  p: number,
  bBatch: number,
  backend: WasmBackendInternals,
): tf.TensorInfo {
  const out = backend.makeOutput([n, m, p], 'float32');
  const aData = backend.dataIdMap.get(a.dataId)!;
  const bData = backend.dataIdMap.get(b.dataId)!;
  const outData = backend.dataIdMap.get(out.dataId)!;
  const aShape = shapeBytes([1, m, k]);
  const bShape = shapeBytes([1, k, p]);
  const { tfjs } = backend.wasm;
  for (let i = 0; i < n; i++) {
    const aId = backend.dataIdNextNumber++;
    const bId = bBatch === 1 ? bData.id : backend.dataIdNextNumber++;
    const outId = backend.dataIdNextNumber++;
    tfjs.registerTensor(aId, m * k, aData.memoryOffset + i * m * k * 4);
    if (bBatch !== 1) tfjs.registerTensor(bId, k * p, bData.memoryOffset + i * k * p * 4);
    tfjs.registerTensor(outId, m * p, outData.memoryOffset + i * m * p * 4);
    raw!(aId, aShape, 3, bId, bShape, 3, false, false, outId);
    // Forgets the views (and XNNPACK's cached operator for them); the memory stays owned by the real tensors.
    tfjs.disposeData(aId);
    if (bBatch !== 1) tfjs.disposeData(bId);
    tfjs.disposeData(outId);
  }
  return out;
}

/** Registers the kernel for 'wasm' once; call after the wasm backend has been initialised. */
export function installFastWasmBatchMatMul(): void {
  const stock = tf.getKernel('BatchMatMul', 'wasm');
  if (!stock || (stock as { aimFast?: boolean }).aimFast) return;
  const kernelFunc: tf.KernelFunc = (args) => {
    const a = args.inputs.a as tf.TensorInfo;
    const b = args.inputs.b as tf.TensorInfo;
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const backend = args.backend as unknown as WasmBackendInternals;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const batchA = size(a.shape.slice(0, -2));
    const batchB = size(b.shape.slice(0, -2));
    const plain2d = batchA === 1 && batchB === 1 && !transposeA && !transposeB;
    // Covered: equal batch shapes, or a batch of `a` against one `b` matrix. Other broadcasts keep the stock kernel.
    const sameBatch = ra === rb && a.shape.slice(0, -2).every((d, i) => d === b.shape[i]);
    const empty = size(a.shape) === 0 || size(b.shape) === 0;
    const covered = a.dtype === 'float32' && b.dtype === 'float32' && (sameBatch || batchB === 1) && !plain2d && !empty;
    if (!covered) return stock.kernelFunc(args);
    raw ??= backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']) as RawBatchMatMul;

    const temps: tf.TensorInfo[] = [];
    const aN = transposeA ? transposeLastTwo(a, backend) : a; // [..., m, k]
    const bN = transposeB ? transposeLastTwo(b, backend) : b; // [..., k, p]
    if (transposeA) temps.push(aN);
    if (transposeB) temps.push(bN);
    const [m, k] = aN.shape.slice(-2);
    const p = bN.shape[bN.shape.length - 1];
    let out: tf.TensorInfo;
    if (batchB === 1) {
      // Every row of every batch item meets the same b: one [batchA * m, k] @ [k, p] product.
      out = productsOnViews(aN, bN, 1, batchA * m, k, p, 1, backend);
    } else {
      out = productsOnViews(aN, bN, batchA, m, k, p, batchB, backend);
    }
    for (const t of temps) backend.disposeData(t.dataId);
    const batchShape = (ra >= rb ? a.shape : b.shape).slice(0, -2);
    (out as { shape: number[] }).shape = [...batchShape, m, p];
    return out;
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ ...stock, kernelFunc, aimFast: true } as tf.KernelConfig);
}
