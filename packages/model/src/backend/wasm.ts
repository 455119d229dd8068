// The wasm backend (XNNPACK) loaded from the package's own .wasm files on disk, so nothing is fetched at run time.
//
// Which build runs in Node 20 (measured, 1024^3 matmul, one core): tfjs-backend-wasm-simd.wasm ~29 GFLOP/s, the plain
// build ~11 GFLOP/s; SIMD is detected with WebAssembly.validate and used by default. The threaded-SIMD build does not
// start in Node: tfjs turns WASM_HAS_MULTITHREAD_SUPPORT off under Node (tfjs issue #3830), and forcing it on fails
// with ERR_WORKER_PATH because Emscripten hands node:worker_threads a blob: URL. So Node runs single-threaded SIMD.
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { installFastWasmBatchMatMul } from './wasm-batch-matmul.js';

export const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;

let configured = false;

/** The folder holding the .wasm files: AIM_WASM_DIR (for bundles run elsewhere), else the installed package's dist/. */
export function wasmDirectory(): string {
  const fromEnv = process.env.AIM_WASM_DIR;
  if (fromEnv) return fromEnv;
  const pkg = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return path.join(path.dirname(pkg), 'dist');
}

/**
 * tfjs saves every tensor a gradient needs through an Identity kernel (engine.clone), and the wasm backend's Identity
 * copies the buffer; the cpu backend's shares it by reference count. Tensors are immutable and the wasm backend
 * counts references (its own Reshape shares buffers the same way), so sharing is safe. Measured on aim-dev-5M at
 * batch 32: ~450 Identity calls per training step, ~9% of the step's CPU time, plus a copy of each saved activation.
 */
function shareIdentityBuffers(): void {
  const original = tf.getKernel('Identity', 'wasm');
  if (!original || (original as { aimShared?: boolean }).aimShared) return;
  const kernelFunc: tf.KernelFunc = (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return original.kernelFunc(args);
    (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ ...original, kernelFunc, aimShared: true } as tf.KernelConfig);
}

/** Points the wasm backend at the files on disk (once, before its first initialisation) and says whether SIMD runs. */
export async function configureWasmBackend(): Promise<{ simd: boolean }> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!configured) {
    const dir = wasmDirectory();
    const missing = WASM_FILES.filter((f) => !existsSync(path.join(dir, f)));
    if (missing.length > 0) throw new Error(`wasm backend: ${missing.join(', ')} not found in ${dir} (set AIM_WASM_DIR)`);
    // A plain path prefix: in Node the wasm loader reads it with fs, never fetch.
    wasm.setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
    configured = true;
  }
  shareIdentityBuffers();
  installFastWasmBatchMatMul();
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
  return { simd };
}
