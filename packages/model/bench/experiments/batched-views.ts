// Experiment: run a batched matmul on wasm as per-item XNNPACK calls over views into the batched buffers (no copies).
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/index.js';
import { stopwatch } from '../timing.js';

await selectBackend('wasm');
interface WasmBackendInternals {
  wasm: {
    cwrap: (name: string, ret: null, args: string[]) => (...a: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
    HEAPU8: Uint8Array;
  };
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
}
const backend = tf.backend() as unknown as WasmBackendInternals;
const mm = backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
const shapeBytes = (s: number[]) => new Uint8Array(new Int32Array(s).buffer);

/** a [n, m, k] @ b [n, k, p] -> [n, m, p] as n XNNPACK calls on views. */
function batchedViaViews(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const [n, m, k] = a.shape;
  const p = b.shape[2];
  const out = tf.zeros([n, m, p]) as tf.Tensor3D; // a fresh buffer to write into
  const aOff = backend.dataIdMap.get(a.dataId).memoryOffset;
  const bOff = backend.dataIdMap.get(b.dataId).memoryOffset;
  const oOff = backend.dataIdMap.get(out.dataId).memoryOffset;
  const aShape = shapeBytes([1, m, k]);
  const bShape = shapeBytes([1, k, p]);
  for (let i = 0; i < n; i++) {
    const ids = [backend.dataIdNextNumber++, backend.dataIdNextNumber++, backend.dataIdNextNumber++];
    backend.wasm.tfjs.registerTensor(ids[0], m * k, aOff + i * m * k * 4);
    backend.wasm.tfjs.registerTensor(ids[1], k * p, bOff + i * k * p * 4);
    backend.wasm.tfjs.registerTensor(ids[2], m * p, oOff + i * m * p * 4);
    mm(ids[0], aShape, 3, ids[1], bShape, 3, false, false, ids[2]);
    for (const id of ids) backend.wasm.tfjs.disposeData(id);
  }
  return out;
}

const q = tf.randomNormal([96, 64, 64], 0, 1, 'float32', 1) as tf.Tensor3D;
const kT = tf.randomNormal([96, 64, 64], 0, 1, 'float32', 2) as tf.Tensor3D;
const ref = tf.matMul(q, kT);
const got = batchedViaViews(q, kT);
console.log('max abs diff', tf.max(tf.abs(tf.sub(ref, got))).dataSync()[0]);
for (const [name, f] of [
  ['batched (stock)', () => tf.matMul(q, kT)],
  ['views + XNNPACK', () => batchedViaViews(q, kT)],
] as const) {
  for (let w = 0; w < 2; w++) f().dispose();
  const heap0 = backend.wasm.HEAPU8.length;
  const el = stopwatch();
  for (let r = 0; r < 50; r++) f().dispose();
  const { cpu } = el();
  console.log(
    name.padEnd(20),
    ((cpu / 50) * 1000).toFixed(2),
    'ms CPU',
    ((2 * 96 * 64 ** 3) / (cpu / 50) / 1e9).toFixed(1),
    'GFLOP/s; heap grew',
    backend.wasm.HEAPU8.length - heap0,
  );
}
