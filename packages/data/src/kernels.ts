// The worker's WebAssembly kernels (assembly/kernels.ts, compiled to wasm/kernels.wasm by `npm ci` at the repository
// root or `npx nx run data:wasm`): one instance per thread, and the byte layout of a call's buffers in its memory.

import { readFileSync } from 'node:fs';

// The slice of the WebAssembly API used here (this project's lib settings carry no WebAssembly typings).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
};

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

export interface Kernels {
  memory: WasmMemory;
  horizontal(src: number, srcStride: number, rows: number, outWidth: number, start: number, count: number, weights: number, taps: number, dst: number): void;
  vertical(src: number, rowBytes: number, outRows: number, start: number, count: number, weights: number, taps: number, dst: number): void;
  normalizedPatches(src: number, width: number, height: number, channels: number, patch: number, flip: number, table: number, dst: number): void;
  /** Grows the memory to hold at least `bytes` (views on the old buffer are then detached: make them after this). */
  reserve(bytes: number): void;
}

/** An image in the kernels' memory: where its bytes start, and its shape (valid until the memory is reused). */
export interface KernelImage {
  at: number;
  width: number;
  height: number;
  channels: number;
}

/** Byte offsets of the buffers of one call, 16-byte aligned, each followed by the 16 bytes the kernels may overrun. */
export class Layout {
  end = 0;
  bytes(n: number): number {
    const at = this.end;
    this.end = Math.ceil((at + n + 16) / 16) * 16;
    return at;
  }
  ints(n: number): number {
    return this.bytes(4 * n);
  }
}

const WASM_URL = new URL('../wasm/kernels.wasm', import.meta.url);
let instance: Kernels | undefined;

/** The kernels of this thread, instantiated on first use (the module is about 1 KB). */
export function kernels(): Kernels {
  if (instance) return instance;
  let bytes: Buffer;
  try {
    bytes = readFileSync(WASM_URL);
  } catch (err) {
    throw new Error(
      `@aim/data: the WebAssembly kernels ${WASM_URL.pathname} are missing (${(err as Error).message}); ` +
        'they are built from assembly/kernels.ts by `npm ci` at the repository root or `npx nx run data:wasm`',
    );
  }
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as Omit<Kernels, 'reserve'>;
  const memory = exports.memory;
  instance = {
    memory,
    horizontal: exports.horizontal,
    vertical: exports.vertical,
    normalizedPatches: exports.normalizedPatches,
    reserve(n: number) {
      const missing = n - memory.buffer.byteLength;
      if (missing > 0) memory.grow(Math.ceil(missing / 65536));
    },
  };
  return instance;
}
