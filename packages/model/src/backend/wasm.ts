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

export const WASM_FILES = [
  'tfjs-backend-wasm.wasm',
  'tfjs-backend-wasm-simd.wasm',
  'tfjs-backend-wasm-threaded-simd.wasm',
] as const;

let configured = false;

/** The folder holding the .wasm files: AIM_WASM_DIR (for bundles run elsewhere), else the installed package's dist/. */
export function wasmDirectory(): string {
  const fromEnv = process.env.AIM_WASM_DIR;
  if (fromEnv) return fromEnv;
  const pkg = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return path.join(path.dirname(pkg), 'dist');
}

export interface WasmSetup {
  simd: boolean;
  threads: number;
}

/** Points the wasm backend at the files on disk (once, before its first initialisation) and says which build runs. */
export async function configureWasmBackend(): Promise<WasmSetup> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!configured) {
    const dir = wasmDirectory();
    const missing = WASM_FILES.filter((f) => !existsSync(path.join(dir, f)));
    if (missing.length > 0) throw new Error(`wasm backend: ${missing.join(', ')} not found in ${dir} (set AIM_WASM_DIR)`);
    // A plain path prefix: in Node the wasm loader reads it with fs, never fetch.
    wasm.setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
    configured = true;
  }
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
  return { simd, threads: 1 };
}
