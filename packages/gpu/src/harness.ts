// Runs one-off programs on a device: upload arrays, run dispatches, read buffers back (the tile check, the tests).
import { type BufferDesc, type Op, ProgramBuilder } from './program.js';
import { Runtime } from './runtime.js';

export interface Harness {
  pb: ProgramBuilder;
  /** A storage buffer holding `data` once the program runs. */
  input(label: string, data: Float32Array | Uint32Array | Int32Array): BufferDesc;
  /** Builds the runtime, uploads inputs, runs `ops` (default: every dispatch in order), reads `outputs`. */
  run(outputs: BufferDesc[], ops?: Op[]): Promise<Float32Array[]>;
}

export function harness(device: GPUDevice): Harness {
  const pb = new ProgramBuilder();
  const uploads: [BufferDesc, ArrayBufferView][] = [];
  return {
    pb,
    input(label, data) {
      const b = pb.buffer(label, Math.max(1, data.length), 'io');
      uploads.push([b, data]);
      return b;
    },
    async run(outputs, ops) {
      const reads = outputs.map((o) => pb.buffer(`${o.label} readback`, o.bytes / 4, 'readback'));
      const rt = new Runtime(device, pb);
      try {
        for (const [b, data] of uploads) rt.write(b, data);
        const copies: Op[] = outputs.map((o, i) => ({ kind: 'copy', src: o, srcOffset: 0, dst: reads[i], dstOffset: 0, bytes: o.bytes }));
        rt.submit([...(ops ?? pb.dispatches), ...copies]);
        const out: Float32Array[] = [];
        for (let i = 0; i < outputs.length; i++) out.push(new Float32Array(await rt.read(reads[i], outputs[i].bytes)));
        return out;
      } finally {
        rt.destroy();
      }
    },
  };
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomArray(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** max |a - b| / max(max |b|, tiny): the relative error measure the tests gate on. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-30);
}
